"""Synthetic faces: a procedural cartoon-face dataset labelled with the 40 CelebA attributes.

A face is drawn from a seed in two steps:

1. :func:`sample_face` draws a :class:`FaceParams` from a few latent factors (sex, age, mood, weight,
   grooming) so that attributes are correlated like CelebA's, plus variation no attribute names
   (background, skin tone, clothes, hair shape, position, scale and pose). Constraints keep every
   label visible: a hat never hides a receding hairline, a mustache sits on the upper lip where no
   beard ever grows, a double chin never hides under a beard.
2. :func:`render_params` draws the face with PIL at 4x the output resolution in unit coordinates
   ([0, 1]^2, y down; the head centre at (0.5, 0.42) before the pose transform) and downsamples it
   with a box filter (antialiasing). ``Blurry`` is a Gaussian blur of the result.

:func:`face_labels` reads the 40 labels off the parameters (``Attractive`` is a rule, see
:func:`is_attractive`), so each label says exactly what is drawn. :func:`with_attribute` toggles one
attribute by its CelebA name with everything else equal. The generative rule and the frequencies are
documented in docs/SYNTH_FACES.md.
"""

from __future__ import annotations

import colorsys
import contextlib
import dataclasses
import functools
import logging
import math
import multiprocessing
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm.auto import tqdm

from genomekit.data.celeba import CELEBA_ATTRIBUTES
from genomekit.data.export import encode_png, image_name, zip_dataset_writer
from genomekit.errors import UserError
from genomekit.fileio import atomic_path

logger = logging.getLogger(__name__)

VERSION = 1  # bump when a seed renders differently; stored in dataset.json
RESOLUTIONS = (32, 64, 128)
SUPERSAMPLE = 4  # draw at 4x the output side, then box-filter down
ZOOM = 1.12  # the face fills more of the image than the unit layout below suggests

RGB = tuple[int, int, int]

HAIR_COLORS: dict[str, RGB] = {
    "black": (28, 24, 24),
    "brown": (112, 66, 34),
    "blond": (232, 196, 104),
    "gray": (168, 168, 172),
    "red": (176, 64, 26),  # auburn: a hair colour no label names
}
LIPSTICK_COLORS: tuple[RGB, ...] = ((222, 10, 40), (238, 36, 140), (250, 60, 20), (190, 0, 30))
EYESHADOW_COLORS: tuple[RGB, ...] = ((130, 50, 170), (50, 90, 210), (20, 150, 140), (60, 160, 60))
JEWEL_COLORS: tuple[RGB, ...] = ((245, 196, 20), (250, 250, 250), (30, 200, 215), (225, 30, 70), (40, 40, 200))
TIE_COLORS: tuple[RGB, ...] = ((200, 20, 30), (20, 40, 140), (20, 120, 40), (120, 30, 140), (230, 180, 20))
FRAME_COLORS: tuple[RGB, ...] = ((15, 15, 15), (70, 30, 10), (10, 20, 90), (140, 10, 20))
EYE_COLORS: tuple[RGB, ...] = ((70, 40, 20), (40, 90, 160), (60, 110, 50), (30, 25, 20))
SKIN_LIGHT, SKIN_DARK = (236, 198, 166), (146, 98, 66)
SKIN_PALE = (252, 236, 230)


