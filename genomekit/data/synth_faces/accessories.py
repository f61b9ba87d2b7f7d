"""Drawing what a face wears: a shirt and necktie, a necklace, a hat, eyeglasses and earrings."""

from __future__ import annotations

import math

import numpy as np

from genomekit.data.synth_faces.body import _neck_half_width
from genomekit.data.synth_faces.canvas import CX, CY, EYE_DX, EYE_Y, HEAD_TOP, _Canvas, _ellipse, _shade
from genomekit.data.synth_faces.params import FaceParams

SHIRT = (245, 245, 245)


def _necktie(cv: _Canvas, p: FaceParams) -> None:
    """A white shirt front with its collar in place of the neckline, then the tie: a knot and a blade."""
    cv.polygon([[CX - 0.1, 0.8], [CX + 0.1, 0.8], [CX, 1.05]], SHIRT)
    cv.polygon([[CX - 0.02, 0.815], [CX + 0.02, 0.815], [CX + 0.014, 0.845], [CX - 0.014, 0.845]], p.tie_color)
    cv.polygon(
        [[CX - 0.014, 0.845], [CX + 0.014, 0.845], [CX + 0.036, 0.97], [CX, 1.0], [CX - 0.036, 0.97]], p.tie_color
    )
    cv.line([[CX - 0.09, 0.8], [CX - 0.02, 0.83]], (205, 205, 205), 0.01)
    cv.line([[CX + 0.09, 0.8], [CX + 0.02, 0.83]], (205, 205, 205), 0.01)


def _necklace(cv: _Canvas, p: FaceParams) -> None:
    """A chain around the base of the neck with a pendant."""
    chain = _ellipse(CX, 0.79, _neck_half_width(p) + 0.01, 0.045, 0.1, math.pi - 0.1, 16)
    cv.line(chain, p.necklace_color, 0.014)
    cv.ellipse(CX, 0.84, 0.018, 0.02, p.necklace_color, _shade(p.necklace_color, 0.6), 0.004)


def _hat(cv: _Canvas, p: FaceParams, a: float) -> None:
    """A crown over the hair, then the ``hat_style``: a beanie's band, a cap's peak or a band and brim."""
    top = HEAD_TOP - p.hair_volume - 0.025
    base = CY - 0.205  # just above the hairline's lowest point (CY - 0.195)
    w = a + 0.045
    crown = _ellipse(CX, base, w, base - top, math.pi, 2 * math.pi, 24)
    dark = _shade(p.hat_color, 0.7)
    cv.polygon(np.vstack([crown, [[CX + w, base + 0.01], [CX - w, base + 0.01]]]), p.hat_color)
    if p.hat_style == 0:  # beanie: a folded band
        cv.polygon(
            [[CX - w, base - 0.035], [CX + w, base - 0.035], [CX + w, base + 0.012], [CX - w, base + 0.012]], dark
        )
    elif p.hat_style == 1:  # cap: a peak to the front
        cv.polygon(_ellipse(CX + 0.03, base + 0.005, w * 0.85, 0.025, 0, math.pi, 14), dark)
    else:  # brimmed hat: band and wide brim
        cv.polygon([[CX - w, base - 0.03], [CX + w, base - 0.03], [CX + w, base], [CX - w, base]], dark)
        cv.polygon(_ellipse(CX, base, w + 0.07, 0.02), p.hat_color, dark, 0.006)


def _lens(cv: _Canvas, p: FaceParams, a: float, fx: float, side: int) -> None:
    """One side of the glasses: a faintly tinted lens in its frame, and the arm back to the ear."""
    ex = fx + side * EYE_DX
    box = [
        [ex - 0.058, EYE_Y - 0.038],
        [ex + 0.058, EYE_Y - 0.038],
        [ex + 0.058, EYE_Y + 0.042],
        [ex - 0.058, EYE_Y + 0.042],
    ]
    cv.polygon(box, (200, 225, 255, 60), p.frame_color, 0.016)
    cv.line([[ex + side * 0.058, EYE_Y - 0.025], [CX + side * (a + 0.01), EYE_Y - 0.01]], p.frame_color, 0.014)


def _glasses_bridge(cv: _Canvas, p: FaceParams, fx: float) -> None:
    """The bridge of the glasses between the lenses, over the nose."""
    cv.line([[fx - 0.024, EYE_Y - 0.01], [fx, EYE_Y - 0.018], [fx + 0.024, EYE_Y - 0.01]], p.frame_color, 0.014)


def _earrings(cv: _Canvas, p: FaceParams, a: float) -> None:
    """An earring under each ear lobe: a hoop, or a stud with a drop."""
    for side in (-1, 1):
        ex, ey = CX + side * (a + 0.006), CY + 0.06
        if p.earring_hoop:
            cv.line(_ellipse(ex, ey + 0.028, 0.024, 0.027), p.earring_color, 0.013)
        else:
            cv.ellipse(ex, ey + 0.005, 0.011, 0.011, p.earring_color)
            cv.ellipse(ex, ey + 0.036, 0.02, 0.026, p.earring_color, _shade(p.earring_color, 0.6), 0.004)
