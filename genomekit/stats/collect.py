"""The Monte-Carlo statistics pipeline (StyleGenes section 3.3, eq. 7; Appendix C for realness).

(Over 500 lines on purpose: one resumable, shardable pipeline whose writer thread, manifest updates
and finalisation depend on each other's invariants; the format itself is in ``stats.store``.)

Sample gene sequences uniformly, generate images with G_ema, score each image with the attribute
classifier set and the discriminator, stream the rows into Parquet shards and accumulate the
summable totals ``sums (G, V, A)``, ``counts (G, V)``, ``realness_sums (G, V)``.

Determinism. The samples are cut into chunks of ``chunk_size`` (fixed per stats directory, independent
of the batch size); chunk ``c`` is one shard and draws its gene sequences from a torch.Generator seeded
by ``SeedSequence(seed, spawn_key=(c,))`` (= ``SeedSequence(seed).spawn(n)[c]`` for any n > c). Images
depend only on their gene sequence (noise_mode="const"), so a chunk's rows do not depend on the batch
size, the resume point or the number of ranks (the discriminator's and the classifier set's
minibatch-stddev groups are consecutive samples, ``grouped_forward``, for the same reason). The
totals are accumulated in float64 one sample at a time in sample order (chunk after chunk), so an
interrupted and resumed run, a multi-rank run and ``recompute_sums_from_shards`` all give the same bits.

Steps of ``collect_stats``:
1. check the models and open (or create) the stats directory; refuse one of another run identity;
2. list this rank's chunks (``c % world_size == rank``) and which are already complete (checksums);
3. choose the batch size for ``batch_size="auto"`` (CUDA: from free memory and a measured trial
   batch, ``auto_batch_size``), then generate and score the missing chunks batch by batch on
   ``device`` while a writer thread writes the previous chunk's shard, checksums it, folds its totals
   and rewrites this rank's manifest;
4. with one rank, write ``sums.safetensors`` and mark the manifest complete; with several, rank 0
   calls ``finalize_stats`` after all ranks are done.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from genomekit.errors import UserError
from genomekit.precision import PRECISIONS, autocast
from genomekit.seeding import chunk_generator
from genomekit.stats import store
from genomekit.stats.estimate import undersampled_variants
from genomekit.stats.store import RunIdentity, VariantTotals

log = logging.getLogger(__name__)

__all__ = ["CollectConfig", "CollectResult", "chunk_generator", "collect_stats", "finalize_stats", "score_chunk"]


AUTO_BATCH = "auto"
CPU_BATCH_SIZE = 256  # what --batch auto means off CUDA (the default before "auto")
MAX_AUTO_BATCH = 256  # --batch auto never goes above this: larger batches gain little and delay the first shard
AUTO_MEMORY_FRACTION = 0.8  # of the free device memory, for --batch auto: room for fragmentation and other tenants


@dataclasses.dataclass(frozen=True, kw_only=True)
class CollectConfig:
    out: Path  # the stats directory (created if absent)
    samples: int = 500_000  # N, gene sequences to sample in total (across all ranks)
    batch_size: int | str = "auto"  # images per forward pass, or "auto" (auto_batch_size); does not change the result
    chunk_size: int = 4096  # samples per chunk = per shard; fixed for a stats directory
    seed: int = 0  # root of the per-chunk SeedSequence
    resume: bool = False  # require an existing stats directory to continue
    min_count: int = 50  # (gene, variant) pairs seen fewer times are reported as under-sampled
    precision: str = "fp32"  # inference precision (genomekit.precision); fixed for a stats directory

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if self.samples < 1:
            raise UserError(f"--samples must be at least 1, got {self.samples}")
        if self.batch_size != AUTO_BATCH and not isinstance(self.batch_size, int):
            raise UserError(f"--batch must be {AUTO_BATCH!r} or a positive integer, got {self.batch_size!r}")
        if isinstance(self.batch_size, int) and self.batch_size < 1:
            raise UserError(f"--batch must be at least 1, got {self.batch_size}")
        if self.chunk_size < 1:
            raise UserError(f"--chunk-size must be at least 1, got {self.chunk_size}")
        if self.seed < 0:
            raise UserError(f"--seed must be a non-negative integer, got {self.seed}")
        if self.min_count < 0:
            raise UserError(f"--min-count must be non-negative, got {self.min_count}")
        if self.precision not in PRECISIONS:
            raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


@dataclasses.dataclass(frozen=True)
class CollectResult:
    out: Path
    complete: bool  # the whole directory is finished (sums written)
    interrupted: bool  # stopped early on request
    samples_done: int  # samples in complete shards of this rank (all ranks when complete)
    samples_generated: int  # samples this call generated (the rest were already there)
    seconds: float  # wall time of the generation loop of this call
    totals: VariantTotals | None  # the accumulated totals when complete

    @property
    def samples_per_second(self) -> float:
        return self.samples_generated / self.seconds if self.seconds > 0 else 0.0


def chunk_sequences(genome: nn.Module, seed: int, chunk: int, chunk_size: int, rows: int) -> Tensor:
    """Gene sequences (rows, G) int64 of chunk ``chunk``, on the CPU.

    Always draws the full chunk and keeps the first ``rows``, so a short last chunk is a prefix of the
    chunk a larger ``--samples`` would draw.
    """
    sequences = genome.sample(chunk_size, generator=chunk_generator(seed, chunk))  # (chunk_size, G)
    return sequences[:rows].to("cpu", torch.int64)


def mbstd_group_size(discriminator: nn.Module) -> int:
    """Samples per minibatch-standard-deviation group of ``discriminator`` (1 when it has none)."""
    config = getattr(discriminator, "config", None)
    return max(1, int(getattr(config, "mbstd_group_size", 1)))


def classifier_group_size(classifiers: nn.Module) -> int:
    """Images per minibatch-standard-deviation group of a classifier set (1 when it has none).

    A set with such a layer (StyleGAN's CelebA-HQ networks, ``classifiers.BatchedCelebAHQ``) says so
    with an ``mbstd_group_size`` attribute.
    """
    return max(1, int(getattr(classifiers, "mbstd_group_size", 1)))


def batch_multiple(discriminator: nn.Module, classifiers: nn.Module) -> int:
    """Batches and chunks are multiples of this: both networks' minibatch-stddev groups fit in them."""
    return math.lcm(mbstd_group_size(discriminator), classifier_group_size(classifiers))


def grouped_forward(network: nn.Module, images: Tensor, group: int) -> Tensor:
    """``network(images)`` with its minibatch-stddev groups fixed to consecutive samples.

    A minibatch-stddev layer groups samples ``{m, m + M, m + 2M, ...}`` of a batch of
    ``B = group * M``, so a sample's output depends on which samples share its batch. Reordering the
    batch makes each group ``group`` consecutive samples instead: with batches that start at a
    multiple of ``group``, a sample's output no longer depends on the batch size. A trailing
    remainder of fewer than ``group`` samples forms a group of its own.

    Args:
        images: (B, C, H, W), the first one a multiple of ``group`` samples into its chunk.

    Returns:
        (B, ...) the network's outputs, in sample order.
    """
    if group <= 1:
        return network(images)
    batch = len(images)
    full = batch - batch % group
    outputs = []
    if full:
        per_group = full // group
        # empty_like keeps the memory format (channels-last convolutions are much faster on CPU).
        x = torch.empty_like(images[:full])  # (B, C, H, W), network order: sample m * group + r at r * M + m
        x.view(group, per_group, *images.shape[1:]).copy_(
            images[:full].unflatten(0, (per_group, group)).transpose(0, 1)
        )
        y = network(x)  # (B, ...) in network order
        outputs.append(y.unflatten(0, (group, per_group)).transpose(0, 1).flatten(0, 1))  # back to sample order
    if batch > full:
        outputs.append(network(images[full:]))
    return torch.cat(outputs)


def grouped_realness(discriminator: nn.Module, images: Tensor, group: int) -> Tensor:
    """Realness logits (B,) of images (B, C, H, W), minibatch-stddev groups of consecutive samples (grouped_forward)."""
    return grouped_forward(discriminator, images, group).reshape(-1)


@torch.inference_mode()
def score_chunk(
    sequences: Tensor,
    generator: nn.Module,
    classifiers: nn.Module,
    discriminator: nn.Module,
    batch_size: int,
    device: torch.device,
    on_batch: Callable[[int], None] | None = None,
    precision: str = "fp32",
) -> tuple[Tensor, Tensor]:
    """Generate and score the images of ``sequences`` in batches (``precision``: genomekit.precision).

    Args:
        sequences: (n, G) gene sequences of one chunk.
        batch_size: images per forward pass, rounded up to a multiple of the discriminator's and the
            classifier set's minibatch-stddev groups (``batch_multiple``) so that the groups do not
            depend on it.
        on_batch: called with the batch size after each batch (progress).

    Returns:
        scores (n, A) float32 classifier probabilities and realness (n,) float32 discriminator logits,
        on the CPU.
    """
    group, classifier_group = mbstd_group_size(discriminator), classifier_group_size(classifiers)
    multiple = batch_multiple(discriminator, classifiers)
    batch_size = -(-batch_size // multiple) * multiple
    scores, realness = [], []
    for start in range(0, len(sequences), batch_size):
        codes = sequences[start : start + batch_size].to(device, non_blocking=True)  # (B, G)
        with autocast(precision, device):
            images = generator(codes, truncation_psi=1.0, noise_mode="const")  # (B, C, H, W)
            # The classifiers expect [-1, 1]; the discriminator was trained on raw generator output.
            scores.append(grouped_forward(classifiers, images.clamp(-1, 1), classifier_group).float())  # (B, A)
            realness.append(grouped_realness(discriminator, images, group).float())  # (B,)
        if on_batch is not None:
            on_batch(len(codes))
    # One device-to-host copy per chunk keeps an accelerator's queue full.
    return torch.cat(scores).cpu(), torch.cat(realness).cpu()


def choose_batch_size(
    free_bytes: float, bytes_per_sample: float, *, maximum: int = MAX_AUTO_BATCH, fraction: float = AUTO_MEMORY_FRACTION
) -> int:
    """The largest power of two B in [1, maximum] with ``B * bytes_per_sample <= fraction * free_bytes``.

    Args:
        free_bytes: device memory this process can still use (``measure_batch_memory``).
        bytes_per_sample: peak memory each sample of a batch adds (``measure_batch_memory``).
        maximum: the largest batch to choose, a power of two.
        fraction: the share of ``free_bytes`` to fill.
    Returns:
        1 when not even one sample fits (the pass then fails with the out-of-memory message).
    """
    if maximum < 1 or maximum & (maximum - 1):
        raise ValueError(f"maximum must be a power of two, got {maximum}")
    if bytes_per_sample <= 0:
        return maximum
    fits = min(maximum, int(fraction * max(free_bytes, 0) // bytes_per_sample))
    return 1 << (fits.bit_length() - 1) if fits >= 1 else 1


def measure_batch_memory(
    generator: nn.Module,
    classifiers: nn.Module,
    discriminator: nn.Module,
    device: torch.device,
    precision: str = "fp32",
) -> tuple[int, float]:
    """Free memory and memory per sample of ``score_chunk`` on a CUDA device, from one trial batch.

    Method: a warm-up pass (cuDNN plans and workspaces, the classifier set's stacked weights, the
    allocator's pools), then a second pass of the same ``trial`` samples with the peak-memory counter
    reset; ``(peak - allocated before) / trial`` is the memory per sample. The trial batch is the
    smallest multiple of ``batch_multiple`` with at least 4 samples, so the pass's fixed costs are
    counted in the per-sample figure too and the estimate errs on the safe side. Free memory is what
    the driver reports free plus what PyTorch's allocator holds without using it. The trial images are
    of gene sequence 0 and are thrown away: they change nothing in the results.

    Returns:
        (free bytes, peak bytes per sample), for ``choose_batch_size``.
    """
    multiple = batch_multiple(discriminator, classifiers)
    trial = -(-4 // multiple) * multiple
    # Any gene sequences take the same memory: all-zero ones, (trial, G).
    codes = torch.zeros(trial, generator.genome_shape[0], dtype=torch.int64)
    score_chunk(codes, generator, classifiers, discriminator, trial, device, precision=precision)  # warm-up
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    score_chunk(codes, generator, classifiers, discriminator, trial, device, precision=precision)
    torch.cuda.synchronize(device)
    per_sample = (torch.cuda.max_memory_allocated(device) - before) / trial
    free, _ = torch.cuda.mem_get_info(device)
    free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int(free), float(per_sample)


def auto_batch_size(device: torch.device, measure: Callable[[], tuple[int, float]]) -> int:
    """What ``--batch auto`` means on ``device``: from free memory on CUDA, ``CPU_BATCH_SIZE`` elsewhere.

    Args:
        measure: returns (free bytes, bytes per sample); called on CUDA only (``measure_batch_memory``).
    """
    if device.type != "cuda":
        return CPU_BATCH_SIZE
    free, per_sample = measure()
    batch = choose_batch_size(free, per_sample)
    log.info(
        "--batch auto: %d (%.1f MiB per sample measured, %.1f GiB free on %s)",
        batch,
        per_sample / 2**20,
        free / 2**30,
        device,
    )
    return batch


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _run_identity(
    generator: nn.Module, classifiers: nn.Module, model_identity: str, config: CollectConfig
) -> RunIdentity:
    if getattr(generator, "latent_kind", None) != "genome" or generator.genome_shape is None:
        raise UserError(
            "this model has a mapping-network latent and no genes; collect-stats needs a model trained with --latent genome"
        )
    if getattr(generator, "img_channels", 3) != 3:
        raise UserError(
            f"the classifier set scores RGB images but the model makes {generator.img_channels}-channel images"
        )
    genome_shape = tuple(int(x) for x in generator.genome_shape)
    if genome_shape[1] > 65536:
        raise UserError(
            f"shards store variant indices as uint16; this genome has {genome_shape[1]} variants (at most 65536)"
        )
    attributes = tuple(classifiers.attribute_names)
    store.check_attribute_names(attributes)
    return RunIdentity(
        model=model_identity,
        classifiers=str(classifiers.identity),
        attributes=attributes,
        genome_shape=genome_shape,  # type: ignore[arg-type]
        seed=config.seed,
        chunk_size=config.chunk_size,
        precision=config.precision,
    )


def _open_stats_dir(
    config: CollectConfig, identity: RunIdentity, rank: int, classifier_source: str | None
) -> tuple[dict[str, Any], dict[int, dict]]:
    """Create or validate the stats directory; returns this rank's manifest and all known shards.

    ``classifier_source`` (where the classifier set was loaded from) replaces the recorded one: a set
    of the same identity may have moved since the directory was started.
    """
    out = config.out
    main_path = store.manifest_path(out, 0)
    own_path = store.manifest_path(out, rank)
    existing = [p for p in [main_path, *store.fragment_paths(out)] if p.is_file()]
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    # Only rank 0 creates the directory, so only it judges an absent manifest (other ranks may look
    # while rank 0 is creating it).
    if not existing and rank == 0:
        if config.resume:
            raise UserError(
                f"--resume given but {out} holds no stats run (no {store.MANIFEST}); drop --resume to start one"
            )
        # Other ranks may already have made shards/ and their progress files: those are ours.
        ours = {store.SHARDS_DIR, store.MANIFEST, store.SUMS_FILE}
        foreign = [
            p
            for p in (out.iterdir() if out.is_dir() else [])
            if p.name not in ours
            and not store.is_fragment(p)
            and not (p.name.startswith(".") and p.name.endswith(".tmp"))
        ]
        if foreign:
            raise UserError(
                f"--out {out} is a non-empty directory without a stats manifest; choose an empty or new directory"
            )
    manifests = [store.read_manifest(p) for p in existing]
    for path, manifest in zip(existing, manifests, strict=True):
        stored = RunIdentity.from_json(manifest["identity"])
        differences = stored.differences(identity)
        if differences:
            raise UserError(
                f"{out} was collected with a different run ({'; '.join(differences)}); "
                "use a new --out, or the same model, classifiers, seed and chunk size to resume"
            )
        requested = int(manifest["samples_requested"])
        if path == main_path and config.samples < requested:
            raise UserError(
                f"{out} was started with --samples {requested}; resume with --samples {requested} or more, or use a new --out"
            )
    own = next((m for p, m in zip(existing, manifests, strict=True) if p == own_path), None)
    if own is None:
        own = store.new_manifest(identity, config.samples, classifier_source)
    own = dict(own, samples_requested=config.samples, status="running")
    if classifier_source is not None:
        own["classifier_source"] = classifier_source
    own.pop("sums", None)
    return own, store.known_shards(manifests)


class _ShardWriter:
    """Background thread: writes shards, checksums them, accumulates the totals, saves the manifest.

    Items are processed in the order they are put, so the totals accumulate in chunk order. ``put`` blocks when
    two chunks are waiting, which bounds memory whatever the number of samples.
    """

    def __init__(self, out: Path, manifest_file: Path, manifest: dict[str, Any], identity: RunIdentity, fold: bool):
        self.out, self.manifest_file, self.manifest, self.identity = out, manifest_file, manifest, identity
        num_genes, num_variants, _ = identity.genome_shape
        self.totals = VariantTotals.zeros(num_genes, num_variants, len(identity.attributes)) if fold else None
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="genomekit-shard-writer", daemon=True)
        self.thread.start()

    def put(self, item: tuple) -> None:
        while True:
            if self.error is not None:
                raise RuntimeError("the shard writer failed") from self.error
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Finish the queued items and stop; re-raises a writer error."""
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain after a failure
            try:
                kind, chunk, payload = item
                if kind == "existing":  # a shard from an earlier run: only its totals are needed
                    if self.totals is not None:
                        _, genes, scores, realness = store.read_shard(
                            self.out / payload["file"], self.identity.genome_shape[0], self.identity.attributes
                        )
                        self.totals.add_samples(genes, scores, realness)
                    continue
                first_sample_id, genes, scores, realness = payload
                entry = store.write_shard(
                    self.out,
                    chunk,
                    first_sample_id,
                    genes,
                    scores,
                    realness,
                    self.identity.attributes,
                    metadata={"chunk": chunk, "seed": self.identity.seed, "chunk_size": self.identity.chunk_size},
                )
                if self.totals is not None:
                    self.totals.add_samples(genes, scores, realness)
                shards = [e for e in self.manifest["shards"] if e["chunk"] != chunk] + [entry]
                self.manifest = dict(self.manifest, shards=shards)
                store.write_manifest(self.manifest_file, self.manifest)
            except BaseException as error:  # surfaced to the main thread by put/close
                self.error = error


def collect_stats(
    config: CollectConfig,
    *,
    generator: nn.Module,
    classifiers: nn.Module,
    discriminator: nn.Module,
    model_identity: str,
    device: torch.device | str = "cpu",
    rank: int = 0,
    world_size: int = 1,
    stop: threading.Event | None = None,
    progress: bool = True,
) -> CollectResult:
    """Run (or resume) the statistics pipeline for this rank's chunks.

    Args:
        config: what to collect and where.
        generator: G_ema with ``.latent`` a Genome (``sample(n, generator)``), ``.genome_shape`` and
            ``forward(codes (B, G), truncation_psi, noise_mode) -> (B, 3, H, W)`` in about [-1, 1].
        classifiers: classifier set: ``.attribute_names``, ``.identity``, ``(B, 3, H, W) -> (B, A)``;
            its ``.source`` (set by ``classifiers.load_classifier_set``: a shipped name or an absolute
            directory), when present, is recorded in the manifest as ``classifier_source``.
        discriminator: ``(B, 3, H, W) -> (B, 1)`` realness logits.
        model_identity: stable identity of the checkpoint (``training.checkpoint.model_identity``).
        device: where the forward passes run; the models must already be there.
        rank, world_size: this process takes the chunks ``c`` with ``c % world_size == rank``.
        stop: when set, the run stops after the current chunk (returns ``interrupted=True``).
        progress: show a progress bar (samples/s and ETA) on stderr.

    Returns:
        A CollectResult. With ``world_size == 1`` the directory is complete unless interrupted; with
        several ranks, call ``finalize_stats`` on rank 0 once every rank has returned.

    Raises:
        UserError: a mapping-latent model, or a stats directory of another run identity.
        KeyboardInterrupt: passed on after finishing the shards already generated.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside [0, {world_size})")
    device = torch.device(device)
    identity = _run_identity(generator, classifiers, model_identity, config)
    group, multiple = mbstd_group_size(discriminator), batch_multiple(discriminator, classifiers)
    if config.chunk_size % multiple:
        groups = f"the discriminator's minibatch group ({group})"
        if multiple != group:
            groups = (
                f"{multiple}, for the minibatch groups of the discriminator ({group}) "
                f"and the classifier set ({classifier_group_size(classifiers)})"
            )
        raise UserError(f"--chunk-size must be a multiple of {groups}, got {config.chunk_size}")
    out = config.out
    # 1. Open the directory. With one rank, temporary files of a killed run are litter; with several,
    #    they may be another rank's shard in flight, so only finalize_stats removes them.
    own_manifest, known = _open_stats_dir(config, identity, rank, getattr(classifiers, "source", None))
    (out / store.SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    if world_size == 1:
        _remove_temporaries(out)
    manifest_file = store.manifest_path(out, rank)
    # 2. This rank's chunks, and which of them are complete already.
    chunks = [c for c in range(store.num_chunks(config.samples, config.chunk_size)) if c % world_size == rank]
    complete: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        entry = known.get(chunk)
        if entry is None:
            continue
        reason = store.check_shard(out, entry, store.expected_rows(chunk, config.samples, config.chunk_size))
        if reason is None:
            complete[chunk] = entry
        else:
            log.warning("shard %s is %s; it will be redone", entry["file"], reason)
    # Rank 0's manifest keeps what it knew of other ranks' chunks; their own files take precedence.
    carried = [e for e in own_manifest["shards"] if int(e["chunk"]) % world_size != rank]
    own_manifest["shards"] = carried + list(complete.values())
    store.write_manifest(manifest_file, own_manifest)
    total_rows = sum(store.expected_rows(c, config.samples, config.chunk_size) for c in chunks)
    done_rows = sum(int(e["rows"]) for e in complete.values())

    # 3. Generate, score and write, with the batch size --batch auto chooses when there is work left.
    if config.batch_size == AUTO_BATCH:
        todo = any(chunk not in complete for chunk in chunks)
        measure = functools.partial(
            measure_batch_memory, generator, classifiers, discriminator, device, config.precision
        )
        batch_size = auto_batch_size(device, measure) if todo else CPU_BATCH_SIZE
        config = dataclasses.replace(config, batch_size=batch_size)
    genome = generator.latent
    writer = _ShardWriter(out, manifest_file, own_manifest, identity, fold=world_size == 1)
    bar = tqdm(
        total=total_rows,
        initial=done_rows,
        unit="samples",
        unit_scale=True,
        disable=not progress,
        dynamic_ncols=True,
        desc="collect-stats",
    )
    generated, interrupted, started = 0, False, time.perf_counter()
    started_at = _now()
    try:
        for chunk in chunks:
            if chunk in complete:
                writer.put(("existing", chunk, complete[chunk]))
                continue
            if stop is not None and stop.is_set():
                interrupted = True
                break
            rows = store.expected_rows(chunk, config.samples, config.chunk_size)
            sequences = chunk_sequences(genome, config.seed, chunk, config.chunk_size, rows)  # (rows, G)
            if device.type == "cuda":
                sequences = sequences.pin_memory()  # lets the per-batch copies run asynchronously
            scores, realness = score_chunk(
                sequences,
                generator,
                classifiers,
                discriminator,
                config.batch_size,
                device,
                bar.update,
                precision=config.precision,
            )
            writer.put(("new", chunk, (chunk * config.chunk_size, sequences, scores, realness)))
            generated += rows
        writer.close()
    except BaseException:
        # Keep what is complete: finish the shards already handed to the writer, then pass the error on.
        bar.close()
        try:
            writer.close()
        finally:
            _record_run(
                writer,
                manifest_file,
                started_at,
                time.perf_counter() - started,
                generated,
                device,
                config,
                rank,
                world_size,
                True,
            )
        raise
    bar.close()
    seconds = time.perf_counter() - started
    _record_run(writer, manifest_file, started_at, seconds, generated, device, config, rank, world_size, interrupted)
    samples_done = done_rows + generated

    # 4. Finish: with one rank the streamed totals are the result.
    if interrupted or world_size > 1:
        return CollectResult(out, False, interrupted, samples_done, generated, seconds, None)
    totals = finalize_stats(out, totals=writer.totals)
    return CollectResult(out, True, False, totals.samples, generated, seconds, totals)


def _record_run(
    writer: _ShardWriter,
    manifest_file: Path,
    started_at: str,
    seconds: float,
    generated: int,
    device: torch.device,
    config: CollectConfig,
    rank: int,
    world_size: int,
    interrupted: bool,
) -> None:
    run = {
        "started": started_at,
        "finished": _now(),
        "rank": rank,
        "world_size": world_size,
        "device": str(device),
        "batch_size": config.batch_size,
        "samples_generated": generated,
        "seconds": round(seconds, 3),
        "samples_per_s": round(generated / seconds, 2) if seconds > 0 else 0.0,
        "interrupted": interrupted,
    }
    writer.manifest = dict(writer.manifest, runs=[*writer.manifest.get("runs", []), run])
    store.write_manifest(manifest_file, writer.manifest)


def _remove_temporaries(out: Path) -> None:
    for directory in (out, out / store.SHARDS_DIR):
        if directory.is_dir():
            for path in directory.glob(".*.tmp"):
                path.unlink(missing_ok=True)


def finalize_stats(
    stats_dir: str | Path, totals: VariantTotals | None = None, min_count: int | None = None
) -> VariantTotals:
    """Merge the ranks' progress, check every chunk is there, write the sums and complete the manifest.

    Args:
        stats_dir: the stats directory.
        totals: the totals already accumulated in chunk order by a single-rank run; when None they are
            recomputed from the shards (each verified against its checksum first).
        min_count: log the number of (gene, variant) pairs seen fewer times.

    Returns:
        The totals written to ``sums.safetensors``.
    """
    out = Path(stats_dir)
    main_path = store.manifest_path(out, 0)
    fragments = store.fragment_paths(out)
    manifest = store.read_manifest(main_path)
    others = [store.read_manifest(p) for p in fragments]
    identity = RunIdentity.from_json(manifest["identity"])
    for path, other in zip(fragments, others, strict=True):
        differences = RunIdentity.from_json(other["identity"]).differences(identity)
        if differences:
            raise UserError(f"{path} belongs to another run ({'; '.join(differences)})")
    samples = int(manifest["samples_requested"])
    # A single-rank run verified or wrote every shard of its manifest; otherwise each rank's own
    # progress file wins over what rank 0 knew, and every shard is checked against its checksum.
    known = store.known_shards([manifest] if totals is not None else [manifest, *others])
    shards = []
    missing = []
    for chunk in range(store.num_chunks(samples, identity.chunk_size)):
        entry = known.get(chunk)
        rows = store.expected_rows(chunk, samples, identity.chunk_size)
        if entry is None or (totals is None and store.check_shard(out, entry, rows) is not None):
            missing.append(chunk)
        else:
            shards.append(entry)
    if missing:
        raise UserError(
            f"{len(missing)} chunks of {out} are missing or damaged (first: {missing[0]}); rerun the same collect-stats command"
        )
    manifest = dict(
        manifest, shards=shards, runs=[*manifest.get("runs", []), *(r for o in others for r in o.get("runs", []))]
    )
    if totals is None:
        totals = store.recompute_sums_from_shards(out, manifest)
    if totals.samples != samples:
        raise RuntimeError(f"totals cover {totals.samples} samples, expected {samples}")
    sha = store.save_totals(out / store.SUMS_FILE, totals, identity.attributes)
    manifest.update(status="complete", sums={"file": store.SUMS_FILE, "sha256": sha, "samples": samples})
    store.write_manifest(main_path, manifest)
    for path in fragments:
        path.unlink(missing_ok=True)
    _remove_temporaries(out)
    if min_count:
        rare = len(undersampled_variants(totals.counts, min_count))
        if rare:
            log.warning("%d (gene, variant) pairs have fewer than %d samples", rare, min_count)
    return totals
