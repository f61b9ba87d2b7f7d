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

Modules: ``params`` (palettes, label frequencies, :class:`FaceParams`); ``labels`` (the labels and
the sampler's constraints); ``sampling`` (:func:`sample_face`, :func:`image_seed`); ``canvas`` (the
unit layout, drawn through the pose); ``render`` (:func:`render_params`, which draws the parts of
``body``, ``face``, ``hair``, ``features`` and ``accessories`` in order, and :func:`render_face`);
``grid`` (the attribute grid) and ``dataset`` (:func:`write_synth_faces`).
"""

from genomekit.data.synth_faces.canvas import CX, CY, PIVOT, SUPERSAMPLE, ZOOM, to_pixels
from genomekit.data.synth_faces.dataset import CHUNK, write_synth_faces
from genomekit.data.synth_faces.dataset import _render_chunk as _render_chunk
from genomekit.data.synth_faces.grid import attribute_grid, attribute_pairs, save_attribute_grid
from genomekit.data.synth_faces.labels import face_labels, is_attractive, is_consistent, with_attribute
from genomekit.data.synth_faces.params import (
    EYE_COLORS,
    EYESHADOW_COLORS,
    FRAME_COLORS,
    HAIR_COLORS,
    JEWEL_COLORS,
    LIPSTICK_COLORS,
    NEUTRAL_POSE,
    RESOLUTIONS,
    RGB,
    SKIN_DARK,
    SKIN_LIGHT,
    SKIN_PALE,
    TARGET_FREQUENCIES,
    TIE_COLORS,
    VERSION,
    FaceParams,
    Pose,
)
from genomekit.data.synth_faces.render import render_face, render_params
from genomekit.data.synth_faces.sampling import image_seed, sample_face, sample_labels

__all__ = [
    "CHUNK",
    "CX",
    "CY",
    "EYESHADOW_COLORS",
    "EYE_COLORS",
    "FRAME_COLORS",
    "HAIR_COLORS",
    "JEWEL_COLORS",
    "LIPSTICK_COLORS",
    "NEUTRAL_POSE",
    "PIVOT",
    "RESOLUTIONS",
    "RGB",
    "SKIN_DARK",
    "SKIN_LIGHT",
    "SKIN_PALE",
    "SUPERSAMPLE",
    "TARGET_FREQUENCIES",
    "TIE_COLORS",
    "VERSION",
    "ZOOM",
    "FaceParams",
    "Pose",
    "attribute_grid",
    "attribute_pairs",
    "face_labels",
    "image_seed",
    "is_attractive",
    "is_consistent",
    "render_face",
    "render_params",
    "sample_face",
    "sample_labels",
    "save_attribute_grid",
    "to_pixels",
    "with_attribute",
    "write_synth_faces",
]
