"""Drawing below the head: the neck, the shoulders in their clothes, and the neckline."""

from __future__ import annotations

import math

import numpy as np

from genomekit.data.synth_faces.canvas import CX, CY, _Canvas, _ellipse, _shade
from genomekit.data.synth_faces.params import RGB, FaceParams

SHOULDER_Y = 0.9  # the shoulders' outer corners; their curve rises 0.1 above them to the neck


def _neck_half_width(p: FaceParams) -> float:
    return 0.085 if p.male else 0.07


def _neck_and_shoulders(cv: _Canvas, p: FaceParams, skin: RGB) -> None:
    """The neck from under the jaw into the clothes, and the shoulders down to below the image."""
    neck_w = _neck_half_width(p)
    cv.polygon(
        [[CX - neck_w, CY + 0.15], [CX + neck_w, CY + 0.15], [CX + neck_w, 0.86], [CX - neck_w, 0.86]],
        _shade(skin, 0.9),
    )
    shoulder = 0.38 if p.male else 0.31  # half width
    cv.polygon(
        np.vstack(
            [
                [[CX - shoulder - 0.05, 1.1], [CX - shoulder, SHOULDER_Y]],
                _ellipse(CX, SHOULDER_Y, shoulder, 0.1, math.pi, 2 * math.pi, 16),
                [[CX + shoulder, SHOULDER_Y], [CX + shoulder + 0.05, 1.1]],
            ]
        ),
        p.clothes,
    )


def _neckline(cv: _Canvas, p: FaceParams, skin: RGB) -> None:
    """A round collar for men and a scoop neckline for women (a shirt and tie replace both)."""
    if p.male:
        collar = _ellipse(CX, 0.805, _neck_half_width(p) + 0.01, 0.03, 0, math.pi, 12)
        cv.polygon(collar, _shade(skin, 0.9))
        cv.line(collar, _shade(p.clothes, 0.7), 0.012)
    else:
        cv.polygon(_ellipse(CX, 0.8, 0.13, 0.08, 0, math.pi, 16), _shade(skin, 0.9))
