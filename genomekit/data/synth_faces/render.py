"""Rendering a :class:`FaceParams` with PIL: :func:`render_params` draws it, :func:`render_face` from a seed.

The body parts are drawn by one function each (``body``, ``face``, ``hair``, ``features`` and
``accessories``), back to front in the order :func:`render_params` lists, each over the ones before.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import ImageFilter

from genomekit.data.synth_faces.accessories import _earrings, _glasses_bridge, _hat, _lens, _necklace, _necktie
from genomekit.data.synth_faces.body import _neck_and_shoulders, _neckline
from genomekit.data.synth_faces.canvas import CX, SUPERSAMPLE, _Canvas, _luma, _mix, _shade
from genomekit.data.synth_faces.face import _beard, _cheeks, _ears, _face, _face_size, _mustache, _sideburns
from genomekit.data.synth_faces.features import _age_lines, _eye, _eyebrow, _mouth, _nose
from genomekit.data.synth_faces.hair import _bangs, _hair_back, _hair_cap
from genomekit.data.synth_faces.labels import face_labels, with_attribute
from genomekit.data.synth_faces.params import HAIR_COLORS, RESOLUTIONS, RGB, FaceParams
from genomekit.data.synth_faces.sampling import sample_face


def _facial_hair_color(hair: RGB, skin: RGB) -> RGB:
    """Hair colour darkened until it is at least 80 luma levels below the skin (blond beards show)."""
    color = hair
    while _luma(skin) - _luma(color) < 80 and _luma(color) > 12:
        color = _shade(color, 0.8)
    return color


def render_params(p: FaceParams, resolution: int) -> np.ndarray:
    """Draw the face ``p`` as uint8 (resolution, resolution, 3)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
    cv = _Canvas(resolution * SUPERSAMPLE, p.pose, p.background)
    a, b = _face_size(p)  # half width and half height of the face
    skin = p.skin
    hair = _shade(HAIR_COLORS[p.hair_color], p.hair_shade)
    strand = _mix(hair, (255, 255, 255), 0.45) if _luma(hair) < 110 else _shade(hair, 0.55)
    facial_hair = _facial_hair_color(hair, skin)
    brow = _shade(facial_hair, 0.8)
    edge = _shade(skin, 0.72)  # outlines of the face and ears
    fx = CX + p.pose.yaw  # features turn with the yaw

    # 1. hair behind the head, neck and shoulders, the neckline (or a shirt and tie), necklace
    if not p.bald:
        _hair_back(cv, p, a, hair, strand)
    _neck_and_shoulders(cv, p, skin)
    if p.necktie:
        _necktie(cv, p)
    else:
        _neckline(cv, p, skin)
    if p.necklace:
        _necklace(cv, p)

    # 2. ears, then the face over them (and a double chin)
    _ears(cv, a, skin, edge)
    _face(cv, p, a, b, skin, edge)

    # 3. facial hair on the jaw: stubble, a full beard or a goatee; sideburns
    _beard(cv, p, a, b, fx, facial_hair)
    if p.sideburns:
        _sideburns(cv, a, facial_hair)

    # 4. hair on the head, bangs, hat
    if not p.bald:
        _hair_cap(cv, p, a, hair, strand)
        if p.bangs:
            _bangs(cv, p, a, hair, strand)
    if p.hat:
        _hat(cv, p, a)

    # 5. each eye with its eyebrow and lens, the glasses' bridge, lines of age around the eyes
    for side in (-1, 1):
        _eye(cv, p, fx, side, skin)
        _eyebrow(cv, p, fx, side, brow)
        if p.eyeglasses:
            _lens(cv, p, a, fx, side)
    if p.eyeglasses:
        _glasses_bridge(cv, p, fx)
    if not p.young:
        _age_lines(cv, p, fx, skin)

    # 6. cheeks
    _cheeks(cv, p, a, fx, skin)

    # 7. mustache (on the upper lip, where no beard grows; before the lips so that a smile's corners
    # stay on top), mouth, nose
    if p.mustache:
        _mustache(cv, fx, facial_hair)
    lip = p.lipstick_color if p.lipstick else _mix(_shade(skin, 0.72), (150, 60, 70), 0.35)
    _mouth(cv, p, fx, lip, skin)
    _nose(cv, p, fx, skin)

    # 8. earrings on top of everything at the sides
    if p.earrings:
        _earrings(cv, p, a)

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
