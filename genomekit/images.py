"""Image files: tensors in [-1, 1] to PNG grids, single PNGs and animated GIFs, written atomically;
and image files a user names, read back as tensors (``read_images``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from genomekit.errors import UserError
from genomekit.fileio import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def to_uint8(images: Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    return x.permute(0, 2, 3, 1).numpy()


def _pil(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def grid_array(images: Tensor, columns: int, padding: int = 0) -> np.ndarray:
    """Tile (N, C, H, W) images row by row into one (rows*H, columns*W, C) uint8 array."""
    pixels = to_uint8(images)
    n, h, w, c = pixels.shape
    rows = math.ceil(n / columns)
    canvas = np.full((rows * (h + padding) - padding, columns * (w + padding) - padding, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = r * (h + padding), col * (w + padding)
        canvas[y : y + h, x : x + w] = pixels[i]
    return canvas


def save_grid(images: Tensor, path: str | Path, columns: int, padding: int = 0) -> None:
    """Write images (N, C, H, W) in [-1, 1] as one PNG grid, atomically."""
    with atomic_path(path) as tmp:
        _pil(grid_array(images, columns, padding)).save(tmp, format="PNG")


def save_images(images: Tensor, folder: str | Path, names: Sequence[str]) -> list[Path]:
    """Write each image (N, C, H, W) in [-1, 1] as its own PNG ``folder/name``, atomically."""
    folder = Path(folder)
    paths = []
    for array, name in zip(to_uint8(images), names, strict=True):
        path = folder / name
        with atomic_path(path) as tmp:
            _pil(array).save(tmp, format="PNG")
        paths.append(path)
    return paths


def save_gif(frames: Tensor, path: str | Path, duration_ms: int = 120, scale: int = 1) -> None:
    """Write frames (T, C, H, W) in [-1, 1] as a looping GIF that plays forward then back, atomically."""
    pictures = [_pil(a) for a in to_uint8(frames)]
    if scale > 1:
        pictures = [p.resize((p.width * scale, p.height * scale), Image.NEAREST) for p in pictures]
    sequence = pictures + pictures[-2:0:-1]
    with atomic_path(path) as tmp:
        sequence[0].save(tmp, format="GIF", save_all=True, append_images=sequence[1:], duration=duration_ms, loop=0)


def image_paths(paths: Sequence[str | Path], flag: str = "--image") -> list[Path]:
    """The image files ``paths`` name: files as given, directories as their image files (sorted).

    Raises:
        UserError: a path that does not exist, or a directory without images.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not inside:
                raise UserError(f"{flag} {path}: no {', '.join(IMAGE_SUFFIXES)} files in this directory")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{flag} {path}: no such file or directory")
    if not found:
        raise UserError(f"give at least one image with {flag}")
    return found


def read_images(paths: Sequence[Path], resolution: int, channels: int = 3, flag: str = "--image") -> Tensor:
    """Images (N, C, R, R) float in [-1, 1] from files that must be R x R pixels.

    Colour images are read as RGB (an alpha channel is dropped), and grey ones as one channel when
    ``channels`` is 1 (an RGB file for a 1-channel model is converted to grey).

    Raises:
        UserError: a file that is not a readable image, not square, or not R x R.
    """
    arrays = []
    for path in paths:
        try:
            with Image.open(path) as img:
                img.load()
                size = img.size
                picture = img.convert("RGB" if channels == 3 else "L")
        except (OSError, UnidentifiedImageError) as error:
            reason = "not an image file" if isinstance(error, UnidentifiedImageError) else str(error)
            raise UserError(f"{flag} {path}: cannot read it ({reason})") from None
        width, height = size
        if width != height:
            raise UserError(f"{flag} {path}: {width}x{height} px is not square; crop it to a square first")
        if width != resolution:
            raise UserError(
                f"{flag} {path}: {width}x{height} px, but the model makes {resolution}x{resolution} px images; "
                "resize it first"
            )
        array = np.asarray(picture, dtype=np.uint8)
        arrays.append(array[:, :, None] if array.ndim == 2 else array)
    pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # (N, C, R, R) uint8
    return pixels.float() / 127.5 - 1
