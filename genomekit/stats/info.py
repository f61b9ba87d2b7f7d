"""A readable summary of a stats directory (``genomekit stats info``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genomekit.errors import UserError
from genomekit.fileio import file_sha256
from genomekit.stats import store
from genomekit.stats.estimate import undersampled_variants


def damage_report(stats_dir: Path, manifest: dict[str, Any], shards: dict[int, dict[str, Any]]) -> list[str]:
    """``"FILE REASON"`` for each damaged file of a stats directory (empty when all is well).

    Complete directories: every chunk must be listed and match its size and sha256, and the sums must
    match theirs. Running or interrupted ones: each shard listed so far must match (a resumed run
    redoes the others anyway).
    """
    if manifest["status"] == "complete":
        damaged = store.damaged_shards(stats_dir, manifest)
        sums_path = stats_dir / store.SUMS_FILE
        if not sums_path.is_file():
            damaged.append((store.SUMS_FILE, "missing"))
        elif file_sha256(sums_path) != manifest.get("sums", {}).get("sha256"):
            damaged.append((store.SUMS_FILE, "corrupt (sha256 mismatch)"))
    else:
        reasons = ((entry["file"], store.shard_damage(stats_dir, entry)) for _, entry in sorted(shards.items()))
        damaged = [(file, reason) for file, reason in reasons if reason is not None]
    return [f"{file} {reason}" for file, reason in damaged]


def _listed(items: list[str], most: int = 5) -> str:
    more = len(items) - most
    return ", ".join(items[:most]) + (f", ... and {more} more" if more > 0 else "")


def describe_stats(stats_dir: str | Path, min_count: int = 50) -> str:
    """Samples, genome shape, attributes, under-sampled variants and throughput, as text lines.

    Works on a running or interrupted directory too (it then reports the progress so far). Every
    shard is checked against its recorded size and sha256: a complete directory with a missing,
    truncated or corrupt file is reported as ``complete, but damaged: FILE REASON, ...`` with how to
    repair it, and the rest of the summary is still printed.
    """
    stats_dir = Path(stats_dir)
    if not (stats_dir / store.MANIFEST).is_file():
        raise UserError(
            f"{stats_dir} is not a stats directory (no {store.MANIFEST}); create one with `genomekit collect-stats`"
        )
    manifest = store.read_manifest(stats_dir / store.MANIFEST)
    fragments = [store.read_manifest(p) for p in store.fragment_paths(stats_dir)]
    identity = store.RunIdentity.from_json(manifest["identity"])
    shards = store.known_shards([manifest, *fragments])
    requested = int(manifest["samples_requested"])
    collected = sum(int(e["rows"]) for e in shards.values())
    num_genes, num_variants, gene_length = identity.genome_shape
    complete = manifest["status"] == "complete"
    damaged = damage_report(stats_dir, manifest, shards)
    if complete:
        status = "complete"
        if damaged:
            status += f", but damaged: {_listed(damaged)}; {store.repair_hint(stats_dir, manifest)}"
    else:
        status = f"{manifest['status']} (rerun the same collect-stats command to finish)"
        if damaged:
            status += f"; damaged shards, redone when resumed: {_listed(damaged)}"
    lines = [
        f"stats directory   {stats_dir}",
        f"status            {status}",
        f"samples           {collected:,} of {requested:,} in {len(shards)} shards of {identity.chunk_size:,}",
        f"genome            {num_genes} genes x {num_variants} variants x {gene_length} (G x V x D)",
        f"attributes        {len(identity.attributes)}: {', '.join(identity.attributes)}",
        f"model             {identity.model}",
        f"classifier set    {identity.classifiers}"
        + (f" ({store.classifier_source(manifest)})" if store.classifier_source(manifest) else ""),
        f"seed              {identity.seed}",
    ]
    if complete and any(line.startswith(f"{store.SUMS_FILE} ") for line in damaged):
        lines.append(f"samples/variant   unknown ({store.SUMS_FILE} is damaged)")
    elif complete:
        totals, _ = store.load_totals(stats_dir / store.SUMS_FILE)
        rare = undersampled_variants(totals.counts, min_count)
        counts = totals.counts.to(float)
        lines.append(
            f"samples/variant   min {int(counts.min())}, mean {counts.mean().item():.1f}, max {int(counts.max())}"
        )
        if len(rare):
            shown = ", ".join(f"{g}:{v}" for g, v in rare[:12].tolist())
            lines.append(
                f"under-sampled     {len(rare)} (gene, variant) pairs below {min_count} samples "
                f"(gene:variant {shown}{', ...' if len(rare) > 12 else ''})"
            )
        else:
            lines.append(f"under-sampled     none (every pair has at least {min_count} samples)")
    runs = [*manifest.get("runs", []), *(r for f in fragments for r in f.get("runs", []))]
    generated = sum(r.get("samples_generated", 0) for r in runs)
    seconds = sum(r.get("seconds", 0.0) for r in runs)
    if generated and seconds > 0:
        lines.append(
            f"throughput        {generated / seconds:.1f} samples/s per process "
            f"({generated:,} samples generated in {seconds:.1f} s over {len(runs)} runs)"
        )
    for run in runs:
        if run.get("samples_generated", 0) == 0:
            continue
        where = f"rank {run['rank']}/{run['world_size']}, " if run.get("world_size", 1) > 1 else ""
        lines.append(
            f"run {run['started']}  {run['samples_generated']:,} samples in {run['seconds']:.1f} s = "
            f"{run['samples_per_s']:.1f} samples/s ({where}{run['device']}, batch {run['batch_size']})"
            + (" [interrupted]" if run.get("interrupted") else "")
        )
    return "\n".join(lines)
