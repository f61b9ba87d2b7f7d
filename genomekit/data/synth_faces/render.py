"""Rendering a :class:`FaceParams` with PIL: :func:`render_params` draws it, :func:`render_face` from a seed."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from PIL import ImageFilter

from genomekit.data.synth_faces.canvas import CX, CY, _Canvas, _ellipse, _lin, _luma, _mix, _shade
from genomekit.data.synth_faces.labels import face_labels, with_attribute
from genomekit.data.synth_faces.params import HAIR_COLORS, RESOLUTIONS, RGB, FaceParams
from genomekit.data.synth_faces.sampling import sample_face

SUPERSAMPLE = 4  # draw at 4x the output side, then box-filter down
_STUBBLE = np.random.default_rng(7).uniform(-1, 1, (120, 2))  # one fixed pattern of stubble dots
_STUBBLE = _STUBBLE[(_STUBBLE**2).sum(1) < 1]  # in a disc, scaled to the jaw below


def _facial_hair_color(hair: RGB, skin: RGB) -> RGB:
    """Hair colour darkened until it is at least 80 luma levels below the skin (blond beards show)."""
    color = hair
    while _luma(skin) - _luma(color) < 80 and _luma(color) > 12:
        color = _shade(color, 0.8)
    return color


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


def _hair_back(cv: _Canvas, p: FaceParams, a: float, hair: RGB, strand: RGB) -> None:
    """Hair behind the head and down the sides to ``hair_length``, with the texture's strands."""
    top = CY - 0.27 - p.hair_volume
    w = a + 0.045
    arc = _ellipse(CX, CY - 0.02, w, CY - 0.02 - top, math.pi, 2 * math.pi, 24)
    bottom = max(p.hair_length, CY)
    right = _lin(CY - 0.02, bottom, 10)
    wave = 0.018 * np.sin(_lin(0, 5 * math.pi, 10)) if p.hair_texture == "wavy" else 0.0
    flare = _lin(0, 0.03 if p.hair_length > 0.6 else 0.0, 10)
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
    low = CY - 0.195 + 0.0 * p.hair_part
    u = xs / (a + 0.01)
    ys = low - 0.01 * (u - 0.3 * p.hair_part) ** 2
    ys = np.where(np.abs(u) > 0.8, CY - 0.10 - (1 - np.abs(u)) * 0.5, ys)  # down to the temples
    if p.receding_hairline:  # high forehead with deep bays at the temples (an M)
        ys = low - 0.05 - 0.075 * np.exp(-(((np.abs(u) - 0.5) / 0.22) ** 2))
        ys = np.where(np.abs(u) > 0.85, CY - 0.14, ys)
    return np.stack([CX + xs, ys], 1)


def _hair_cap(cv: _Canvas, p: FaceParams, a: float, hair: RGB, strand: RGB) -> None:
    """Hair on top of the head down to the hairline, with texture strands."""
    top = CY - 0.27 - p.hair_volume
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


def _hat(cv: _Canvas, p: FaceParams, a: float) -> None:
    top = CY - 0.27 - p.hair_volume - 0.025
    base = CY - 0.205
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


def _mouth(cv: _Canvas, p: FaceParams, mx: float, lip: RGB, skin: RGB) -> None:
    my = CY + 0.175
    hw = (0.08 if p.smiling else 0.058) + (0.01 if p.big_lips else 0.0)
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


