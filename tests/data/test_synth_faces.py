"""Synthetic faces: determinism, labels, visibility of every attribute, frequencies, the zip round trip."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pytest

from genomekit.data import CELEBA_ATTRIBUTES, open_dataset
from genomekit.data import synth_faces as sf
from genomekit.data.synth_faces import (
    NEUTRAL_POSE,
    TARGET_FREQUENCIES,
    FaceParams,
    face_labels,
    image_seed,
    is_attractive,
    is_consistent,
    render_face,
    render_params,
    sample_face,
    sample_labels,
    with_attribute,
    write_synth_faces,
)
from genomekit.errors import UserError

COLUMN = {name: i for i, name in enumerate(CELEBA_ATTRIBUTES)}
CY = sf.CY
WHOLE_HEAD = [(0.12, 0.0, 0.88, 0.9)]
LOWER_FACE = [(0.24, CY + 0.07, 0.76, CY + 0.35)]
EYES = [(0.27, CY - 0.14, 0.73, CY + 0.07)]
# Where toggling each attribute may change pixels: boxes (x0, y0, x1, y1) in the unit layout.
REGIONS: dict[str, list[tuple[float, float, float, float]]] = {
    "5_o_Clock_Shadow": LOWER_FACE,
    "Arched_Eyebrows": [(0.3, CY - 0.13, 0.7, CY - 0.04)],
    "Bags_Under_Eyes": [(0.3, CY - 0.03, 0.7, CY + 0.06)],
    "Bald": WHOLE_HEAD,
    "Bangs": [(0.25, CY - 0.24, 0.75, CY - 0.1)],
    "Big_Lips": [(0.38, CY + 0.11, 0.62, CY + 0.23)],
    "Big_Nose": [(0.4, CY, 0.6, CY + 0.14)],
    "Black_Hair": WHOLE_HEAD,
    "Blond_Hair": WHOLE_HEAD,
    "Blurry": [(0.0, 0.0, 1.0, 1.0)],
    "Brown_Hair": WHOLE_HEAD,
    "Bushy_Eyebrows": [(0.3, CY - 0.13, 0.7, CY - 0.04)],
    "Chubby": WHOLE_HEAD,
    "Double_Chin": [(0.33, CY + 0.19, 0.67, CY + 0.34)],
    "Eyeglasses": EYES,
    "Goatee": [(0.38, CY + 0.17, 0.62, CY + 0.33)],
    "Gray_Hair": WHOLE_HEAD,
    "Heavy_Makeup": EYES,
    "High_Cheekbones": [(0.26, CY, 0.74, CY + 0.14)],
    "Male": [(0.0, 0.0, 1.0, 1.0)],
    "Mouth_Slightly_Open": [(0.38, CY + 0.11, 0.62, CY + 0.23)],
    "Mustache": [(0.38, CY + 0.08, 0.62, CY + 0.2)],
    "Narrow_Eyes": [(0.33, CY - 0.06, 0.67, CY + 0.03)],
    "No_Beard": LOWER_FACE,
    "Oval_Face": WHOLE_HEAD,
    "Pale_Skin": [(0.0, 0.0, 1.0, 1.0)],
    "Pointy_Nose": [(0.4, CY, 0.6, CY + 0.15)],
    "Receding_Hairline": [(0.25, CY - 0.32, 0.75, CY - 0.1)],
    "Rosy_Cheeks": [(0.32, CY + 0.02, 0.68, CY + 0.1)],
    "Sideburns": [(0.26, CY - 0.13, 0.74, CY + 0.09)],
    "Smiling": [(0.38, CY + 0.11, 0.62, CY + 0.23)],
    "Straight_Hair": WHOLE_HEAD,
    "Wavy_Hair": WHOLE_HEAD,
    "Wearing_Earrings": [(0.22, CY + 0.05, 0.34, CY + 0.15), (0.66, CY + 0.05, 0.78, CY + 0.15)],
    "Wearing_Hat": [(0.2, 0.0, 0.8, CY - 0.15)],
    "Wearing_Lipstick": [(0.38, CY + 0.11, 0.62, CY + 0.23)],
    "Wearing_Necklace": [(0.38, 0.75, 0.62, 0.88)],
    "Wearing_Necktie": [(0.36, 0.77, 0.64, 1.0)],
    "Young": [(0.28, CY - 0.2, 0.72, CY + 0.25)],
}
TOGGLED = [name for name in CELEBA_ATTRIBUTES if name != "Attractive"]


def clean_face(male: bool) -> FaceParams:
    """A face with no optional attribute, front on, medium-length plain brown hair."""
    return FaceParams(male=male, young=True, hair_color="brown", hair_length=0.6, pose=NEUTRAL_POSE)


def changed_pixels(a: np.ndarray, b: np.ndarray, threshold: int = 30) -> np.ndarray:
    """(H, W) mask of pixels whose largest channel difference exceeds ``threshold`` levels."""
    return np.abs(a.astype(int) - b.astype(int)).max(-1) > threshold


def region_mask(boxes, resolution: int) -> np.ndarray:
    mask = np.zeros((resolution, resolution), bool)
    for x0, y0, x1, y1 in boxes:
        (px0, py0), (px1, py1) = sf.to_pixels([(x0, y0), (x1, y1)], resolution)
        mask[max(0, int(py0)) : int(np.ceil(py1)), max(0, int(px0)) : int(np.ceil(px1))] = True
    return mask


def test_render_face_shapes_and_types():
    for resolution in (32, 64, 128):
        image, labels = render_face(3, resolution)
        assert image.shape == (resolution, resolution, 3) and image.dtype == np.uint8
        assert labels.shape == (40,) and labels.dtype == np.float32
        assert set(np.unique(labels)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="resolution"):
        render_face(0, 48)


def test_deterministic_by_seed():
    image_a, labels_a = render_face(11, 64)
    image_b, labels_b = render_face(11, 64)
    np.testing.assert_array_equal(image_a, image_b)
    np.testing.assert_array_equal(labels_a, labels_b)
    image_c, _ = render_face(12, 64)
    assert not np.array_equal(image_a, image_c)
    # the same face at every resolution
    for resolution in (32, 128):
        np.testing.assert_array_equal(render_face(11, resolution)[1], labels_a)
    # no hidden global state: sampling in between does not change a face
    np.random.default_rng(0).random(100)
    np.testing.assert_array_equal(render_face(11, 64)[0], image_a)


def test_image_seed_distinct_and_stable():
    seeds = {image_seed(5, i) for i in range(1000)}
    assert len(seeds) == 1000
    assert image_seed(5, 7) == image_seed(5, 7) != image_seed(6, 7)


@pytest.mark.parametrize("name", TOGGLED)
def test_with_attribute_sets_exactly_that_label(name):
    for seed in range(6):
        base = sample_face(np.random.default_rng(seed))
        for value in (0, 1):
            labels = face_labels(with_attribute(base, name, value))
            assert labels[COLUMN[name]] == value, (seed, value)


def test_with_attribute_rejects_attractive_and_unknown_names():
    base = clean_face(male=False)
    with pytest.raises(ValueError, match="rule"):
        with_attribute(base, "Attractive", 1)
    with pytest.raises(ValueError, match="unknown attribute"):
        with_attribute(base, "Smiles", 1)


@pytest.mark.parametrize("name", TOGGLED)
def test_attribute_changes_its_region(name):
    """On a clean face at 64 px, toggling the attribute changes enough pixels, nearly all in its region."""
    base = clean_face(
        male=name in ("5_o_Clock_Shadow", "Goatee", "Mustache", "No_Beard", "Sideburns", "Wearing_Necktie")
    )
    off = render_params(with_attribute(base, name, 0), 64)
    on = render_params(with_attribute(base, name, 1), 64)
    changed = changed_pixels(off, on)
    assert changed.sum() >= 12, f"{name} changes only {changed.sum()} pixels at 64 px"
    inside = (changed & region_mask(REGIONS[name], 64)).sum() / changed.sum()
    assert inside >= 0.9, f"{name}: only {inside:.0%} of the change lies in its region"


@pytest.mark.parametrize("name", TOGGLED)
def test_attribute_visible_on_sampled_faces(name):
    """On sampled faces (all their other attributes), the attribute stays visible wherever allowed."""
    tested = 0
    for seed in range(40):
        base = dataclasses.replace(sample_face(np.random.default_rng(seed)), blurry=False)
        on, off = with_attribute(base, name, 1), with_attribute(base, name, 0)
        if not (is_consistent(on) and is_consistent(off)):
            continue
        changed = changed_pixels(render_params(off, 64), render_params(on, 64))
        assert changed.sum() >= 8, f"{name} nearly invisible on seed {seed}: {changed.sum()} pixels"
        tested += 1
        if tested == 8:
            break
    assert tested >= 3, f"too few sampled faces allow {name}"


def laplacian_energy(image: np.ndarray) -> float:
    """Mean absolute Laplacian of the grey image: high for sharp edges, low after a blur."""
    x = image.astype(float).mean(-1)
    return float(np.abs(4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]).mean())


def test_blurry_is_a_clear_blur():
    for seed in range(5):
        base = dataclasses.replace(sample_face(np.random.default_rng(seed)), blurry=False)
        sharp = laplacian_energy(render_params(base, 64))
        blurred = laplacian_energy(render_params(with_attribute(base, "Blurry", 1), 64))
        assert blurred < 0.4 * sharp, (seed, sharp, blurred)


def test_attractive_rule():
    base = dataclasses.replace(clean_face(male=False), smiling=True)
    assert is_attractive(base)
    assert face_labels(base)[COLUMN["Attractive"]] == 1
    for flaw in ("Bags_Under_Eyes", "Double_Chin", "Chubby", "Bald", "Eyeglasses", "Blurry"):
        assert not is_attractive(with_attribute(base, flaw, 1)), flaw
    assert not is_attractive(with_attribute(base, "Young", 0))
    assert not is_attractive(dataclasses.replace(base, smiling=False))
    for expressive in ("High_Cheekbones", "Heavy_Makeup", "Wearing_Lipstick"):
        assert is_attractive(with_attribute(dataclasses.replace(base, smiling=False), expressive, 1))


@pytest.fixture(scope="module")
def labels_4k() -> np.ndarray:
    return sample_labels(2024, 4000)


def test_sampled_faces_keep_the_constraints():
    for seed in range(1500):
        assert is_consistent(sample_face(np.random.default_rng(seed))), seed


def test_frequencies_match_the_documented_table(labels_4k):
    assert list(TARGET_FREQUENCIES) == list(CELEBA_ATTRIBUTES)
    measured = labels_4k.mean(0)
    for name, target in TARGET_FREQUENCIES.items():
        tolerance = 4 * np.sqrt(target * (1 - target) / len(labels_4k)) + 0.005
        assert abs(measured[COLUMN[name]] - target) <= tolerance, (name, measured[COLUMN[name]], target)


def test_correlations_resemble_celeba(labels_4k):
    col = {name: labels_4k[:, i].astype(bool) for name, i in COLUMN.items()}
    male = col["Male"]
    assert col["Wearing_Lipstick"][male].mean() < 0.03 and col["Wearing_Lipstick"][~male].mean() > 0.6
    assert col["Heavy_Makeup"][male].mean() < 0.03
    for beard in ("Goatee", "Mustache", "5_o_Clock_Shadow", "Sideburns", "Wearing_Necktie"):
        assert not (col[beard] & ~male).any(), beard
    assert not (col["Gray_Hair"] & col["Young"]).any()
    assert not (col["No_Beard"] & col["Goatee"]).any()
    assert col["High_Cheekbones"][col["Smiling"]].mean() > 3 * col["High_Cheekbones"][~col["Smiling"]].mean()
    hair = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"]
    assert (labels_4k[:, [COLUMN[h] for h in hair]].sum(1) <= 1).all()
    assert not (col["Bald"] & (col["Bangs"] | col["Receding_Hairline"] | col["Wearing_Hat"])).any()


def test_write_synth_faces_round_trip(tmp_path):
    out = write_synth_faces(tmp_path / "faces.zip", count=20, resolution=32, seed=3, workers=1, progress=False)
    dataset = open_dataset(out)
    assert len(dataset) == 20 and dataset.resolution == 32 and dataset.num_channels == 3
    assert dataset.attribute_names == CELEBA_ATTRIBUTES
    assert dataset.names[0] == "00000/img00000000.png"
    for index in (0, 7, 19):
        image, labels = render_face(image_seed(3, index), 32)
        np.testing.assert_array_equal(dataset[index].permute(1, 2, 0).numpy(), image)
        np.testing.assert_array_equal(dataset.label(index).numpy(), labels)
    with zipfile.ZipFile(out) as archive:
        doc = json.loads(archive.read("dataset.json"))
    assert doc["generator"]["seed"] == 3 and doc["generator"]["resolution"] == 32
    assert doc["generator"]["version"] == sf.VERSION
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left


@pytest.mark.slow
def test_workers_do_not_change_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(sf, "CHUNK", 16)
    one = write_synth_faces(tmp_path / "one.zip", count=70, resolution=32, seed=9, workers=1, progress=False)
    two = write_synth_faces(tmp_path / "two.zip", count=70, resolution=32, seed=9, workers=2, progress=False)
    with zipfile.ZipFile(one) as a, zipfile.ZipFile(two) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name), name


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing_chunk(task):
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return sf_render_chunk(task)

    sf_render_chunk = sf._render_chunk
    monkeypatch.setattr(sf, "CHUNK", 4)
    monkeypatch.setattr(sf, "_render_chunk", failing_chunk)
    with pytest.raises(KeyboardInterrupt):
        write_synth_faces(tmp_path / "faces.zip", count=12, resolution=32, seed=0, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "count"),
        ({"resolution": 48}, "resolution"),
        ({"seed": -1}, "seed"),
        ({"workers": 0}, "workers"),
        ({"out": "faces.tar"}, ".zip"),
    ],
)
def test_write_synth_faces_rejects_bad_arguments(tmp_path, kwargs, message):
    args = {"out": "faces.zip", "count": 4, "resolution": 32, "seed": 0, "workers": 1, "progress": False}
    args.update(kwargs)
    args["out"] = tmp_path / args["out"]
    with pytest.raises(UserError, match=message):
        write_synth_faces(**args)
    assert list(tmp_path.iterdir()) == []


def test_attribute_grid_shows_every_attribute():
    pairs = list(sf.attribute_pairs(seed=0))
    assert [name for name, _, _ in pairs] == list(CELEBA_ATTRIBUTES)
    for name, off, on in pairs:
        assert face_labels(on)[COLUMN[name]] == 1 and face_labels(off)[COLUMN[name]] == 0, name
    grid = sf.attribute_grid(resolution=32, seed=0, columns=5, upscale=1)
    assert grid.size[0] > 5 * 2 * 32 and grid.size[1] > 8 * 32
