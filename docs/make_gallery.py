"""Regenerate the README gallery (docs/images/default_*.png) from the shipped model and a demo run.

    .venv/bin/genomekit demo --out out/demo        # the statistics and conditional samples
    .venv/bin/python docs/make_gallery.py out/demo

Images are enlarged 2x (nearest neighbour) so the 32-px faces can be seen on a web page.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from PIL import Image

from genomekit.images import save_grid
from genomekit.training import load_generator

IMAGES = Path(__file__).resolve().parent / "images"
SCALE = 2


def enlarge(path: Path) -> None:
    image = Image.open(path)
    image.resize((image.width * SCALE, image.height * SCALE), Image.NEAREST).save(path)


def main(demo: Path) -> None:
    G = load_generator("default")
    with torch.no_grad():
        images = G(G.sample_codes(32, torch.Generator().manual_seed(2024)))
    save_grid(images, IMAGES / "default_samples.png", columns=8)
    enlarge(IMAGES / "default_samples.png")
    for name in (
        "Smiling_T0.5",
        "no-Smiling_T0.5",
        "Male_T0.5",
        "no-Male_T0.5",
        "Blond_Hair_T0.5",
        "no-Blond_Hair_T0.5",
    ):
        target = IMAGES / f"default_{name.replace('.', '').replace('-', '_')}.png"
        shutil.copyfile(demo / "samples" / name / "grid.png", target)
        enlarge(target)
    shutil.copyfile(demo / "report" / "polar.png", IMAGES / "default_polar.png")
    for path in sorted(IMAGES.glob("default_*.png")):
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo"))
