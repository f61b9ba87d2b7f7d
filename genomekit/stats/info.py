"""A readable summary of a stats directory (``genomekit stats info``)."""

from __future__ import annotations

from pathlib import Path

from genomekit.errors import UserError
from genomekit.stats import store
from genomekit.stats.estimate import undersampled_variants


def describe_stats(stats_dir: str | Path, min_count: int = 50) -> str:
    """Samples, genome shape, attributes, under-sampled variants and throughput, as text lines.

    Works on a running or interrupted directory too (it then reports the progress so far).
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
    lines = [
        f"stats directory   {stats_dir}",
        f"status            {manifest['status']}"
        + ("" if manifest["status"] == "complete" else " (rerun the same collect-stats command to finish)"),
        f"samples           {collected:,} of {requested:,} in {len(shards)} shards of {identity.chunk_size:,}",
        f"genome            {num_genes} genes x {num_variants} variants x {gene_length} (G x V x D)",
        f"attributes        {len(identity.attributes)}: {', '.join(identity.attributes)}",
        f"model             {identity.model}",
        f"classifier set    {identity.classifiers}",
        f"seed              {identity.seed}",
    ]
    if manifest["status"] == "complete":
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