# The label frequencies the sampler produces (estimated from 30,000 faces, seed 12345); the
# table in docs/SYNTH_FACES.md sets them beside CelebA's. Tests check samples against it.
TARGET_FREQUENCIES: dict[str, float] = {
    "5_o_Clock_Shadow": 0.112,
    "Arched_Eyebrows": 0.262,
    "Attractive": 0.459,
    "Bags_Under_Eyes": 0.198,
    "Bald": 0.035,
    "Bangs": 0.160,
    "Big_Lips": 0.239,
    "Big_Nose": 0.219,
    "Black_Hair": 0.303,
    "Blond_Hair": 0.188,
    "Blurry": 0.049,
    "Brown_Hair": 0.286,
    "Bushy_Eyebrows": 0.138,
    "Chubby": 0.056,
    "Double_Chin": 0.036,
    "Eyeglasses": 0.067,
    "Goatee": 0.063,
    "Gray_Hair": 0.062,
    "Heavy_Makeup": 0.366,
    "High_Cheekbones": 0.435,
    "Male": 0.423,
    "Mouth_Slightly_Open": 0.499,
    "Mustache": 0.043,
    "Narrow_Eyes": 0.116,
    "No_Beard": 0.846,
    "Oval_Face": 0.264,
    "Pale_Skin": 0.050,
    "Pointy_Nose": 0.280,
    "Receding_Hairline": 0.062,
    "Rosy_Cheeks": 0.065,
    "Sideburns": 0.059,
    "Smiling": 0.481,
    "Straight_Hair": 0.226,
    "Wavy_Hair": 0.306,
    "Wearing_Earrings": 0.208,
    "Wearing_Hat": 0.051,
    "Wearing_Lipstick": 0.461,
    "Wearing_Necklace": 0.117,
    "Wearing_Necktie": 0.073,
    "Young": 0.770,
}


@dataclass(frozen=True)
class Pose:
    """Where the face sits: a similarity transform about the head centre, and a turn of the features."""

    dx: float = 0.0  # horizontal shift, fraction of the image
    dy: float = 0.0  # vertical shift
    scale: float = 1.0  # size relative to the neutral face
    roll: float = 0.0  # in-plane rotation, degrees
    yaw: float = 0.0  # features (eyes, nose, mouth) shift sideways inside the face outline


NEUTRAL_POSE = Pose()


@dataclass(frozen=True, kw_only=True)
class FaceParams:
    """Everything that decides one face. Labels are read from it by :func:`face_labels`."""

    # -- the factors the attributes depend on (kept so that the generative rule is inspectable)
    male: bool
    young: bool
    # -- hair
    hair_color: str  # a key of HAIR_COLORS
    bald: bool = False
    hair_shade: float = 1.0  # brightness of the hair colour, 0.9..1.08
    hair_texture: str = "plain"  # plain | straight | wavy
    hair_length: float = 0.34  # y of the lower edge of the hair behind the head (0.34: short)
    hair_volume: float = 0.03  # how far hair rises above the skull
    hair_part: float = 0.0  # -1..1, sideways shift of the hairline's low point
    bangs: bool = False
    bangs_jagged: bool = False
    receding_hairline: bool = False
    sideburns: bool = False
    # -- face
    face_shape: str = "normal"  # normal | oval | chubby
    double_chin: bool = False
    pale_skin: bool = False
    skin: RGB = SKIN_LIGHT
    arched_eyebrows: bool = False
    bushy_eyebrows: bool = False
    narrow_eyes: bool = False
    bags_under_eyes: bool = False
    eye_color: RGB = EYE_COLORS[0]
    big_nose: bool = False
    pointy_nose: bool = False
    high_cheekbones: bool = False
    rosy_cheeks: bool = False
    big_lips: bool = False
    smiling: bool = False
    mouth_open: bool = False
    beard: str = "none"  # none | stubble (5 o'clock shadow) | goatee | full
    mustache: bool = False
    # -- make-up and accessories
    heavy_makeup: bool = False
    eyeshadow_color: RGB = EYESHADOW_COLORS[0]
    lipstick: bool = False
    lipstick_color: RGB = LIPSTICK_COLORS[0]
    eyeglasses: bool = False
    frame_color: RGB = FRAME_COLORS[0]
    earrings: bool = False
    earring_hoop: bool = False
    earring_color: RGB = JEWEL_COLORS[0]
    hat: bool = False
    hat_style: int = 0  # 0 beanie, 1 cap, 2 brimmed hat
    hat_color: RGB = (200, 40, 40)
    necklace: bool = False
    necklace_color: RGB = JEWEL_COLORS[1]
    necktie: bool = False
    tie_color: RGB = TIE_COLORS[0]
    # -- image
    clothes: RGB = (60, 80, 120)
    background: RGB = (180, 200, 220)
    blurry: bool = False
    pose: Pose = NEUTRAL_POSE


