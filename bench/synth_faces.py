"""Synthetic-faces throughput: images per second rendered, and written to a zip, per resolution and workers.

Run:  .venv/bin/python bench/synth_faces.py --count 2000 --workers 1 2
Prints one row per (resolution, workers): rendering alone (one process) and the full dataset writer
(render + PNG encode + zip), in images per wall-clock second and per CPU second (this process and its
workers), measured in this run. On a shared machine the wall rate depends on the other jobs; the
CPU rate does not, and the wall rate of an idle machine is about CPU rate x cores used.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from genomekit.data.synth_faces import RESOLUTIONS, render_face, write_synth_faces


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def render_rate(resolution: int, count: int) -> tuple[float, float]:
    """Images per wall second and per CPU second of render_face in this process."""
    start, cpu = time.perf_counter(), cpu_seconds()
    for seed in range(count):
        render_face(seed, resolution)
    return count / (time.perf_counter() - start), count / (cpu_seconds() - cpu)


def write_rate(resolution: int, count: int, workers: int) -> tuple[float, float, float]:
    """Images per wall second, per CPU second, and bytes per image of write_synth_faces."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "faces.zip"
        start, cpu = time.perf_counter(), cpu_seconds()
        write_synth_faces(out, count=count, resolution=resolution, seed=0, workers=workers, progress=False)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        return count / wall, count / cpu, out.stat().st_size / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="images per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--resolutions", type=int, nargs="+", default=list(RESOLUTIONS))
    args = parser.parse_args()
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, images per measurement: {args.count}")
    print(
        f"{'resolution':>10} {'render img/s':>13} {'render img/cpu-s':>17} {'workers':>8} "
        f"{'write img/s':>12} {'write img/cpu-s':>16} {'KiB/img':>8}"
    )
    for resolution in args.resolutions:
        render_face(0, resolution)  # warm caches
        rendered, rendered_cpu = render_rate(resolution, min(args.count, 500))
        for workers in args.workers:
            written, written_cpu, size = write_rate(resolution, args.count, workers)
            print(
                f"{resolution:>10} {rendered:>13.0f} {rendered_cpu:>17.0f} {workers:>8} "
                f"{written:>12.0f} {written_cpu:>16.0f} {size / 1024:>8.1f}"
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
