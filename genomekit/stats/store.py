"""The stats directory: a manifest, Parquet shards and the accumulated sums.

(Over 500 lines on purpose: the on-disk format and everything that reads or writes it -- schema,
shard writing and checking, manifests, totals, loading -- kept as one specification of the format.)

Layout (see docs/STATS.md)::

    STATS/
      manifest.json              run identity, shard list (rows, bytes, sha256), runs and their throughput
      manifest.rank-00001.json   progress of rank 1 while a multi-process run is going (merged at the end)
      shards/part-00000.parquet  chunk 0: one row per sample
      sums.safetensors           sums (G, V, A) f64, counts (G, V) i64, realness_sums (G, V) f64

A shard row is ``sample_id`` (int64), ``gene_000`` .. ``gene_{G-1}`` (uint16 variant indices), one
float32 column per attribute named as the attribute (classifier probability), and ``realness``
(float32, the discriminator's logit). Chunk ``c`` holds the samples ``c * chunk_size`` onwards.

Every file is written under a temporary name, fsynced and renamed, so a reader sees either nothing
or a complete file; the manifest only lists a shard once it is complete, with its checksum.

Every reader of a complete directory (``load_stats``) checks each shard's presence, size and sha256
first, every time, and names the first bad one. This costs 0.2-0.4 s for 500,000 samples (126 MB of
shards, 32 genes, 40 attributes; cold and warm page cache on a 2-core VM), well under 0.1 s per 100,000
samples, so there is no cache of verification records: nothing is written beside the statistics
when they are read, and a read-only stats directory works.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor

from genomekit.errors import UserError
from genomekit.fileio import atomic_path, file_sha256, write_json
from genomekit.stats.estimate import variant_sums

log = logging.getLogger(__name__)

FORMAT = "genomekit-stats"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARDS_DIR = "shards"
SUMS_FILE = "sums.safetensors"
RESERVED_COLUMNS = ("sample_id", "realness")
_GENE_COLUMN = re.compile(r"^gene_\d+$")
_FRAGMENT = re.compile(r"^manifest\.rank-(\d{5})\.json$")


# --------------------------------------------------------------------------------------------------
# Identity of a run: what must match to add shards to an existing stats directory.


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunIdentity:
    model: str  # checkpoint identity of the generator (and its discriminator)
    classifiers: str  # identity of the classifier set
    attributes: tuple[str, ...]  # A attribute names, in column order
    genome_shape: tuple[int, int, int]  # (G, V, D)
    seed: int  # root of the per-chunk SeedSequence
    chunk_size: int  # samples per chunk (= per shard)
    precision: str = "fp32"  # inference precision (genomekit.precision); directories before it: fp32

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "classifiers": self.classifiers,
            "attributes": list(self.attributes),
            "genome_shape": list(self.genome_shape),
            "seed": self.seed,
            "chunk_size": self.chunk_size,
            "precision": self.precision,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RunIdentity:
        return cls(
            model=str(obj["model"]),
            classifiers=str(obj["classifiers"]),
            attributes=tuple(obj["attributes"]),
            genome_shape=tuple(int(x) for x in obj["genome_shape"]),  # type: ignore[arg-type]
            seed=int(obj["seed"]),
            chunk_size=int(obj["chunk_size"]),
            precision=str(obj.get("precision", "fp32")),
        )

    def differences(self, other: RunIdentity) -> list[str]:
        """Human-readable list of what differs between ``self`` (stored) and ``other`` (requested)."""
        names = {
            "model": "model",
            "classifiers": "classifier set",
            "attributes": "attributes",
            "genome_shape": "genome shape (G, V, D)",
            "seed": "seed",
            "chunk_size": "chunk size",
            "precision": "precision",
        }
        out = []
        for field, label in names.items():
            stored, requested = getattr(self, field), getattr(other, field)
            if stored != requested:
                out.append(f"{label}: stored {_short(stored)}, requested {_short(requested)}")
        return out


def _short(value: Any) -> str:
    if isinstance(value, tuple) and len(value) > 6 and all(isinstance(v, str) for v in value):
        return f"{len(value)} names ({', '.join(value[:3])}, ...)"
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def check_attribute_names(attributes: Sequence[str]) -> None:
    """Attribute names become Parquet columns: they must be unique and not clash with the fixed ones."""
    if len(set(attributes)) != len(attributes):
        raise UserError(f"the classifier set has duplicate attribute names: {list(attributes)}")
    for name in attributes:
        if not name or name in RESERVED_COLUMNS or _GENE_COLUMN.match(name):
            raise UserError(
                f"attribute name {name!r} cannot be a shard column; names must be non-empty and not "
                f"{', '.join(RESERVED_COLUMNS)} or gene_NNN"
            )


# --------------------------------------------------------------------------------------------------
# Shards.


def shard_file(chunk: int) -> str:
    """Path of chunk ``chunk``'s shard, relative to the stats directory."""
    return f"{SHARDS_DIR}/part-{chunk:05d}.parquet"


