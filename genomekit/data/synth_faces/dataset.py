"""Writing a synthetic-face dataset: a StyleGAN-layout zip rendered in worker processes."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from genomekit.data.celeba import CELEBA_ATTRIBUTES
from genomekit.data.export import encode_png, image_name, zip_dataset_writer
from genomekit.data.synth_faces.params import RESOLUTIONS, VERSION
from genomekit.data.synth_faces.render import render_face
from genomekit.data.synth_faces.sampling import image_seed
from genomekit.errors import UserError

logger = logging.getLogger(__name__)

CHUNK = 128  # images per task sent to a worker process


def _render_chunk(task: tuple[int, int, int, int]) -> list[tuple[str, bytes, np.ndarray]]:
    """Worker: render and PNG-encode images ``start..stop-1`` of the dataset made with ``seed``."""
    seed, start, stop, resolution = task
    out = []
    for index in range(start, stop):
        image, labels = render_face(image_seed(seed, index), resolution)
        out.append((image_name(index), encode_png(image, compress_level=3), labels))
    return out


def write_synth_faces(
    out: Path, count: int, resolution: int, seed: int, workers: int | None = None, progress: bool = True
) -> Path:
    """Write ``count`` synthetic faces as a StyleGAN-layout zip with CelebA-named labels.

    Image ``i`` is ``render_face(image_seed(seed, i), resolution)``, so the dataset does not depend on
    ``workers``. The zip appears only when complete (an interrupted run leaves nothing behind).

    Args:
        out: the ``.zip`` to write (replaced if it exists).
        count: number of images.
        resolution: 32, 64 or 128.
        seed: dataset seed.
        workers: processes rendering in parallel; None uses every core, 1 renders in this process.
        progress: show a progress bar (count, rate, ETA) on stderr.

    Returns:
        ``out``.
    """
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise UserError(f"output must be a .zip file, got {out}")
    if count < 1:
        raise UserError(f"--count must be at least 1, got {count}")
    if resolution not in RESOLUTIONS:
        raise UserError(f"--resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {resolution}")
    if seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {seed}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    # CHUNK and _render_chunk are read off the package, so that patching genomekit.data.synth_faces.CHUNK
    # or ._render_chunk (as tests/data/test_synth_faces.py does) reaches this function.
    from genomekit.data import synth_faces as package

    chunk_size, render_chunk = package.CHUNK, package._render_chunk
    tasks = [(seed, start, min(start + chunk_size, count), resolution) for start in range(0, count, chunk_size)]
    generator = {
        "name": "genomekit.synth_faces",
        "version": VERSION,
        "seed": seed,
        "resolution": resolution,
        "count": count,
    }
    bar = tqdm(total=count, unit="img", desc=f"synth faces {resolution}px", disable=not progress, smoothing=0.1)
    with contextlib.ExitStack() as stack:
        stack.enter_context(bar)
        writer = stack.enter_context(zip_dataset_writer(out, CELEBA_ATTRIBUTES, {"generator": generator}))
        if workers == 1 or len(tasks) == 1:
            chunks: Iterator[list] = map(render_chunk, tasks)
        else:
            pool = stack.enter_context(multiprocessing.Pool(min(workers, len(tasks))))
            chunks = pool.imap(render_chunk, tasks)  # ordered, streamed into the zip
        for chunk in chunks:
            for name, png, labels in chunk:
                writer.add(name, png, labels)
            bar.update(len(chunk))
    logger.info("wrote %d faces at %dpx to %s", count, resolution, out)
    return out
