"""One generator from the average of a run's kept snapshots: a moving average far longer than G_ema's.

At genomekit's CPU scale a run does not settle: its attribute frequencies swing over ~100-150 kimg
(docs/GENOME_HEALTH.md section 5), and G_ema, an average over ~10 kimg, follows the swing. Averaging
the weights of the snapshots over a window of the swing (uniformly, as stochastic weight averaging;
Yazici et al. 2019, "The unusual effectiveness of averaging in GAN training") gives one generator
from the middle of it. Every float tensor of G_ema is averaged, the genome's variants included; the
discriminator is the last snapshot's (no D was trained against the average: it is kept for the
commands that score realness, as the closest one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from genomekit.errors import UserError
from genomekit.training.checkpoint import CheckpointError, read_checkpoint, write_inference_tensors

SNAPSHOT_NAME = re.compile(r"network-(\d{9})\.safetensors")


def run_snapshots(run: str | Path) -> list[tuple[int, Path]]:
    """The snapshots ``train --keep-snapshots`` kept in ``run/snapshots``, as (images shown, path), oldest first."""
    folder = Path(run).expanduser() / "snapshots"
    found = [(nimg, path) for path in folder.glob("network-*.safetensors") if (nimg := _nimg(path)) is not None]
    return sorted(found)


def select_snapshots(run: str | Path, from_kimg: float, to_kimg: float | None = None) -> list[Path]:
    """The kept snapshots of ``run`` taken at ``from_kimg <= kimg <= to_kimg`` (None: to the last), each
    snapshot's kimg rounded to 0.1.

    Raises:
        UserError: the run kept no snapshots, or none falls in the window.
    """
    snapshots = run_snapshots(run)
    if not snapshots:
        raise UserError(f"{run} has no kept snapshots ({Path(run) / 'snapshots'}); train with --keep-snapshots")
    upper = float("inf") if to_kimg is None else to_kimg
    # A snapshot's kimg is its image count rounded to 0.1 kimg: batches of 32 put "130 kimg" at 130,016 images.
    chosen = [path for nimg, path in snapshots if from_kimg <= round(nimg / 1000, 1) <= upper]
    if not chosen:
        kimgs = ", ".join(f"{nimg / 1000:g}" for nimg, _ in snapshots)
        window = f"from {from_kimg:g} kimg on" if to_kimg is None else f"between {from_kimg:g} and {to_kimg:g} kimg"
        raise UserError(f"no snapshot of {run} lies {window} (it kept: {kimgs})")
    return chosen


def average_snapshots(paths: Sequence[str | Path], out: str | Path, half: bool = True) -> dict:
    """Write the uniform average of the G_ema weights of ``paths`` (with the last one's D) to ``out``.

    Args:
        paths: checkpoints of one run (the same generator config and tensors), oldest first.
        out: the inference checkpoint to write (atomically).
        half: store the weights in float16, as kept snapshots and exports are.
    Returns:
        what was averaged, as recorded in the output's ``averaged`` metadata entry.
    Raises:
        UserError: no paths, or checkpoints that do not share one generator config and tensor set.
        CheckpointError: a path is missing or not a genomekit checkpoint.
    """
    if not paths:
        raise UserError("no checkpoints to average")
    paths = [Path(p).expanduser() for p in paths]
    first_tensors, first_meta = read_checkpoint(paths[0])
    names = sorted(k for k in first_tensors if k.startswith("G_ema."))
    totals = {k: first_tensors[k].double() for k in names if first_tensors[k].is_floating_point()}
    last_tensors, last_meta = first_tensors, first_meta
    for path in paths[1:]:
        tensors, meta = read_checkpoint(path)
        if meta["generator_config"] != first_meta["generator_config"]:
            raise UserError(f"{path} has another generator config than {paths[0]}; average snapshots of one run")
        if sorted(k for k in tensors if k.startswith("G_ema.")) != names:
            raise UserError(f"{path} holds other generator tensors than {paths[0]}")
        for k in totals:
            if tensors[k].shape != totals[k].shape:
                raise CheckpointError(f"{path}: {k} is {tuple(tensors[k].shape)}, not {tuple(totals[k].shape)}")
            totals[k] += tensors[k].double()
        last_tensors, last_meta = tensors, meta
    averaged = {k: (totals[k] / len(paths)).float() if k in totals else last_tensors[k] for k in names}
    averaged.update({k: v for k, v in last_tensors.items() if k.startswith("D.")})
    record = {"snapshots": [str(p) for p in paths], "count": len(paths),
              "kimg": [None if (n := _nimg(p)) is None else n / 1000 for p in paths],
              "discriminator": str(paths[-1])}  # fmt: skip
    extra = {k: last_meta[k] for k in ("progress", "config", "source") if k in last_meta}
    extra["averaged"] = json.dumps(record)
    write_inference_tensors(out, averaged, first_meta["generator_config"], last_meta.get("discriminator_config"),
                            extra, half)  # fmt: skip
    return record


def _nimg(path: Path) -> int | None:
    """A kept snapshot's image count, from its name (None for another file)."""
    match = SNAPSHOT_NAME.fullmatch(path.name)
    return int(match.group(1)) if match else None
