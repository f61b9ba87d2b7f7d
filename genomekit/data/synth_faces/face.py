"""Drawing the face itself: its shape, ears and double chin, facial hair, and the cheeks.

``a`` and ``b`` are the face's half width and half height (:func:`_face_size`); ``fx`` is the midline
of the features, which moves sideways with the pose's yaw while the outline stays put.
"""

from __future__ import annotations

import math

import numpy as np

from genomekit.data.synth_faces.canvas import CX, CY, _Canvas, _ellipse, _shade
from genomekit.data.synth_faces.params import RGB, FaceParams

_STUBBLE = np.random.default_rng(7).uniform(-1, 1, (120, 2))  # one fixed pattern of stubble dots
_STUBBLE = _STUBBLE[(_STUBBLE**2).sum(1) < 1]  # in a disc, scaled to the jaw below


def _face_size(p: FaceParams) -> tuple[float, float]:
    """Half width and half height of the face."""
    return {"normal": (0.195, 0.27), "oval": (0.158, 0.29), "chubby": (0.245, 0.265)}[p.face_shape]


def _face_outline(p: FaceParams, a: float, b: float, n: int = 48) -> np.ndarray:
    """Face outline: round top; a square jaw for men, a tapered chin for women and oval faces."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    lower = s > 0
    exponent = np.where(lower, 3.0 if p.male else 2.0, 2.0)
    if p.face_shape == "chubby":
        exponent = np.where(lower, 2.6, 2.0)
    x = a * np.sign(c) * np.abs(c) ** (2 / exponent)
    y = b * np.sign(s) * np.abs(s) ** (2 / exponent)
    taper = {"normal": 0.0 if p.male else 0.22, "oval": 0.45, "chubby": 0.0}[p.face_shape]
    x = np.where(lower, x * (1 - taper * np.clip(s, 0, 1) ** 3), x)
    return np.stack([CX + x, CY + y], axis=1)


def _ears(cv: _Canvas, a: float, skin: RGB, edge: RGB) -> None:
    """Both ears, at the face's sides a little below its centre; the face covers their inner half."""
    for side in (-1, 1):
        cv.ellipse(CX + side * (a + 0.003), CY + 0.01, 0.03, 0.048, skin, edge, 0.006)


def _face(cv: _Canvas, p: FaceParams, a: float, b: float, skin: RGB, edge: RGB) -> None:
    """The face in skin with an outline; a double chin bulges below the chin, with a fold across it."""
    if p.double_chin:
        cv.ellipse(CX, CY + b + 0.008, 0.5 * a + 0.03, 0.06, skin, _shade(skin, 0.5), 0.016)
    cv.polygon(_face_outline(p, a, b), skin, edge, 0.006)
    if p.double_chin:  # a fold across the chin
        cv.line(_ellipse(CX, CY + b - 0.035, 0.075, 0.02, 0.3, math.pi - 0.3, 10), _shade(skin, 0.55), 0.012)


def _beard_shape(p: FaceParams, a: float, b: float) -> np.ndarray:
    """Where stubble and a full beard grow: the lower face under a line along the jaw and below the mouth.

    The upper line (``jaw``, offsets from the head centre) runs cheek to cheek below the mouth, so the
    upper lip stays the mustache's alone; the lower edge follows the face outline, dipping at the chin.
    """
    jaw = np.array(
        [
            [-a - 0.005, 0.09],
            [-0.11, 0.135],
            [-0.085, 0.215],
            [0.0, 0.225],
            [0.085, 0.215],
            [0.11, 0.135],
            [a + 0.005, 0.09],
        ]
    )
    outline = _face_outline(p, a, b, 64)
    below = outline[(outline[:, 1] > CY + 0.09)]
    below = below[np.argsort(below[:, 0])]
    return np.vstack(
        [
            [[CX - a - 0.005, CY + 0.09]],
            np.stack([below[:, 0], below[:, 1] + 0.03 * np.exp(-(((below[:, 0] - CX) / 0.12) ** 2))], 1),
            jaw[::-1] + [CX, CY],
        ]
    )


def _beard(cv: _Canvas, p: FaceParams, a: float, b: float, fx: float, color: RGB) -> None:
    """Stubble (a translucent shadow with dots), a full beard, or a goatee hanging below the chin."""
    if p.beard == "stubble":
        cv.polygon(_beard_shape(p, a, b), (45, 45, 60, 120))  # not the upper lip, which is the mustache's alone
        cv.dots(_STUBBLE * [0.85 * a, 0.075] + [CX, CY + 0.165], 0.004, (30, 30, 40, 160))
    elif p.beard == "full":
        cv.polygon(_beard_shape(p, a, b), color)
    elif p.beard == "goatee":
        cv.polygon(_ellipse(fx, CY + 0.225, 0.045, b - 0.195, 0, math.pi, 12), color)  # hangs below the chin


def _sideburns(cv: _Canvas, a: float, color: RGB) -> None:
    """A strip of hair down the inside of each face edge, from the temple to the ear lobe."""
    for side in (-1, 1):
        x_out = side * (a - 0.004)
        cv.polygon(
            np.asarray(
                [
                    [x_out, -0.1],
                    [x_out - side * 0.038, -0.1],
                    [x_out - side * 0.034, 0.075],
                    [x_out - side * 0.002, 0.075],
                ]
            )
            + [CX, CY],
            color,
        )


def _mustache(cv: _Canvas, fx: float, color: RGB) -> None:
    """A mustache over the upper lip, wider than the nose, its ends drooping towards the mouth corners."""
    top_y, low_y = CY + 0.095, CY + 0.148  # under the nose; the lips meet at CY + 0.175
    pts = [
        [-0.08, low_y + 0.012],
        [-0.062, top_y + 0.006],
        [0.0, top_y],
        [0.062, top_y + 0.006],
        [0.08, low_y + 0.012],
        [0.05, low_y - 0.004],
        [0.03, low_y],
        [0.0, low_y + 0.002],
        [-0.03, low_y],
        [-0.05, low_y - 0.004],
    ]
    cv.polygon(np.asarray(pts) + [fx, 0], color)


def _cheeks(cv: _Canvas, p: FaceParams, a: float, fx: float, skin: RGB) -> None:
    """Each cheek: a highlight and a crease under high cheekbones, a blush when rosy, folds with age."""
    for side in (-1, 1):
        if p.high_cheekbones:
            cv.ellipse(CX + side * 0.135, CY + 0.035, 0.035, 0.018, (255, 255, 255, 70))
            cv.line(
                [[CX + side * (a - 0.01), CY + 0.04], [CX + side * 0.14, CY + 0.075], [CX + side * 0.105, CY + 0.11]],
                _shade(skin, 0.62) + (210,),
                0.016,
            )
        if p.rosy_cheeks:
            cv.ellipse(fx + side * 0.095, CY + 0.06, 0.038, 0.026, (235, 60, 80, 150))
        if not p.young:  # nasolabial folds and marionette lines
            cv.line(
                [[fx + side * 0.045, CY + 0.085], [fx + side * 0.08, CY + 0.13], [fx + side * 0.09, CY + 0.18]],
                _shade(skin, 0.5),
                0.017,
            )
            cv.line([[fx + side * 0.08, CY + 0.2], [fx + side * 0.075, CY + 0.235]], _shade(skin, 0.55), 0.012)
