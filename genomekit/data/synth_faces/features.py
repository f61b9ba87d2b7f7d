"""Drawing the features: eyes with their make-up, eyebrows, lines of age, the nose and the mouth.

Features sit on ``fx``, the midline moved sideways by the pose's yaw; ``side`` is -1 for the left of
the image and +1 for the right.
"""

from __future__ import annotations

import math

import numpy as np

from genomekit.data.synth_faces.canvas import CY, EYE_DX, EYE_Y, _Canvas, _ellipse, _lin, _mix, _shade
from genomekit.data.synth_faces.params import RGB, FaceParams

LINER = (20, 15, 15)  # lid lines, eyeliner and lashes


def _eye(cv: _Canvas, p: FaceParams, fx: float, side: int, skin: RGB) -> None:
    """One eye: eyeshadow, bags under it, the white, iris and pupil, the lid line, liner and lashes."""
    ex = fx + side * EYE_DX
    eye_h = 0.008 if p.narrow_eyes else 0.025  # half height: narrow eyes are slits
    if p.heavy_makeup:
        cv.ellipse(ex, EYE_Y - 0.022, 0.05, 0.026, p.eyeshadow_color + (230,))
    if p.bags_under_eyes:
        bag = _ellipse(ex, EYE_Y + eye_h * 0.3, 0.047, eye_h * 0.7 + 0.036, 0.1, math.pi - 0.1, 14)
        cv.polygon(bag, _mix(_shade(skin, 0.62), (80, 30, 90), 0.35))
        cv.line(bag, _shade(skin, 0.42), 0.009)
    cv.ellipse(ex, EYE_Y, 0.04, eye_h, (250, 250, 250))
    cv.ellipse(ex, EYE_Y, 0.016, min(0.016, eye_h), p.eye_color)
    cv.ellipse(ex, EYE_Y, 0.007, min(0.007, eye_h), (10, 10, 10))
    lid = _ellipse(ex, EYE_Y, 0.04, eye_h, math.pi, 2 * math.pi, 12)
    cv.line(lid, LINER, 0.014 if p.heavy_makeup else 0.006)
    if p.heavy_makeup:  # winged liner
        cv.line([[ex + side * 0.038, EYE_Y - 0.002], [ex + side * 0.058, EYE_Y - 0.016]], LINER, 0.01)
    if not p.male:  # lashes
        for k in (0.55, 0.75, 0.92):
            x0 = ex + side * 0.04 * k
            y0 = EYE_Y - eye_h * math.sqrt(1 - k * k)
            cv.line([[x0, y0], [x0 + side * 0.012, y0 - 0.011]], LINER, 0.005)


def _eyebrow(cv: _Canvas, p: FaceParams, fx: float, side: int, color: RGB) -> None:
    """One eyebrow, inner end to outer end; arched brows peak sharply two thirds out, bushy ones are thick."""
    xs = _lin(0.032, 0.14, 9)  # from the midline
    t = (xs - 0.032) / 0.108
    if p.arched_eyebrows:
        ys = EYE_Y - 0.048 - 0.045 * np.clip(np.where(t < 0.62, t / 0.62, (1 - t) / 0.38), 0, 1) ** 0.8
    else:
        ys = EYE_Y - 0.058 - 0.005 * np.sin(t * math.pi)
    thick = 0.027 if p.bushy_eyebrows else 0.011
    brow_pts = np.stack([fx + side * xs, ys], 1)
    top_pts = brow_pts - [0, thick / 2]
    bottom_pts = brow_pts + [0, thick / 2]
    cv.polygon(np.vstack([top_pts, bottom_pts[::-1]]), color)


def _age_lines(cv: _Canvas, p: FaceParams, fx: float, skin: RGB) -> None:
    """Crow's feet beside the eyes, and two lines across the forehead where no bangs hide them."""
    for side in (-1, 1):
        x0 = fx + side * 0.128
        for dy in (-0.016, 0.0, 0.016):
            cv.line([[x0, EYE_Y + dy * 0.5], [x0 + side * 0.038, EYE_Y + dy * 2.0]], _shade(skin, 0.55), 0.011)
    if not p.bangs:
        for y in (CY - 0.168, CY - 0.145):
            cv.line(_ellipse(fx, y + 0.03, 0.085, 0.03, math.pi + 0.5, 2 * math.pi - 0.5, 9), _shade(skin, 0.6), 0.009)


