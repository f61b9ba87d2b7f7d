import numpy as np
import pytest
from PIL import Image


def make_image_folder(path, count=24, resolution=16, seed=0):
    """A tiny dataset of coloured discs on coloured backgrounds."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        size = resolution * 4
        img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 255, 3)))
        cx, cy = rng.integers(size // 4, 3 * size // 4, 2)
        r = int(rng.integers(size // 8, size // 4))
        ImageDraw.Draw(img).ellipse(
            [cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.integers(0, 255, 3))
        )
        img.resize((resolution, resolution), Image.LANCZOS).save(path / f"{i:05d}.png")
    return path


@pytest.fixture
def tiny_dataset(tmp_path):
    return make_image_folder(tmp_path / "data")


@pytest.fixture
def fresh_dynamo():
    """Dynamo caches compiled code per code object for the whole process (recompile limit 8): tests
    that compile start clean, so that earlier tests' compilations of the same forward do not count."""
    import torch

    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
