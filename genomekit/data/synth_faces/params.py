"""The parameters of a synthetic face: palettes, the label frequencies, :class:`Pose` and :class:`FaceParams`."""

from __future__ import annotations

from dataclasses import dataclass

VERSION = 1  # bump when a seed renders differently; stored in dataset.json
RESOLUTIONS = (32, 64, 128)

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