def _nose(cv: _Canvas, p: FaceParams, fx: float, skin: RGB) -> None:
    """The nose from the bridge to the tip, pointy or rounded (a bulb when big), and the nostrils."""
    nose_w = 0.056 if p.big_nose else 0.022  # half width at the nostrils
    top, bottom = CY + 0.005, CY + (0.105 if p.big_nose else 0.088)  # from just below the eye line to the tip
    if p.pointy_nose:  # a long, sharp tip with one side in shadow
        tip = [0.0, bottom + 0.045]
        pts = np.asarray(
            [
                [-nose_w * 0.3, top],
                [-nose_w - 0.006, bottom - 0.02],
                tip,
                [nose_w + 0.006, bottom - 0.02],
                [nose_w * 0.3, top],
            ]
        ) + [fx, 0]
        cv.polygon(pts, _shade(skin, 0.82))
        cv.polygon([pts[2], pts[3], pts[4]], _shade(skin, 0.62))
        cv.line(pts[1:4], _shade(skin, 0.38), 0.011)
    else:  # a rounded tip, a bulb when big
        bulb = _ellipse(fx, bottom - 0.014, nose_w, 0.026 if p.big_nose else 0.012, 0, math.pi, 12)
        body = np.vstack([[[fx + nose_w * 0.35, top]], bulb, [[fx - nose_w * 0.35, top]]])
        cv.polygon(body, _shade(skin, 0.8 if p.big_nose else 0.86))
        cv.line(bulb, _shade(skin, 0.45 if p.big_nose else 0.6), 0.01 if p.big_nose else 0.007)
    for side in (-1, 1):  # nostrils
        cv.ellipse(fx + side * nose_w * 0.45, bottom - 0.006, nose_w * 0.28, 0.006, _shade(skin, 0.4))


def _mouth(cv: _Canvas, p: FaceParams, mx: float, lip: RGB, skin: RGB) -> None:
    """The lips (full when big), open with teeth or closed with a line, curved up with creases in a smile."""
    my = CY + 0.175  # where the lips meet at the middle
    hw = (0.08 if p.smiling else 0.058) + (0.01 if p.big_lips else 0.0)  # half width
    xs = _lin(-hw, hw, 17)
    u = xs / hw
    curve = my + (-0.046 if p.smiling else 0.006) * u**2  # where the lips meet: corners up in a smile
    bulge = np.sqrt(np.clip(1 - u**2, 0, 1))
    upper_t, lower_t = (0.032, 0.042) if p.big_lips else (0.009, 0.012)
    gap = (0.042 if p.smiling else 0.032) * bulge if p.mouth_open else np.zeros_like(xs)
    upper = np.stack([mx + xs, curve - gap / 2 - upper_t * bulge], 1)
    upper_in = np.stack([mx + xs, curve - gap / 2], 1)
    lower_in = np.stack([mx + xs, curve + gap / 2], 1)
    lower = np.stack([mx + xs, curve + gap / 2 + lower_t * bulge], 1)
    if p.mouth_open:
        cv.polygon(np.vstack([upper_in, lower_in[::-1]]), (70, 18, 24))
        teeth_h = np.minimum(gap * 0.45, 0.012)
        cv.polygon(np.vstack([upper_in, np.stack([mx + xs, curve - gap / 2 + teeth_h], 1)[::-1]]), (246, 246, 240))
    cv.polygon(np.vstack([upper, upper_in[::-1]]), lip)
    cv.polygon(np.vstack([lower_in, lower[::-1]]), lip)
    if not p.mouth_open:
        cv.line(np.stack([mx + xs, curve], 1), _shade(skin, 0.35), 0.007)
    if p.smiling:  # creases at the raised corners
        for side in (-1, 1):
            crease = [[hw + 0.002, -0.06], [hw + 0.014, -0.047], [hw + 0.008, -0.032]]
            cv.line(np.asarray(crease) * [side, 1] + [mx, my], _shade(skin, 0.55), 0.009)
