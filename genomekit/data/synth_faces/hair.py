"""Drawing the hair: behind the head and down the sides, the cap down to the hairline, and bangs.

Strands in the texture's pattern (straight or wavy) are drawn over both, so ``Straight_Hair`` and
``Wavy_Hair`` are visible; ``hair_length`` and ``hair_volume`` are variation no label names.
"""

from __future__ import annotations

import math

import numpy as np

from genomekit.data.synth_faces.canvas import CX, CY, HEAD_TOP, _Canvas, _ellipse, _lin, _mix
from genomekit.data.synth_faces.params import RGB, FaceParams


def _hair_back(cv: _Canvas, p: FaceParams, a: float, hair: RGB, strand: RGB) -> None:
    """Hair behind the head and down the sides to ``hair_length``, with the texture's strands."""
    top = HEAD_TOP - p.hair_volume
    w = a + 0.045  # a little wider than the face
    arc = _ellipse(CX, CY - 0.02, w, CY - 0.02 - top, math.pi, 2 * math.pi, 24)
    bottom = max(p.hair_length, CY)
    right = _lin(CY - 0.02, bottom, 10)
    wave = 0.018 * np.sin(_lin(0, 5 * math.pi, 10)) if p.hair_texture == "wavy" else 0.0
    flare = _lin(0, 0.03 if p.hair_length > 0.6 else 0.0, 10)  # long hair widens towards its ends
    side_r = np.stack([CX + w + flare + wave, right], 1)
    side_l = np.stack([CX - w - flare - wave, right], 1)[::-1]
    hem = np.stack([_lin(CX + w, CX - w, 12), np.full(12, bottom)], 1)
    if p.hair_texture == "wavy":
        hem[:, 1] += 0.012 * np.abs(np.sin(_lin(0, 6 * math.pi, 12)))
    cv.polygon(np.vstack([arc, side_r, hem, side_l]), hair)
    if p.hair_texture != "plain" and bottom > CY + 0.05:  # strands down both sides
        for side in (-1, 1):
            for k in range(3):
                x0 = CX + side * (a + 0.012 + 0.016 * k)
                ys = _lin(CY - 0.08, bottom - 0.015, 12)
                if p.hair_texture == "wavy":
                    xs = x0 + side * 0.013 * np.sin(ys * 70 + k)
                else:
                    xs = np.full_like(ys, x0 + side * 0.004 * (ys - ys[0]) / (ys[-1] - ys[0]))
                cv.line(np.stack([xs, ys], 1), strand, 0.01)


def _hairline(p: FaceParams, a: float) -> np.ndarray:
    """Points along the front edge of the hair, right temple to left temple."""
    xs = _lin(a + 0.01, -(a + 0.01), 15)
    low = CY - 0.195  # the hairline's lowest point, mid-forehead
    u = xs / (a + 0.01)
    ys = low - 0.01 * (u - 0.3 * p.hair_part) ** 2
    ys = np.where(np.abs(u) > 0.8, CY - 0.10 - (1 - np.abs(u)) * 0.5, ys)  # down to the temples
    if p.receding_hairline:  # high forehead with deep bays at the temples (an M)
        ys = low - 0.05 - 0.075 * np.exp(-(((np.abs(u) - 0.5) / 0.22) ** 2))
        ys = np.where(np.abs(u) > 0.85, CY - 0.14, ys)
    return np.stack([CX + xs, ys], 1)


def _hair_cap(cv: _Canvas, p: FaceParams, a: float, hair: RGB, strand: RGB) -> None:
    """Hair on top of the head down to the hairline, with texture strands."""
    top = HEAD_TOP - p.hair_volume
    w = a + 0.03
    arc = _ellipse(CX, CY - 0.08, w, CY - 0.08 - top, math.pi, 2 * math.pi, 24)  # left to right
    if p.hair_texture == "wavy":
        bumps = 0.008 * np.abs(np.sin(_lin(0, 7 * math.pi, len(arc))))
        arc = arc + np.stack([np.zeros(len(arc)), -bumps], 1)
    line = _hairline(p, a)
    cv.polygon(np.vstack([arc, [[CX + w, CY - 0.08]], line, [[CX - w, CY - 0.08]]]), hair)
    if p.hair_texture != "plain":
        for k, x in enumerate(_lin(-0.7, 0.7, 7) * a):
            y0 = CY - 0.08 - (CY - 0.08 - top) * math.sqrt(max(0.0, 1 - (x / w) ** 2)) + 0.012
            y1 = np.interp(x, line[::-1, 0] - CX, line[::-1, 1]) - 0.01
            ys = _lin(y0, y1, 8)
            if p.hair_texture == "wavy":
                xs = CX + x + 0.012 * np.sin(ys * 90 + k)
            else:
                xs = CX + x + 0.15 * x * (ys - y0)
            cv.line(np.stack([xs, ys], 1), strand, 0.01)


def _bangs(cv: _Canvas, p: FaceParams, a: float, hair: RGB, strand: RGB) -> None:
    """A fringe from the hairline down over the forehead, its hem jagged or gently rippled, with strands."""
    hem_y = CY - 0.128  # the fringe's lower edge, well above the eyebrows
    xs = _lin(0.8 * a, -0.8 * a, 11)
    ys = hem_y + (0.012 * (np.arange(11) % 2) if p.bangs_jagged else 0.004 * np.cos(xs * 20))
    cv.polygon(
        np.vstack([[[CX + 0.85 * a, CY - 0.22]], np.stack([CX + xs, ys], 1), [[CX - 0.85 * a, CY - 0.22]]]),
        hair,
    )
    for x in _lin(-0.6, 0.6, 6) * a:
        cv.line([[CX + x, CY - 0.2], [CX + x * 1.1, hem_y - 0.005]], _mix(hair, strand, 0.6), 0.006)