# ---------------------------------------------------------------------------------------------
# labels


def is_attractive(p: FaceParams) -> bool:
    """The Attractive rule: young, sharp, none of five 'unflattering' attributes, and an expressive face.

    Attractive = Young and not Blurry and none of (Bags_Under_Eyes, Double_Chin, Chubby, Bald,
    Eyeglasses) and at least one of (Smiling, High_Cheekbones, Heavy_Makeup, Wearing_Lipstick).
    Every term is a visible attribute, so the label is a deterministic function of the image.
    """
    flaws = (p.bags_under_eyes, p.double_chin, p.face_shape == "chubby", p.bald, p.eyeglasses)
    expressive = p.smiling or p.high_cheekbones or p.heavy_makeup or p.lipstick
    return p.young and not p.blurry and not any(flaws) and expressive


def face_labels(p: FaceParams) -> np.ndarray:
    """The 40 labels of a face, float32 (40,) in {0, 1}, in CELEBA_ATTRIBUTES order."""
    hair = not p.bald
    values = {
        "5_o_Clock_Shadow": p.beard == "stubble",
        "Arched_Eyebrows": p.arched_eyebrows,
        "Attractive": is_attractive(p),
        "Bags_Under_Eyes": p.bags_under_eyes,
        "Bald": p.bald,
        "Bangs": hair and p.bangs,
        "Big_Lips": p.big_lips,
        "Big_Nose": p.big_nose,
        "Black_Hair": hair and p.hair_color == "black",
        "Blond_Hair": hair and p.hair_color == "blond",
        "Blurry": p.blurry,
        "Brown_Hair": hair and p.hair_color == "brown",
        "Bushy_Eyebrows": p.bushy_eyebrows,
        "Chubby": p.face_shape == "chubby",
        "Double_Chin": p.double_chin,
        "Eyeglasses": p.eyeglasses,
        "Goatee": p.beard == "goatee",
        "Gray_Hair": hair and p.hair_color == "gray",
        "Heavy_Makeup": p.heavy_makeup,
        "High_Cheekbones": p.high_cheekbones,
        "Male": p.male,
        "Mouth_Slightly_Open": p.mouth_open,
        "Mustache": p.mustache,
        "Narrow_Eyes": p.narrow_eyes,
        "No_Beard": p.beard in ("none", "stubble"),
        "Oval_Face": p.face_shape == "oval",
        "Pale_Skin": p.pale_skin,
        "Pointy_Nose": p.pointy_nose,
        "Receding_Hairline": hair and p.receding_hairline,
        "Rosy_Cheeks": p.rosy_cheeks,
        "Sideburns": p.sideburns,
        "Smiling": p.smiling,
        "Straight_Hair": hair and p.hair_texture == "straight",
        "Wavy_Hair": hair and p.hair_texture == "wavy",
        "Wearing_Earrings": p.earrings,
        "Wearing_Hat": p.hat,
        "Wearing_Lipstick": p.lipstick,
        "Wearing_Necklace": p.necklace,
        "Wearing_Necktie": p.necktie,
        "Young": p.young,
    }
    return np.asarray([values[name] for name in CELEBA_ATTRIBUTES], dtype=np.float32)


