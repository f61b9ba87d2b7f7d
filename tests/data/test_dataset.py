"""Image folders and zips in the StyleGAN layout: round trips, labels, and the errors a user can meet."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genomekit.data import DatasetError, open_dataset
from genomekit.data.dataset import format_info
from genomekit.errors import UserError


def random_images(count: int, size: int = 8, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


def write_folder(root: Path, images: list[np.ndarray], labels: dict | None = None) -> list[str]:
    names = []
    for i, image in enumerate(images):
        name = f"{i // 2:05d}/img{i:08d}.png"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / name)
        names.append(name)
    if labels is not None:
        (root / "dataset.json").write_text(json.dumps(labels))
    return names


def folder_to_zip(root: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for file in sorted(root.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(root).as_posix())
    return out


@pytest.fixture
def labelled_folder(tmp_path) -> tuple[Path, list[np.ndarray], np.ndarray]:
    images = random_images(5)
    labels = np.random.default_rng(1).integers(0, 2, (5, 3)).astype(np.float32)
    root = tmp_path / "folder"
    names = [f"{i // 2:05d}/img{i:08d}.png" for i in range(5)]
    doc = {"attribute_names": ["a", "b", "c"], "labels": [[n, l.tolist()] for n, l in zip(names, labels, strict=True)]}
    write_folder(root, images, doc)
    return root, images, labels


@pytest.mark.parametrize("as_zip", [False, True])
def test_round_trip_with_labels(tmp_path, labelled_folder, as_zip):
    root, images, labels = labelled_folder
    path = folder_to_zip(root, tmp_path / "data.zip") if as_zip else root
    dataset = open_dataset(path)
    assert len(dataset) == 5 and dataset.resolution == 8 and dataset.num_channels == 3
    assert dataset.attribute_names == ("a", "b", "c")
    for i in range(5):
        item = dataset[i]
        assert item.dtype == torch.uint8 and item.shape == (3, 8, 8)
        np.testing.assert_array_equal(item.permute(1, 2, 0).numpy(), images[i])
        np.testing.assert_array_equal(dataset.label(i).numpy(), labels[i])
    info = dataset.info()
    np.testing.assert_allclose(info.label_frequencies, labels.mean(0), rtol=1e-6)
    table = format_info(info)
    assert "images      5" in table and "8x8" in table and "a" in table


def test_zip_dataset_survives_pickling(tmp_path, labelled_folder):
    root, images, _ = labelled_folder
    dataset = open_dataset(folder_to_zip(root, tmp_path / "data.zip"))
    dataset[0]  # opens the zip handle
    clone = pickle.loads(pickle.dumps(dataset))  # as DataLoader workers receive it
    np.testing.assert_array_equal(clone[3].permute(1, 2, 0).numpy(), images[3])


def test_zip_reads_in_forked_dataloader_workers(tmp_path):
    """Forked workers must not share the parent's zip handle (shared offsets corrupt reads)."""
    images = random_images(64, size=16, seed=3)
    root = tmp_path / "many"
    write_folder(root, images)
    dataset = open_dataset(folder_to_zip(root, tmp_path / "many.zip"))
    dataset[0]  # the parent has an open handle before the workers fork
    context = torch.multiprocessing.get_context("fork")
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context=context)
    got = torch.cat(list(loader))
    expected = torch.stack([torch.from_numpy(a).permute(2, 0, 1) for a in images])
    assert torch.equal(got, expected)


def test_unlabelled_folder(tmp_path):
    write_folder(tmp_path, random_images(3))
    dataset = open_dataset(tmp_path)
    assert dataset.labels is None and dataset.attribute_names == ()
    with pytest.raises(DatasetError, match="no labels"):
        dataset.label(0)
    assert "unlabelled" in format_info(dataset.info())


def test_stylegan_integer_class_labels(tmp_path):
    names = write_folder(tmp_path, random_images(4))
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": [[n, i % 3] for i, n in enumerate(names)]}))
    dataset = open_dataset(tmp_path)
    assert dataset.attribute_names == ("class_0", "class_1", "class_2")
    assert dataset.labels.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]


def test_stylegan_class_labels_take_attribute_names(tmp_path):
    names = write_folder(tmp_path, random_images(3))
    labels = [[n, i] for i, n in enumerate(names)]
    (tmp_path / "dataset.json").write_text(json.dumps({"attribute_names": ["Bag", "Coat", "Dress"], "labels": labels}))
    dataset = open_dataset(tmp_path)
    assert dataset.attribute_names == ("Bag", "Coat", "Dress")
    assert dataset.label(1).tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    ("doc", "message"),
    [({"labels_from": [-1, 0, 1]}, "integers >= 0"), ({"labels_from": [0, 1.5, 1]}, "integers >= 0"),
     ({"labels_from": [0, 1, 2], "attribute_names": ["a", "b"]}, "2 attribute names for 3 classes")],
)  # fmt: skip
def test_stylegan_class_labels_bad(tmp_path, doc, message):
    names = write_folder(tmp_path, random_images(3))
    body = {"labels": [[n, v] for n, v in zip(names, doc.pop("labels_from"), strict=True)], **doc}
    (tmp_path / "dataset.json").write_text(json.dumps(body))
    with pytest.raises(DatasetError, match=message):
        open_dataset(tmp_path)


