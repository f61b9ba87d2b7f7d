"""The 40 CelebA labels of a face: read off its parameters, set one at a time, and the sampler's constraints."""

from __future__ import annotations

import dataclasses

import numpy as np

from genomekit.data.celeba import CELEBA_ATTRIBUTES
from genomekit.data.synth_faces.params import SKIN_LIGHT, SKIN_PALE, FaceParams


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