_FLAGS = {  # CelebA name -> boolean field, for the attributes that are one flag
    "Arched_Eyebrows": "arched_eyebrows",
    "Bags_Under_Eyes": "bags_under_eyes",
    "Bald": "bald",
    "Bangs": "bangs",
    "Big_Lips": "big_lips",
    "Big_Nose": "big_nose",
    "Blurry": "blurry",
    "Bushy_Eyebrows": "bushy_eyebrows",
    "Double_Chin": "double_chin",
    "Eyeglasses": "eyeglasses",
    "Heavy_Makeup": "heavy_makeup",
    "High_Cheekbones": "high_cheekbones",
    "Male": "male",
    "Mouth_Slightly_Open": "mouth_open",
    "Mustache": "mustache",
    "Narrow_Eyes": "narrow_eyes",
    "Pale_Skin": "pale_skin",
    "Pointy_Nose": "pointy_nose",
    "Receding_Hairline": "receding_hairline",
    "Rosy_Cheeks": "rosy_cheeks",
    "Sideburns": "sideburns",
    "Smiling": "smiling",
    "Wearing_Earrings": "earrings",
    "Wearing_Hat": "hat",
    "Wearing_Lipstick": "lipstick",
    "Wearing_Necklace": "necklace",
    "Wearing_Necktie": "necktie",
    "Young": "young",
}
_HAIR = {"Black_Hair": "black", "Blond_Hair": "blond", "Brown_Hair": "brown", "Gray_Hair": "gray"}
_BEARD = {"5_o_Clock_Shadow": "stubble", "Goatee": "goatee"}
_SHAPE = {"Oval_Face": "oval", "Chubby": "chubby"}
_TEXTURE = {"Straight_Hair": "straight", "Wavy_Hair": "wavy"}


def with_attribute(p: FaceParams, name: str, value: bool | int) -> FaceParams:
    """``p`` with the CelebA attribute ``name`` set on or off and everything else equal.

    Categorical features change as the label asks: ``Black_Hair=1`` dyes the hair black (and removes
    baldness), ``Black_Hair=0`` on black hair makes it auburn (no hair label); ``No_Beard=0`` grows
    a full beard, ``No_Beard=1`` shaves a goatee or full beard; ``Goatee``/``5_o_Clock_Shadow`` set
    the beard style; ``Oval_Face``/``Chubby`` the face shape; ``Straight_Hair``/``Wavy_Hair`` the hair
    texture (at least chin-length, so the texture shows). Pale skin on and off swaps the skin colour.
    The sampler's constraints are not applied: the caller chooses the combination.

    Raises:
        ValueError: an unknown name, or ``Attractive``, which is a rule of other attributes.
    """
    on = bool(value)
    if name in _FLAGS:
        field = _FLAGS[name]
        changes: dict = {field: on}
        if name == "Pale_Skin" and on != p.pale_skin:
            changes["skin"] = SKIN_PALE if on else SKIN_LIGHT
        if name == "Bald" and on:
            changes.update(bangs=False, receding_hairline=False, sideburns=False)
        return dataclasses.replace(p, **changes)
    if name in _HAIR:
        if on:
            return dataclasses.replace(p, hair_color=_HAIR[name], bald=False)
        return dataclasses.replace(p, hair_color="red") if p.hair_color == _HAIR[name] else p
    if name in _BEARD:
        if on:
            return dataclasses.replace(p, beard=_BEARD[name])
        return dataclasses.replace(p, beard="none") if p.beard == _BEARD[name] else p
    if name == "No_Beard":
        if on:
            return dataclasses.replace(p, beard="none") if p.beard in ("goatee", "full") else p
        return p if p.beard in ("goatee", "full") else dataclasses.replace(p, beard="full")
    if name in _SHAPE:
        if on:
            return dataclasses.replace(p, face_shape=_SHAPE[name])
        return dataclasses.replace(p, face_shape="normal") if p.face_shape == _SHAPE[name] else p
    if name in _TEXTURE:
        if on:
            return dataclasses.replace(p, hair_texture=_TEXTURE[name], bald=False, hair_length=max(p.hair_length, 0.62))
        return dataclasses.replace(p, hair_texture="plain") if p.hair_texture == _TEXTURE[name] else p
    if name == "Attractive":
        raise ValueError("Attractive is a rule of other attributes (see is_attractive); toggle those")
    raise ValueError(f"unknown attribute {name!r}; expected one of the 40 CelebA names")