def render_params(p: FaceParams, resolution: int) -> np.ndarray:
    """Draw the face ``p`` as uint8 (resolution, resolution, 3)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
    cv = _Canvas(resolution * SUPERSAMPLE, p.pose, p.background)
    a, b = _face_size(p)
    skin = p.skin
    hair = _shade(HAIR_COLORS[p.hair_color], p.hair_shade)
    strand = _mix(hair, (255, 255, 255), 0.45) if _luma(hair) < 110 else _shade(hair, 0.55)
    facial_hair = _facial_hair_color(hair, skin)
    brow = _shade(_facial_hair_color(hair, skin), 0.8)
    edge = _shade(skin, 0.72)
    fx = CX + p.pose.yaw  # features turn with the yaw

    # 1. hair behind the head, torso, neck
    if not p.bald:
        _hair_back(cv, p, a, hair, strand)
    neck_w = 0.085 if p.male else 0.07
    cv.polygon(
        [[CX - neck_w, CY + 0.15], [CX + neck_w, CY + 0.15], [CX + neck_w, 0.86], [CX - neck_w, 0.86]],
        _shade(skin, 0.9),
    )
    shoulder = 0.38 if p.male else 0.31
    cv.polygon(
        np.vstack(
            [
                [[CX - shoulder - 0.05, 1.1], [CX - shoulder, 0.9]],
                _ellipse(CX, 0.9, shoulder, 0.1, math.pi, 2 * math.pi, 16),
                [[CX + shoulder, 0.9], [CX + shoulder + 0.05, 1.1]],
            ]
        ),
        p.clothes,
    )
    if p.necktie:  # white shirt front and collar, then the tie
        cv.polygon([[CX - 0.1, 0.8], [CX + 0.1, 0.8], [CX, 1.05]], (245, 245, 245))
        cv.polygon([[CX - 0.02, 0.815], [CX + 0.02, 0.815], [CX + 0.014, 0.845], [CX - 0.014, 0.845]], p.tie_color)
        cv.polygon(
            [[CX - 0.014, 0.845], [CX + 0.014, 0.845], [CX + 0.036, 0.97], [CX, 1.0], [CX - 0.036, 0.97]], p.tie_color
        )
        cv.line([[CX - 0.09, 0.8], [CX - 0.02, 0.83]], (205, 205, 205), 0.01)
        cv.line([[CX + 0.09, 0.8], [CX + 0.02, 0.83]], (205, 205, 205), 0.01)
    elif p.male:
        cv.polygon(_ellipse(CX, 0.805, neck_w + 0.01, 0.03, 0, math.pi, 12), _shade(skin, 0.9))
        cv.line(_ellipse(CX, 0.805, neck_w + 0.01, 0.03, 0, math.pi, 12), _shade(p.clothes, 0.7), 0.012)
    else:  # scoop neckline
        cv.polygon(_ellipse(CX, 0.8, 0.13, 0.08, 0, math.pi, 16), _shade(skin, 0.9))
    if p.necklace:
        chain = _ellipse(CX, 0.79, neck_w + 0.01, 0.045, 0.1, math.pi - 0.1, 16)
        cv.line(chain, p.necklace_color, 0.014)
        cv.ellipse(CX, 0.84, 0.018, 0.02, p.necklace_color, _shade(p.necklace_color, 0.6), 0.004)

    # 2. ears, double chin, face
    for side in (-1, 1):
        cv.ellipse(CX + side * (a + 0.003), CY + 0.01, 0.03, 0.048, skin, edge, 0.006)
    if p.double_chin:
        cv.ellipse(CX, CY + b + 0.008, 0.5 * a + 0.03, 0.06, skin, _shade(skin, 0.5), 0.016)
    cv.polygon(_face_outline(p, a, b), skin, edge, 0.006)
    if p.double_chin:  # a fold across the chin
        cv.line(_ellipse(CX, CY + b - 0.035, 0.075, 0.02, 0.3, math.pi - 0.3, 10), _shade(skin, 0.55), 0.012)

    # 3. facial hair regions: stubble and full beard cover the jaw; the upper lip stays for the mustache
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
    beard_shape = np.vstack(
        [
            [[CX - a - 0.005, CY + 0.09]],
            np.stack([below[:, 0], below[:, 1] + 0.03 * np.exp(-(((below[:, 0] - CX) / 0.12) ** 2))], 1),
            jaw[::-1] + [CX, CY],
        ]
    )
    if p.beard == "stubble":
        cv.polygon(beard_shape, (45, 45, 60, 120))  # not the upper lip, which is the mustache's alone
        cv.dots(_STUBBLE * [0.85 * a, 0.075] + [CX, CY + 0.165], 0.004, (30, 30, 40, 160))
    elif p.beard == "full":
        cv.polygon(beard_shape, facial_hair)
    elif p.beard == "goatee":
        cv.polygon(_ellipse(fx, CY + 0.225, 0.045, b - 0.195, 0, math.pi, 12), facial_hair)  # hangs below the chin
    if p.sideburns:
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
                facial_hair,
            )

    # 4. hair on the head, bangs, hat
    if not p.bald:
        _hair_cap(cv, p, a, hair, strand)
        if p.bangs:
            hem_y = CY - 0.128
            xs = _lin(0.8 * a, -0.8 * a, 11)
            ys = hem_y + (0.012 * (np.arange(11) % 2) if p.bangs_jagged else 0.004 * np.cos(xs * 20))
            cv.polygon(
                np.vstack([[[CX + 0.85 * a, CY - 0.22]], np.stack([CX + xs, ys], 1), [[CX - 0.85 * a, CY - 0.22]]]),
                hair,
            )
            for x in _lin(-0.6, 0.6, 6) * a:
                cv.line([[CX + x, CY - 0.2], [CX + x * 1.1, hem_y - 0.005]], _mix(hair, strand, 0.6), 0.006)
    if p.hat:
        _hat(cv, p, a)

    # 5. eyes, eyebrows, make-up, glasses
    eye_y = CY - 0.022
    eye_h = 0.008 if p.narrow_eyes else 0.025
    for side in (-1, 1):
        ex = fx + side * 0.082
        if p.heavy_makeup:
            cv.ellipse(ex, eye_y - 0.022, 0.05, 0.026, p.eyeshadow_color + (230,))
        if p.bags_under_eyes:
            bag = _ellipse(ex, eye_y + eye_h * 0.3, 0.047, eye_h * 0.7 + 0.036, 0.1, math.pi - 0.1, 14)
            cv.polygon(bag, _mix(_shade(skin, 0.62), (80, 30, 90), 0.35))
            cv.line(bag, _shade(skin, 0.42), 0.009)
        cv.ellipse(ex, eye_y, 0.04, eye_h, (250, 250, 250))
        cv.ellipse(ex, eye_y, 0.016, min(0.016, eye_h), p.eye_color)
        cv.ellipse(ex, eye_y, 0.007, min(0.007, eye_h), (10, 10, 10))
        lid = _ellipse(ex, eye_y, 0.04, eye_h, math.pi, 2 * math.pi, 12)
        cv.line(lid, (20, 15, 15), 0.014 if p.heavy_makeup else 0.006)
        if p.heavy_makeup:  # winged liner
            cv.line([[ex + side * 0.038, eye_y - 0.002], [ex + side * 0.058, eye_y - 0.016]], (20, 15, 15), 0.01)
        if not p.male:  # lashes
            for k in (0.55, 0.75, 0.92):
                x0 = ex + side * 0.04 * k
                y0 = eye_y - eye_h * math.sqrt(1 - k * k)
                cv.line([[x0, y0], [x0 + side * 0.012, y0 - 0.011]], (20, 15, 15), 0.005)
        # eyebrow: inner end to outer end; arched brows peak sharply two thirds out
        xs = _lin(0.032, 0.14, 9)
        t = (xs - 0.032) / 0.108
        if p.arched_eyebrows:
            ys = eye_y - 0.048 - 0.045 * np.clip(np.where(t < 0.62, t / 0.62, (1 - t) / 0.38), 0, 1) ** 0.8
        else:
            ys = eye_y - 0.058 - 0.005 * np.sin(t * math.pi)
        thick = 0.027 if p.bushy_eyebrows else 0.011
        brow_pts = np.stack([fx + side * xs, ys], 1)
        top_pts = brow_pts - [0, thick / 2]
        bottom_pts = brow_pts + [0, thick / 2]
        cv.polygon(np.vstack([top_pts, bottom_pts[::-1]]), brow)
        if p.eyeglasses:
            box = [
                [ex - 0.058, eye_y - 0.038],
                [ex + 0.058, eye_y - 0.038],
                [ex + 0.058, eye_y + 0.042],
                [ex - 0.058, eye_y + 0.042],
            ]
            cv.polygon(box, (200, 225, 255, 60), p.frame_color, 0.016)
            cv.line([[ex + side * 0.058, eye_y - 0.025], [CX + side * (a + 0.01), eye_y - 0.01]], p.frame_color, 0.014)
    if p.eyeglasses:
        cv.line([[fx - 0.024, eye_y - 0.01], [fx, eye_y - 0.018], [fx + 0.024, eye_y - 0.01]], p.frame_color, 0.014)
    if not p.young:  # crow's feet, and forehead lines where no bangs hide them
        for side in (-1, 1):
            x0 = fx + side * 0.128
            for dy in (-0.016, 0.0, 0.016):
                cv.line([[x0, eye_y + dy * 0.5], [x0 + side * 0.038, eye_y + dy * 2.0]], _shade(skin, 0.55), 0.011)
        if not p.bangs:
            for y in (CY - 0.168, CY - 0.145):
                cv.line(
                    _ellipse(fx, y + 0.03, 0.085, 0.03, math.pi + 0.5, 2 * math.pi - 0.5, 9), _shade(skin, 0.6), 0.009
                )

    # 6. cheeks, wrinkles, nose
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
    # 7. mouth, mustache (on the upper lip, where no beard grows), nose
    nose_w = 0.056 if p.big_nose else 0.022
    top, bottom = CY + 0.005, CY + (0.105 if p.big_nose else 0.088)
    lip = p.lipstick_color if p.lipstick else _mix(_shade(skin, 0.72), (150, 60, 70), 0.35)
    if p.mustache:  # drawn before the lips so that a smile's corners stay on top; wider than the nose
        top_y, low_y = CY + 0.095, CY + 0.148
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
        cv.polygon(np.asarray(pts) + [fx, 0], facial_hair)
    _mouth(cv, p, fx, lip, skin)
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

    # 8. earrings on top of everything at the sides
    if p.earrings:
        for side in (-1, 1):
            ex, ey = CX + side * (a + 0.006), CY + 0.06
            if p.earring_hoop:
                cv.line(_ellipse(ex, ey + 0.028, 0.024, 0.027), p.earring_color, 0.013)
            else:
                cv.ellipse(ex, ey + 0.005, 0.011, 0.011, p.earring_color)
                cv.ellipse(ex, ey + 0.036, 0.02, 0.026, p.earring_color, _shade(p.earring_color, 0.6), 0.004)

    image = cv.image.reduce(SUPERSAMPLE)
    if p.blurry:
        image = image.filter(ImageFilter.GaussianBlur(radius=max(0.9, 1.1 * resolution / 64)))
    return np.asarray(image, dtype=np.uint8)


def render_face(
    seed: int, resolution: int, overrides: Mapping[str, bool | int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Render the face of ``seed``: uint8 (H, W, 3) and float32 (40,) labels in CELEBA_ATTRIBUTES order.

    The same seed gives the same face (and labels) at every resolution.

    Args:
        seed: any non-negative integer.
        resolution: 32, 64 or 128.
        overrides: CelebA names set on (1) or off (0) after sampling, see :func:`with_attribute`.
    """
    params = sample_face(np.random.default_rng(seed))
    for name, value in (overrides or {}).items():
        params = with_attribute(params, name, value)
    return render_params(params, resolution), face_labels(params)
