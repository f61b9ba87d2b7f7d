"""The attribute grid: for each of the 40 attributes the same face without and with it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from genomekit.data.celeba import CELEBA_ATTRIBUTES
from genomekit.data.synth_faces.labels import face_labels, with_attribute
from genomekit.data.synth_faces.params import RESOLUTIONS, FaceParams
from genomekit.data.synth_faces.render import render_params
from genomekit.data.synth_faces.sampling import sample_face
from genomekit.errors import UserError
from genomekit.fileio import atomic_path


def _find_example(name: str, start: int) -> FaceParams:
    """The first face from seed ``start`` on with attribute ``name``, sharp and hatless unless that is the name.

    No_Beard is shown on a man, so that its 'off' face (a full beard) is one the sampler could make.
    """
    column = CELEBA_ATTRIBUTES.index(name)
    for seed in range(start, start + 100_000):
        p = sample_face(np.random.default_rng(seed))
        if (
            face_labels(p)[column] == 1
            and (name == "Blurry" or not p.blurry)
            and (name == "Wearing_Hat" or not p.hat)
            and (name != "No_Beard" or p.male)
        ):
            return p
    raise RuntimeError(f"no face with {name} in 100000 seeds")  # unreachable for the sampler's rates


def attribute_pairs(seed: int = 0) -> Iterator[tuple[str, FaceParams, FaceParams]]:
    """For each of the 40 attributes: its name, a face without it and the same face with it.

    The 'with' face is a sampled face that has the attribute; the 'without' face is the same face with
    the attribute toggled off (for Attractive, the rule's expressive terms switched off).
    """
    for k, name in enumerate(CELEBA_ATTRIBUTES):
        on = _find_example(name, seed + 97 * k)  # a different face for each attribute
        if name == "Attractive":
            off = dataclasses.replace(on, smiling=False, heavy_makeup=False, high_cheekbones=False, lipstick=False)
        else:
            off = with_attribute(on, name, 0)
        yield name, off, on


def attribute_grid(resolution: int = 64, seed: int = 0, columns: int = 5, upscale: int = 2) -> Image.Image:
    """A labelled grid: for each attribute the same face without and with it, at ``resolution``.

    Each cell shows the attribute name over the 'off' and 'on' images, enlarged ``upscale`` times
    with nearest-neighbour so the pixels the classifier sees are what the reader sees.
    """
    side = resolution * upscale
    text_h, pad = 14, 6
    cell_w, cell_h = 2 * side + 3 * pad, side + text_h + 2 * pad
    rows = math.ceil(len(CELEBA_ATTRIBUTES) / columns)
    grid = Image.new("RGB", (columns * cell_w, rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for k, (name, off, on) in enumerate(attribute_pairs(seed)):
        x, y = (k % columns) * cell_w, (k // columns) * cell_h
        draw.text((x + pad, y + 2), f"{name}: off / on", fill=(0, 0, 0), font=font)
        for j, params in enumerate((off, on)):
            image = Image.fromarray(render_params(params, resolution)).resize((side, side), Image.Resampling.NEAREST)
            grid.paste(image, (x + pad + j * (side + pad), y + text_h + pad))
    return grid


def save_attribute_grid(out: str | Path, resolution: int = 64, seed: int = 0, upscale: int = 2) -> Path:
    """Write :func:`attribute_grid` as a PNG, atomically."""
    if resolution not in RESOLUTIONS:
        raise UserError(f"--resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {resolution}")
    if not 1 <= upscale <= 8:
        raise UserError(f"--upscale must be 1..8, got {upscale}")
    out = Path(out)
    with atomic_path(out) as tmp:
        attribute_grid(resolution, seed, upscale=upscale).save(tmp, format="PNG")
    return out