def is_consistent(p: FaceParams) -> bool:
    """Whether ``p`` keeps the sampler's visibility constraints, so that every label is visible.

    A bald head has no bangs, hairline, hair texture, sideburns or hat; a hat never covers a
    receding hairline; bangs never cover one either; straight or wavy hair reaches the jaw; a double
    chin is never under a goatee or full beard; women have no beard, mustache, sideburns or necktie.
    """
    checks = (
        not p.bald or not (p.bangs or p.receding_hairline or p.sideburns or p.hat or p.hair_texture != "plain"),
        not (p.hat and p.receding_hairline),
        not (p.bangs and p.receding_hairline),
        p.hair_texture == "plain" or p.hair_length >= 0.62,
        not p.double_chin or p.beard in ("none", "stubble"),
        p.male or (p.beard == "none" and not (p.mustache or p.sideburns or p.necktie)),
    )
    return all(checks)


# ---------------------------------------------------------------------------------------------
# sampling


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


# ---------------------------------------------------------------------------------------------
# drawing helpers


def _shade(color: RGB, factor: float) -> RGB:
    return tuple(min(255, max(0, int(c * factor))) for c in color)  # type: ignore[return-value]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _luma(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _facial_hair_color(hair: RGB, skin: RGB) -> RGB:
    """Hair colour darkened until it is at least 80 luma levels below the skin (blond beards show)."""
    color = hair
    while _luma(skin) - _luma(color) < 80 and _luma(color) > 12:
        color = _shade(color, 0.8)
    return color


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


# ---------------------------------------------------------------------------------------------
# rendering

CX, CY = 0.5, 0.42  # head centre in unit coordinates before the pose
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