def test_stylegan_null_labels_mean_unlabelled(tmp_path):
    write_folder(tmp_path, random_images(2), {"labels": None})
    assert open_dataset(tmp_path).labels is None


def test_missing_labels_for_some_images(tmp_path):
    names = write_folder(tmp_path, random_images(3))
    doc = {"attribute_names": ["a"], "labels": [[names[0], [1]], [names[2], [0]]]}
    (tmp_path / "dataset.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match=rf"no labels for 1 of 3 images \(first: {names[1]}\)"):
        open_dataset(tmp_path)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("not json", "not valid JSON"),
        ({"labels": {"x": 1}}, "list of"),
        ({"labels": [["a.png"]]}, "list of"),
        ({"attribute_names": ["a", "b"], "labels": "NAMES:[1]"}, "shape"),
        ({"attribute_names": ["a"], "labels": "NAMES:ragged"}, "different lengths"),
        ({"attribute_names": None, "labels": "NAMES:[1, 0]"}, None),
    ],
)
def test_malformed_dataset_json(tmp_path, labels, message):
    names = write_folder(tmp_path, random_images(2))
    if labels == "not json":
        text = "{not json"
    elif isinstance(labels, dict) and labels.get("labels") == "NAMES:[1]":
        text = json.dumps({**labels, "labels": [[n, [1]] for n in names]})
    elif isinstance(labels, dict) and labels.get("labels") == "NAMES:ragged":
        text = json.dumps({**labels, "labels": [[names[0], [1]], [names[1], [1, 0]]]})
    elif isinstance(labels, dict) and labels.get("labels") == "NAMES:[1, 0]":
        text = json.dumps({**labels, "labels": [[n, [1, 0]] for n in names]})
    else:
        text = json.dumps(labels)
    (tmp_path / "dataset.json").write_text(text)
    if message is None:  # names missing or null: generic names
        assert open_dataset(tmp_path).attribute_names == ("attr_0", "attr_1")
    else:
        with pytest.raises(DatasetError, match=message):
            open_dataset(tmp_path)


def test_unreadable_image_is_named(tmp_path):
    names = write_folder(tmp_path, random_images(3))
    (tmp_path / names[1]).write_bytes(b"this is not a png")
    dataset = open_dataset(tmp_path)  # the first image is fine
    with pytest.raises(DatasetError, match=f"cannot read image {names[1]}"):
        dataset[1]
    with pytest.raises(DatasetError, match=f"cannot read image {names[1]}"):
        dataset.check_sizes()


def test_unreadable_first_image(tmp_path):
    names = write_folder(tmp_path, random_images(2))
    (tmp_path / names[0]).write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match=f"cannot read image {names[0]}"):
        open_dataset(tmp_path)


@pytest.mark.parametrize("as_zip", [False, True])
def test_mixed_image_sizes(tmp_path, as_zip):
    root = tmp_path / "folder"
    images = random_images(3, size=8)
    images[2] = random_images(1, size=16)[0]
    names = write_folder(root, images)
    path = folder_to_zip(root, tmp_path / "data.zip") if as_zip else root
    dataset = open_dataset(path)
    dataset[0]
    with pytest.raises(DatasetError, match=f"{names[2]} is 16x16.*8x8"):
        dataset.check_sizes()
    with pytest.raises(DatasetError, match=f"{names[2]} is 16x16.*8x8"):
        dataset[2]


def test_mixed_channels(tmp_path):
    names = write_folder(tmp_path, random_images(2))
    Image.fromarray(random_images(1)[0][:, :, 0]).save(tmp_path / names[1])  # grayscale
    dataset = open_dataset(tmp_path)
    with pytest.raises(DatasetError, match="channel"):
        dataset.check_sizes()
    with pytest.raises(DatasetError, match="channels"):
        dataset[1]


def test_non_square_images(tmp_path):
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(DatasetError, match="square.*12x8"):
        open_dataset(tmp_path)


def test_missing_path_empty_folder_and_non_zip(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        open_dataset(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        open_dataset(tmp_path / "empty")
    (tmp_path / "file.txt").write_text("hello")
    with pytest.raises(DatasetError, match="neither a folder nor a zip"):
        open_dataset(tmp_path / "file.txt")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with pytest.raises(DatasetError, match="holds no images"):
        open_dataset(tmp_path / "empty.zip")


def test_resolution_must_match_for_non_celeba(tmp_path):
    write_folder(tmp_path, random_images(2))
    assert open_dataset(tmp_path, resolution=8).resolution == 8
    with pytest.raises(DatasetError, match=r"8x8 images but 16x16 were asked for \(--resolution 16\)"):
        open_dataset(tmp_path, resolution=16)


def test_dataset_error_is_a_user_error():
    assert issubclass(DatasetError, UserError)