def gene_columns(num_genes: int) -> list[str]:
    return [f"gene_{i:03d}" for i in range(num_genes)]


def shard_schema(num_genes: int, attributes: Sequence[str]) -> pa.Schema:
    fields = [pa.field("sample_id", pa.int64(), nullable=False)]
    fields += [pa.field(name, pa.uint16(), nullable=False) for name in gene_columns(num_genes)]
    fields += [pa.field(name, pa.float32(), nullable=False) for name in attributes]
    fields.append(pa.field("realness", pa.float32(), nullable=False))
    return pa.schema(fields)


def write_shard(
    stats_dir: Path,
    chunk: int,
    first_sample_id: int,
    genes: Tensor,
    scores: Tensor,
    realness: Tensor,
    attributes: Sequence[str],
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write one shard atomically and return its manifest entry.

    Args:
        stats_dir: the stats directory.
        chunk: chunk index; the file is ``shards/part-{chunk:05d}.parquet``.
        first_sample_id: ``sample_id`` of the first row; rows are numbered consecutively.
        genes: (n, G) variant indices, each < 65536.
        scores: (n, A) attribute probabilities.
        realness: (n,) discriminator logits.
        attributes: A column names for ``scores``.
        metadata: JSON-able key-value metadata stored in the Parquet footer under ``genomekit``.

    Returns:
        ``{"chunk", "file", "rows", "first_sample_id", "bytes", "sha256"}``.
    """
    rows, num_genes = genes.shape
    if scores.shape != (rows, len(attributes)) or realness.shape != (rows,):
        raise ValueError(
            f"shapes disagree: genes {tuple(genes.shape)}, scores {tuple(scores.shape)}, realness {tuple(realness.shape)}"
        )
    genes_t = genes.detach().cpu().t().contiguous().numpy().astype(np.uint16)  # (G, n)
    scores_t = scores.detach().cpu().t().contiguous().to(torch.float32).numpy()  # (A, n)
    columns: list[pa.Array] = [pa.array(np.arange(first_sample_id, first_sample_id + rows, dtype=np.int64))]
    columns += [pa.array(genes_t[i]) for i in range(num_genes)]
    columns += [pa.array(scores_t[a]) for a in range(len(attributes))]
    columns.append(pa.array(realness.detach().cpu().to(torch.float32).numpy()))
    schema = shard_schema(num_genes, attributes).with_metadata({"genomekit": json.dumps(metadata or {})})
    table = pa.Table.from_arrays(columns, schema=schema)
    relative = shard_file(chunk)
    with atomic_path(stats_dir / relative) as tmp:
        pq.write_table(table, tmp, compression="snappy")
        size, sha = tmp.stat().st_size, file_sha256(tmp)
    return {
        "chunk": chunk,
        "file": relative,
        "rows": rows,
        "first_sample_id": first_sample_id,
        "bytes": size,
        "sha256": sha,
    }


def read_shard(path: str | Path, num_genes: int, attributes: Sequence[str]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Read a shard back.

    Returns:
        sample_ids (n,) int64, genes (n, G) int64, scores (n, A) float32, realness (n,) float32.
    """
    table = pq.read_table(path)
    expected = shard_schema(num_genes, attributes)
    if not table.schema.remove_metadata().equals(expected):
        raise UserError(
            f"shard {path} does not have the expected columns (G={num_genes}, {len(attributes)} attributes)"
        )

    def column(name: str) -> np.ndarray:
        return table.column(name).to_numpy()

    sample_ids = torch.from_numpy(np.array(column("sample_id")))  # copies: Arrow buffers are read-only
    genes_t = np.stack([column(c) for c in gene_columns(num_genes)], axis=0).astype(np.int64)  # (G, n)
    genes = torch.from_numpy(genes_t).t()  # (n, G) view; variant_sums works on the (G, n) rows
    scores = torch.from_numpy(np.stack([column(a) for a in attributes], axis=1).astype(np.float32, copy=False))
    realness = torch.from_numpy(np.array(column("realness"), dtype=np.float32))
    return sample_ids, genes, scores.reshape(len(sample_ids), len(attributes)), realness


def check_shard(stats_dir: Path, entry: dict[str, Any], expected_rows: int) -> str | None:
    """Why the shard of ``entry`` cannot be reused (missing, truncated, corrupt, other size), or None."""
    if not (stats_dir / entry["file"]).is_file():
        return "missing"
    if int(entry["rows"]) != expected_rows:
        return f"holds {entry['rows']} rows where {expected_rows} are needed"
    return shard_damage(stats_dir, entry)


def shard_damage(stats_dir: Path, entry: dict[str, Any]) -> str | None:
    """Why the file of ``entry`` is not the one the manifest recorded (missing, other size, other sha256), or None."""
    path = stats_dir / entry["file"]
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != int(entry["bytes"]):
        return f"truncated or changed ({size} bytes, manifest says {entry['bytes']})"
    if file_sha256(path) != entry["sha256"]:
        return "corrupt (sha256 mismatch)"
    return None


def damaged_shards(stats_dir: str | Path, manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """The shards of a complete stats directory that cannot be read as recorded, in chunk order.

    Every chunk of ``samples_requested`` must be listed with the rows it needs, and every listed file
    must have the recorded size and sha256 (every file is hashed: ~0.05 s per 100,000 samples).

    Returns:
        ``(file, reason)`` pairs, e.g. ``("shards/part-00003.parquet", "corrupt (sha256 mismatch)")``;
        empty when all is well.
    """
    stats_dir = Path(stats_dir)
    identity = RunIdentity.from_json(manifest["identity"])
    samples = int(manifest["samples_requested"])
    entries = known_shards([manifest])
    damaged = []
    for chunk in range(num_chunks(samples, identity.chunk_size)):
        entry = entries.get(chunk)
        if entry is None:
            damaged.append((shard_file(chunk), "not listed in the manifest"))
            continue
        reason = check_shard(stats_dir, entry, expected_rows(chunk, samples, identity.chunk_size))
        if reason is not None:
            damaged.append((entry["file"], reason))
    return damaged


def repair_hint(stats_dir: Path, manifest: dict[str, Any]) -> str:
    """How to repair a damaged stats directory: rerun collect-stats with the values it was made with.

    collect-stats, run again on a directory of the same run identity, checks every shard against its
    size and sha256, regenerates only the missing or damaged ones (deterministically: the same rows)
    and rewrites the sums.
    """
    identity = RunIdentity.from_json(manifest["identity"])
    source = manifest.get("classifier_source")
    classifiers = f"classifier set {source!r}" if source else "the same classifier set"
    return (
        f"rerun the collect-stats command that created it (--out {stats_dir} --samples "
        f"{manifest['samples_requested']} --seed {identity.seed} --chunk-size {identity.chunk_size}, with the "
        f"model of identity {identity.model} and {classifiers}): it checks every shard and regenerates only "
        "the damaged ones"
    )


# --------------------------------------------------------------------------------------------------
# Totals: the summable statistics.


@dataclasses.dataclass
class VariantTotals:
    """Summable per-variant statistics, accumulated sample by sample in sample order.

    ``values`` keeps the attribute sums and the realness sums side by side, so one pass adds both.
    ``add_samples`` accumulates in place; ``+`` combines totals of disjoint sample sets.
    """

    values: Tensor  # (G, V, A + 1) float64: attribute sums, then the realness sum
    counts: Tensor  # (G, V) int64, samples per (gene, variant)
    samples: int  # N, samples behind the totals

    @property
    def sums(self) -> Tensor:
        """(G, V, A) summed attribute probabilities."""
        return self.values[..., :-1]

    @property
    def realness_sums(self) -> Tensor:
        """(G, V) summed discriminator logits."""
        return self.values[..., -1]

    @classmethod
    def zeros(cls, num_genes: int, num_variants: int, num_attributes: int) -> VariantTotals:
        return cls(
            values=torch.zeros(num_genes, num_variants, num_attributes + 1, dtype=torch.float64),
            counts=torch.zeros(num_genes, num_variants, dtype=torch.int64),
            samples=0,
        )

    @classmethod
    def from_parts(cls, sums: Tensor, counts: Tensor, realness_sums: Tensor, samples: int) -> VariantTotals:
        values = torch.cat([sums.to(torch.float64), realness_sums.to(torch.float64).unsqueeze(-1)], dim=-1)
        return cls(values=values, counts=counts.to(torch.int64), samples=samples)

    @classmethod
    def of_samples(cls, genes: Tensor, scores: Tensor, realness: Tensor, num_variants: int) -> VariantTotals:
        """Totals of one set of samples: genes (n, G), scores (n, A), realness (n,)."""
        totals = cls.zeros(genes.shape[1], num_variants, scores.shape[1])
        return totals.add_samples(genes, scores, realness)

    def add_samples(self, genes: Tensor, scores: Tensor, realness: Tensor) -> VariantTotals:
        """Add samples in place (in their order) and return self: genes (n, G), scores (n, A), realness (n,)."""
        values = torch.cat([scores.to(torch.float64), realness.to(torch.float64).unsqueeze(1)], dim=1)  # (n, A+1)
        variant_sums(genes, values, self.values.shape[1], out=(self.values, self.counts))
        self.samples += len(genes)
        return self

    def __add__(self, other: VariantTotals) -> VariantTotals:
        return VariantTotals(
            values=self.values + other.values, counts=self.counts + other.counts, samples=self.samples + other.samples
        )

    def equal(self, other: VariantTotals) -> bool:
        """Bit-for-bit equality."""
        return (
            self.samples == other.samples
            and torch.equal(self.values, other.values)
            and torch.equal(self.counts, other.counts)
        )


def save_totals(path: Path, totals: VariantTotals, attributes: Sequence[str]) -> str:
    """Write the totals as safetensors atomically; returns the file's sha256."""
    from safetensors.torch import save_file

    tensors = {
        "sums": totals.sums.contiguous(),
        "counts": totals.counts.contiguous(),
        "realness_sums": totals.realness_sums.contiguous(),
    }
    metadata = {"attributes": json.dumps(list(attributes)), "samples": str(totals.samples)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
        sha = file_sha256(tmp)
    return sha


def load_totals(path: Path) -> tuple[VariantTotals, tuple[str, ...]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in ("sums", "counts", "realness_sums")}
    except Exception as error:  # safetensors raises several types for a bad file
        raise UserError(f"cannot read {path}: {error}") from None
    totals = VariantTotals.from_parts(samples=int(metadata.get("samples", 0)), **tensors)
    return totals, tuple(json.loads(metadata.get("attributes", "[]")))


# --------------------------------------------------------------------------------------------------
# Manifest.


def manifest_path(stats_dir: Path, rank: int = 0) -> Path:
    """``manifest.json`` for rank 0; ``manifest.rank-RRRRR.json`` for the progress of another rank."""
    return stats_dir / (MANIFEST if rank == 0 else f"manifest.rank-{rank:05d}.json")


def new_manifest(identity: RunIdentity, samples: int, classifier_source: str | None = None) -> dict[str, Any]:
    """A manifest of a new run; ``classifier_source`` is where the classifier set was loaded from."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "status": "running",
        "identity": identity.to_json(),
        "classifier_source": classifier_source,
        "samples_requested": samples,
        "columns": {
            "sample_id": "int64",
            "genes": f"gene_000 .. gene_{identity.genome_shape[0] - 1:03d} (uint16 variant index)",
            "attributes": "one float32 column per attribute, named as the attribute (classifier probability)",
            "realness": "float32 discriminator logit",
        },
        "shards": [],
        "runs": [],
    }


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{path} is not a genomekit stats manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise UserError(
            f"{path} has stats format version {manifest.get('version')}; this genomekit reads version {FORMAT_VERSION}"
        )
    return manifest


def is_fragment(path: Path) -> bool:
    """A progress file of a rank other than 0 (``manifest.rank-RRRRR.json``)."""
    return bool(_FRAGMENT.match(path.name))


def fragment_paths(stats_dir: Path) -> list[Path]:
    """Progress files of ranks other than 0, sorted by rank."""
    if not stats_dir.is_dir():
        return []
    return sorted(p for p in stats_dir.iterdir() if _FRAGMENT.match(p.name))


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    manifest = dict(manifest)
    manifest["shards"] = sorted(manifest["shards"], key=lambda e: e["chunk"])
    write_json(path, manifest)


def known_shards(manifests: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Union of the shard entries of several manifests, by chunk (a later manifest wins)."""
    entries: dict[int, dict[str, Any]] = {}
    for manifest in manifests:
        for entry in manifest.get("shards", []):
            entries[int(entry["chunk"])] = entry
    return entries


def expected_rows(chunk: int, samples: int, chunk_size: int) -> int:
    return max(0, min(chunk_size, samples - chunk * chunk_size))


def num_chunks(samples: int, chunk_size: int) -> int:
    return -(-samples // chunk_size)


# --------------------------------------------------------------------------------------------------
# Reading a whole stats directory.


def recompute_sums_from_shards(
    stats_dir: str | Path, manifest: dict[str, Any] | None = None, batch_rows: int = 1 << 16
) -> VariantTotals:
    """Totals computed from the Parquet shards alone, accumulated in sample order.

    The additions happen in the same order as in the collection pipeline, so the result equals the
    accumulated ``sums.safetensors`` bit for bit. Shards are read and added a few at a time
    (``batch_rows``), so memory does not grow with the number of samples.
    """
    stats_dir = Path(stats_dir)
    manifest = manifest if manifest is not None else read_manifest(stats_dir / MANIFEST)
    identity = RunIdentity.from_json(manifest["identity"])
    num_genes, num_variants, _ = identity.genome_shape
    totals = VariantTotals.zeros(num_genes, num_variants, len(identity.attributes))
    pending: list[tuple[Tensor, Tensor, Tensor]] = []

    def flush() -> None:
        # Few large calls cost less than many small ones; the order of the samples is unchanged.
        genes = torch.cat([g.t() for g, _, _ in pending], dim=1).t()  # (n, G) view of (G, n)
        totals.add_samples(genes, torch.cat([s for _, s, _ in pending]), torch.cat([r for _, _, r in pending]))
        pending.clear()

    for entry in sorted(manifest["shards"], key=lambda e: e["chunk"]):
        _, genes, scores, realness = read_shard(stats_dir / entry["file"], num_genes, identity.attributes)
        pending.append((genes, scores, realness))
        if sum(len(g) for g, _, _ in pending) >= batch_rows:
            flush()
    if pending:
        flush()
    return totals


@dataclasses.dataclass(frozen=True)
class Stats:
    """A complete stats directory, loaded: what report / sample / prune need."""

    totals: VariantTotals  # sums (G, V, A), counts (G, V), realness_sums (G, V)
    attributes: tuple[str, ...]  # A names
    genome_shape: tuple[int, int, int]  # (G, V, D)
    manifest: dict[str, Any]
    directory: Path | None = None  # where it was loaded from, as given (shards are read from there)

    @property
    def samples(self) -> int:
        return self.totals.samples

    @property
    def identity(self) -> RunIdentity:
        """Model and classifier identity, attributes, genome shape, seed and chunk size of the run."""
        return RunIdentity.from_json(self.manifest["identity"])


def classifier_source(stats: Stats | dict[str, Any]) -> str | None:
    """Where the statistics' classifier set was loaded from, as collect-stats recorded it.

    A shipped set's name (``"default"``, ``"default-32"``) or an absolute directory path; None for
    statistics collected before genomekit recorded it, or from a set not loaded from disk. The set's
    identity is ``stats.identity.classifiers``: a set found at this path may have changed since.
    """
    manifest = stats.manifest if isinstance(stats, Stats) else stats
    source = manifest.get("classifier_source")
    return str(source) if source else None


def load_stats(stats_dir: str | Path) -> Stats:
    """Load a complete stats directory; a missing, partial or damaged one is a UserError.

    Every shard the manifest lists is checked (present, recorded size and sha256) before anything is
    returned, so that a reader never fails half-way through with a Parquet error.
    """
    stats_dir = Path(stats_dir)
    if not (stats_dir / MANIFEST).is_file():
        raise UserError(
            f"{stats_dir} is not a stats directory (no {MANIFEST}); create one with `genomekit collect-stats`"
        )
    manifest = read_manifest(stats_dir / MANIFEST)
    if manifest.get("status") != "complete":
        raise UserError(f"{stats_dir} is incomplete; rerun the collect-stats command that created it to finish it")
    damaged = damaged_shards(stats_dir, manifest)
    if damaged:
        (file, reason), more = damaged[0], len(damaged) - 1
        others = f" (and {more} more damaged shard{'s' if more > 1 else ''})" if more else ""
        raise UserError(f"{stats_dir}: shard {file} is {reason}{others}; {repair_hint(stats_dir, manifest)}")
    sums_path = stats_dir / SUMS_FILE
    if not sums_path.is_file() or file_sha256(sums_path) != manifest["sums"]["sha256"]:
        raise UserError(
            f"{sums_path} is missing or does not match the manifest; {repair_hint(stats_dir, manifest)} "
            "and rewrites the sums"
        )
    totals, attributes = load_totals(sums_path)
    identity = RunIdentity.from_json(manifest["identity"])
    return Stats(
        totals=totals, attributes=attributes, genome_shape=identity.genome_shape, manifest=manifest, directory=stats_dir
    )