def image_seed(seed: int, index: int) -> int:
    """The seed of image ``index`` of a dataset made with ``seed`` (independent of workers and chunking)."""
    state = np.random.SeedSequence([seed, index]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def sample_labels(seed: int, count: int) -> np.ndarray:
    """Labels of the first ``count`` images of the dataset made with ``seed``, float32 (count, 40), no drawing."""
    return np.stack([face_labels(sample_face(np.random.default_rng(image_seed(seed, i)))) for i in range(count)])


def _find_example(name: str, start: int) -> FaceParams:
    """The first face from seed ``start`` on with attribute ``name``, sharp and hatless unless that is the name.

    No_Beard is shown on a man, so that its 'off' face (a full beard) is one the sampler could make.
    """
    column = CELEBA_ATTRIBUTES.index(name)
    for seed in range(start, start + 100_000):
        p = sample_face(np.random.default_rng(seed))
        if (
            face_labels(p)[column] == 1
            and (name == "Blurry" or not p.blurry)
            and (name == "Wearing_Hat" or not p.hat)
            and (name != "No_Beard" or p.male)
        ):
            return p
    raise RuntimeError(f"no face with {name} in 100000 seeds")  # unreachable for the sampler's rates


def attribute_pairs(seed: int = 0) -> Iterator[tuple[str, FaceParams, FaceParams]]:
    """For each of the 40 attributes: its name, a face without it and the same face with it.

    The 'with' face is a sampled face that has the attribute; the 'without' face is the same face with
    the attribute toggled off (for Attractive, the rule's expressive terms switched off).
    """
    for k, name in enumerate(CELEBA_ATTRIBUTES):
        on = _find_example(name, seed + 97 * k)  # a different face for each attribute
        if name == "Attractive":
            off = dataclasses.replace(on, smiling=False, heavy_makeup=False, high_cheekbones=False, lipstick=False)
        else:
            off = with_attribute(on, name, 0)
        yield name, off, on


def attribute_grid(resolution: int = 64, seed: int = 0, columns: int = 5, upscale: int = 2) -> Image.Image:
    """A labelled grid: for each attribute the same face without and with it, at ``resolution``.

    Each cell shows the attribute name over the 'off' and 'on' images, enlarged ``upscale`` times
    with nearest-neighbour so the pixels the classifier sees are what the reader sees.
    """
    side = resolution * upscale
    text_h, pad = 14, 6
    cell_w, cell_h = 2 * side + 3 * pad, side + text_h + 2 * pad
    rows = math.ceil(len(CELEBA_ATTRIBUTES) / columns)
    grid = Image.new("RGB", (columns * cell_w, rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for k, (name, off, on) in enumerate(attribute_pairs(seed)):
        x, y = (k % columns) * cell_w, (k // columns) * cell_h
        draw.text((x + pad, y + 2), f"{name}: off / on", fill=(0, 0, 0), font=font)
        for j, params in enumerate((off, on)):
            image = Image.fromarray(render_params(params, resolution)).resize((side, side), Image.Resampling.NEAREST)
            grid.paste(image, (x + pad + j * (side + pad), y + text_h + pad))
    return grid


# ---------------------------------------------------------------------------------------------
# datasets

CHUNK = 128  # images per task sent to a worker process


def _render_chunk(task: tuple[int, int, int, int]) -> list[tuple[str, bytes, np.ndarray]]:
    """Worker: render and PNG-encode images ``start..stop-1`` of the dataset made with ``seed``."""
    seed, start, stop, resolution = task
    out = []
    for index in range(start, stop):
        image, labels = render_face(image_seed(seed, index), resolution)
        out.append((image_name(index), encode_png(image, compress_level=3), labels))
    return out


def write_synth_faces(
    out: Path, count: int, resolution: int, seed: int, workers: int | None = None, progress: bool = True
) -> Path:
    """Write ``count`` synthetic faces as a StyleGAN-layout zip with CelebA-named labels.

    Image ``i`` is ``render_face(image_seed(seed, i), resolution)``, so the dataset does not depend on
    ``workers``. The zip appears only when complete (an interrupted run leaves nothing behind).

    Args:
        out: the ``.zip`` to write (replaced if it exists).
        count: number of images.
        resolution: 32, 64 or 128.
        seed: dataset seed.
        workers: processes rendering in parallel; None uses every core, 1 renders in this process.
        progress: show a progress bar (count, rate, ETA) on stderr.

    Returns:
        ``out``.
    """
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise UserError(f"output must be a .zip file, got {out}")
    if count < 1:
        raise UserError(f"--count must be at least 1, got {count}")
    if resolution not in RESOLUTIONS:
        raise UserError(f"--resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {resolution}")
    if seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {seed}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    tasks = [(seed, start, min(start + CHUNK, count), resolution) for start in range(0, count, CHUNK)]
    generator = {
        "name": "genomekit.synth_faces",
        "version": VERSION,
        "seed": seed,
        "resolution": resolution,
        "count": count,
    }
    bar = tqdm(total=count, unit="img", desc=f"synth faces {resolution}px", disable=not progress, smoothing=0.1)
    with contextlib.ExitStack() as stack:
        stack.enter_context(bar)
        writer = stack.enter_context(zip_dataset_writer(out, CELEBA_ATTRIBUTES, {"generator": generator}))
        if workers == 1 or len(tasks) == 1:
            chunks: Iterator[list] = map(_render_chunk, tasks)
        else:
            pool = stack.enter_context(multiprocessing.Pool(min(workers, len(tasks))))
            chunks = pool.imap(_render_chunk, tasks)  # ordered, streamed into the zip
        for chunk in chunks:
            for name, png, labels in chunk:
                writer.add(name, png, labels)
            bar.update(len(chunk))
    logger.info("wrote %d faces at %dpx to %s", count, resolution, out)
    return out


def save_attribute_grid(out: str | Path, resolution: int = 64, seed: int = 0, upscale: int = 2) -> Path:
    """Write :func:`attribute_grid` as a PNG, atomically."""
    if resolution not in RESOLUTIONS:
        raise UserError(f"--resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {resolution}")
    if not 1 <= upscale <= 8:
        raise UserError(f"--upscale must be 1..8, got {upscale}")
    out = Path(out)
    with atomic_path(out) as tmp:
        attribute_grid(resolution, seed, upscale=upscale).save(tmp, format="PNG")
    return out
