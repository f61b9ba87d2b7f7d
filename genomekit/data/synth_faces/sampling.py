"""Drawing a :class:`FaceParams` from a seed: latent factors, then attributes, colours and pose.

The rule is documented in docs/SYNTH_FACES.md; :func:`image_seed` gives each image of a dataset its seed.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np

from genomekit.data.synth_faces.canvas import _shade
from genomekit.data.synth_faces.labels import face_labels
from genomekit.data.synth_faces.params import (
    EYE_COLORS,
    EYESHADOW_COLORS,
    FRAME_COLORS,
    HAIR_COLORS,
    JEWEL_COLORS,
    LIPSTICK_COLORS,
    RGB,
    SKIN_DARK,
    SKIN_LIGHT,
    SKIN_PALE,
    TIE_COLORS,
    FaceParams,
    Pose,
)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _jitter(rng: np.random.Generator, color: RGB, amount: float) -> RGB:
    scale = 1.0 + rng.uniform(-amount, amount)
    return tuple(int(np.clip(c * scale + rng.uniform(-6, 6), 0, 255)) for c in color)  # type: ignore[return-value]


def _distance(a: RGB, b: RGB) -> float:
    return math.dist(a, b)


def _pick_contrasting(rng: np.random.Generator, palette: tuple[RGB, ...], against: list[RGB]) -> RGB:
    """A random palette colour at least 110 away from every colour in ``against`` (the best if none is)."""
    good = [c for c in palette if min(_distance(c, a) for a in against) >= 110]
    if good:
        return good[int(rng.integers(len(good)))]
    return max(palette, key=lambda c: min(_distance(c, a) for a in against))


def _random_color(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return int(r * 255), int(g * 255), int(b * 255)


def sample_face(rng: np.random.Generator) -> FaceParams:
    """Draw one face from the latent factors; the rule is documented in docs/SYNTH_FACES.md.

    Latent factors: ``male`` (Bernoulli 0.42), ``young`` (0.85 for women, 0.66 for men), ``mood``
    and ``weight`` (standard normal), ``grooming`` (standard normal, women's make-up and jewellery).
    """
    u = rng.random
    # 1. latent factors
    male = u() < 0.42
    young = u() < (0.66 if male else 0.85)
    mood, weight, grooming = rng.standard_normal(3)
    weight += 0.0 if young else 0.5

    # 2. hair: colour by age and sex; baldness and receding hairlines for older men
    hat = u() < 0.05
    bald = male and not hat and u() < (0.03 if young else 0.2)
    if not young and u() < 0.3:
        hair_color = "gray"
    else:
        weights = {"black": 0.34, "brown": 0.32, "blond": 0.14 if male else 0.26, "red": 0.14}
        names = list(weights)
        probs = np.asarray([weights[n] for n in names])
        hair_color = names[int(rng.choice(len(names), p=probs / probs.sum()))]
    receding = male and not (bald or hat) and u() < (0.10 if young else 0.35)
    bangs = not (bald or receding) and u() < (0.07 if male else 0.24)
    texture_draw = u()
    if bald:
        texture = "plain"
    elif male:
        texture = "wavy" if texture_draw < 0.13 else "straight" if texture_draw < 0.27 else "plain"
    else:
        texture = "wavy" if texture_draw < 0.44 else "straight" if texture_draw < 0.73 else "plain"
    if bald:
        length = 0.34
    elif texture != "plain":
        length = rng.uniform(0.62, 0.82)  # textured hair reaches the jaw at least, so its texture shows
    elif male:
        length = rng.uniform(0.34, 0.5) if u() < 0.85 else rng.uniform(0.55, 0.75)
    else:
        length = rng.uniform(0.5, 0.82)
    sideburns = male and not bald and u() < 0.15

    # 3. face shape by weight; beards for men (a double chin is never hidden under a beard)
    chubby = weight > 1.75
    double_chin = (u() < 0.45) if chubby else (weight > 0.8 and not young and u() < 0.15)
    oval = not chubby and u() < (0.42 if weight < 0.2 else 0.1)
    beard = "none"
    if male:
        beard = str(rng.choice(["none", "stubble", "goatee", "full"], p=[0.36, 0.26, 0.15, 0.23]))
        if double_chin and beard in ("goatee", "full"):
            beard = "none"
    mustache = male and u() < (0.2 if beard in ("goatee", "full") else 0.05)

    # 4. mood: smiling, open mouth and high cheekbones go together
    smiling = mood > 0.05
    mouth_open = u() < _sigmoid(1.6 * mood)
    high_cheekbones = u() < (0.78 if smiling else 0.12)
    rosy = u() < (0.02 if male else 0.1)

    # 5. grooming: make-up and jewellery, mostly women's
    if male:
        lipstick, makeup = u() < 0.01, u() < 0.01
    else:
        lipstick = u() < _sigmoid(1.8 + 1.5 * grooming)
        makeup = u() < (_sigmoid(1.3 + 2.0 * grooming) if lipstick else 0.08)
    earrings = u() < (0.02 if male else _sigmoid(-0.8 + grooming))
    necklace = u() < (0.01 if male else _sigmoid(-1.6 + 0.8 * grooming))
    necktie = male and u() < 0.17
    arched = u() < (0.05 if male else _sigmoid(-0.4 + 0.8 * grooming))

    # 6. other features
    eyeglasses = u() < (0.04 if young else 0.15)
    bags = u() < (0.12 if young else 0.45)
    narrow = u() < 0.115
    big_nose = u() < (0.36 if male else 0.12)
    pointy = u() < (0.16 if male else 0.37)
    big_lips = u() < (0.16 if male else 0.3)
    bushy = u() < (0.25 if male else 0.06)
    pale = u() < 0.05
    blurry = u() < 0.05

    # 7. unnamed variation: colours, hair shape, pose
    skin = (
        SKIN_PALE
        if pale
        else tuple(
            int(a + (b - a) * t) for a, b, t in zip(SKIN_LIGHT, SKIN_DARK, [rng.random() ** 1.6] * 3, strict=True)
        )
    )
    skin = _jitter(rng, skin, 0.03)
    hair_shade = float(rng.uniform(0.9, 1.08))
    hair_rgb = _shade(HAIR_COLORS[hair_color], hair_shade)
    clothes = _random_color(rng, (0.3, 0.85), (0.3, 0.9))
    background = _random_color(rng, (0.1, 0.5), (0.45, 0.95))
    for _ in range(20):  # keep the silhouette visible: background away from hair, skin and clothes
        if min(_distance(background, c) for c in (hair_rgb, skin, clothes)) >= 80:
            break
        background = _random_color(rng, (0.1, 0.5), (0.45, 0.95))
    hat_color = _pick_contrasting(
        rng, tuple(_random_color(rng, (0.5, 0.9), (0.3, 0.9)) for _ in range(6)), [hair_rgb, background]
    )
    return FaceParams(
        male=male,
        young=young,
        hair_color=hair_color,
        bald=bald,
        hair_texture=texture,
        hair_shade=hair_shade,
        hair_length=float(length),
        hair_volume=float(rng.uniform(0.015, 0.05)),
        hair_part=float(rng.uniform(-1, 1)),
        bangs=bangs,
        bangs_jagged=bool(u() < 0.5),
        receding_hairline=receding,
        sideburns=sideburns,
        face_shape="chubby" if chubby else "oval" if oval else "normal",
        double_chin=bool(double_chin),
        pale_skin=pale,
        skin=skin,
        arched_eyebrows=arched,
        bushy_eyebrows=bushy,
        narrow_eyes=narrow,
        bags_under_eyes=bags,
        eye_color=EYE_COLORS[int(rng.integers(len(EYE_COLORS)))],
        big_nose=big_nose,
        pointy_nose=pointy,
        high_cheekbones=high_cheekbones,
        rosy_cheeks=rosy,
        big_lips=big_lips,
        smiling=bool(smiling),
        mouth_open=mouth_open,
        beard=beard,
        mustache=mustache,
        heavy_makeup=makeup,
        eyeshadow_color=EYESHADOW_COLORS[int(rng.integers(len(EYESHADOW_COLORS)))],
        lipstick=lipstick,
        lipstick_color=LIPSTICK_COLORS[int(rng.integers(len(LIPSTICK_COLORS)))],
        eyeglasses=eyeglasses,
        frame_color=FRAME_COLORS[int(rng.integers(len(FRAME_COLORS)))],
        earrings=earrings,
        earring_hoop=bool(u() < 0.5),
        earring_color=_pick_contrasting(rng, JEWEL_COLORS, [hair_rgb, skin]),
        hat=hat,
        hat_style=int(rng.integers(3)),
        hat_color=hat_color,
        necklace=necklace,
        necklace_color=_pick_contrasting(rng, JEWEL_COLORS, [skin, clothes]),
        necktie=necktie,
        tie_color=_pick_contrasting(rng, TIE_COLORS, [clothes, (245, 245, 245)]),
        clothes=clothes,
        background=background,
        blurry=blurry,
        pose=Pose(
            dx=float(rng.uniform(-0.03, 0.03)),
            dy=float(rng.uniform(-0.025, 0.025)),
            scale=float(rng.uniform(0.93, 1.05)),
            roll=float(rng.uniform(-7, 7)),
            yaw=float(rng.uniform(-0.015, 0.015)),
        ),
    )


def image_seed(seed: int, index: int) -> int:
    """The seed of image ``index`` of a dataset made with ``seed`` (independent of workers and chunking)."""
    state = np.random.SeedSequence([seed, index]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def sample_labels(seed: int, count: int) -> np.ndarray:
    """Labels of the first ``count`` images of the dataset made with ``seed``, float32 (count, 40), no drawing."""
    return np.stack([face_labels(sample_face(np.random.default_rng(image_seed(seed, i)))) for i in range(count)])
