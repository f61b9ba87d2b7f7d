"""The unit layout and drawing in it: colour arithmetic, point helpers and :class:`_Canvas`, which applies the pose.

Shapes are given in unit coordinates ([0, 1]^2, y down) and drawn through the face's :class:`Pose`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw

from genomekit.data.synth_faces.params import NEUTRAL_POSE, RGB, Pose

SUPERSAMPLE = 4  # draw at 4x the output side, then box-filter down
ZOOM = 1.12  # the face fills more of the image than the unit layout below suggests

# The neutral face in unit coordinates, before the pose; the body parts place themselves from these.
CX, CY = 0.5, 0.42  # head centre
HEAD_TOP = CY - 0.27  # top of the skull (a normal face's half height above CY); hair and hats rise above it
EYE_Y = CY - 0.022  # height of the eye centres
EYE_DX = 0.082  # eye centre to the face's midline


def _shade(color: RGB, factor: float) -> RGB:
    return tuple(min(255, max(0, int(c * factor))) for c in color)  # type: ignore[return-value]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _luma(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


@functools.lru_cache(maxsize=64)
def _unit_steps(n: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, n)


def _lin(start: float, stop: float, n: int) -> np.ndarray:
    """np.linspace for the few sizes the renderer uses, without its per-call overhead."""
    return start + (stop - start) * _unit_steps(n)


@functools.lru_cache(maxsize=256)
def _unit_arc(t0: float, t1: float, n: int) -> np.ndarray:
    t = np.linspace(t0, t1, n)
    return np.stack([np.cos(t), np.sin(t)], axis=1)  # (n, 2)


def _ellipse(cx: float, cy: float, rx: float, ry: float, t0: float = 0.0, t1: float = 2 * math.pi, n: int = 28):
    """(n, 2) points on an ellipse (or the arc from angle t0 to t1; y is down, so pi..2pi is the top)."""
    return _unit_arc(t0, t1, n) * (rx, ry) + (cx, cy)


PIVOT = np.array([0.5, 0.45])  # the pose rotates and scales about this point


def to_pixels(points, resolution: int, pose: Pose = NEUTRAL_POSE) -> np.ndarray:
    """Unit-layout points (K, 2) to pixel coordinates (K, 2) of an image of side ``resolution``."""
    canvas = _Canvas(1, pose, (0, 0, 0))
    return np.asarray(canvas.points(points)).reshape(-1, 2) * resolution


class _Canvas:
    """Draws shapes given in unit coordinates through the face's pose onto a PIL image."""

    def __init__(self, size: int, pose: Pose, background: RGB) -> None:
        self.size = size
        self.image = Image.new("RGB", (size, size), background)
        self.draw = ImageDraw.Draw(self.image, "RGBA")
        angle = math.radians(pose.roll)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        scale = pose.scale * ZOOM
        self.px = size * scale  # pixels per unit of length
        # pixels = points @ matrix + offset: rotate and scale about PIVOT, shift, then to pixels
        self.matrix = rot.T * scale * size
        self.offset = (PIVOT - PIVOT @ rot.T * scale + (pose.dx, pose.dy)) * size

    def points(self, pts) -> list[float]:
        """Flat pixel coordinates [x0, y0, x1, y1, ...] of unit-layout points (K, 2)."""
        return (np.asarray(pts, dtype=float).reshape(-1, 2) @ self.matrix + self.offset).ravel().tolist()

    def polygon(self, pts, fill, outline=None, width: float = 0.0) -> None:
        self.draw.polygon(self.points(pts), fill=fill)
        if outline is not None:
            self.line(np.vstack([pts, np.asarray(pts)[:1]]), outline, width)

    def line(self, pts, fill, width: float) -> None:
        self.draw.line(self.points(pts), fill=fill, width=max(1, round(width * self.px)), joint="curve")

    def dots(self, centres, radius: float, fill) -> None:
        r = radius * self.px
        xy = self.points(centres)
        for x, y in zip(xy[::2], xy[1::2], strict=True):
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)

    def ellipse(self, cx, cy, rx, ry, fill, outline=None, width: float = 0.0) -> None:
        self.polygon(_ellipse(cx, cy, rx, ry), fill, outline, width)
