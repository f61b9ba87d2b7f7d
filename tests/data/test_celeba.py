"""The CelebA layout: attribute names, the +1/-1 labels file, cropping to squares, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genomekit.data import CELEBA_ATTRIBUTES, DatasetError, open_celeba, open_dataset, read_celeba_labels


def make_celeba(root: Path, count: int = 3, image_folder: str = "img_align_celeba") -> np.ndarray:
    """A tiny CelebA folder of 178x218 JPEGs (each a vertical gradient); returns the {0, 1} labels."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (count, 40))
    folder = root / image_folder
    folder.mkdir(parents=True)
    rows = [str(count), " ".join(CELEBA_ATTRIBUTES)]
    for i in range(count):
        name = f"{i + 1:06d}.jpg"
        image = np.zeros((218, 178, 3), np.uint8)
        image[:, :, 0] = np.linspace(0, 255, 218)[:, None]  # red grows downwards
        image[:, :, 1] = 40 * i
        Image.fromarray(image).save(folder / name, quality=95)
        rows.append(name + "  " + " ".join("1" if v else "-1" for v in labels[i]))
    (root / "list_attr_celeba.txt").write_text("\n".join(rows) + "\n")
    return labels.astype(np.float32)


def test_attribute_names():
    assert len(CELEBA_ATTRIBUTES) == 40 == len(set(CELEBA_ATTRIBUTES))
    assert CELEBA_ATTRIBUTES[0] == "5_o_Clock_Shadow" and CELEBA_ATTRIBUTES[-1] == "Young"
    assert CELEBA_ATTRIBUTES[20] == "Male" and CELEBA_ATTRIBUTES[31] == "Smiling"
    assert list(CELEBA_ATTRIBUTES[1:]) == sorted(CELEBA_ATTRIBUTES[1:])  # official order is alphabetical


def test_open_dataset_reads_the_celeba_layout(tmp_path):
    labels = make_celeba(tmp_path)
    dataset = open_dataset(tmp_path, resolution=32)
    assert len(dataset) == 3 and dataset.resolution == 32 and dataset.num_channels == 3
    assert dataset.attribute_names == CELEBA_ATTRIBUTES
    np.testing.assert_array_equal(dataset.labels.numpy(), labels)
    image = dataset[1]
    assert image.shape == (3, 32, 32)
    # center crop of 178x218 keeps rows 20..197: red runs from about 23 to 232, not 0 to 255
    red = image[0].float().mean(1)
    assert 10 < red[0] < 45 and 210 < red[-1] < 245
    assert abs(image[1].float().mean() - 40) < 3
    dataset.check_sizes()


def test_native_size_is_the_center_square(tmp_path):
    make_celeba(tmp_path, count=2)
    dataset = open_celeba(tmp_path)
    assert dataset.resolution == 178 and dataset[0].shape == (3, 178, 178)


def test_images_directly_in_the_folder(tmp_path):
    make_celeba(tmp_path, count=2, image_folder="images")
    assert len(open_dataset(tmp_path, resolution=32)) == 2


def test_missing_labels_file(tmp_path):
    make_celeba(tmp_path)
    (tmp_path / "list_attr_celeba.txt").unlink()
    with pytest.raises(DatasetError, match="no list_attr_celeba.txt"):
        open_dataset(tmp_path)


def test_listed_image_missing(tmp_path):
    make_celeba(tmp_path)
    (tmp_path / "img_align_celeba" / "000002.jpg").unlink()
    dataset = open_dataset(tmp_path, resolution=32)
    with pytest.raises(DatasetError, match="000002.jpg is listed in list_attr_celeba.txt but missing"):
        dataset[1]
    with pytest.raises(DatasetError, match="000002.jpg"):
        dataset.check_sizes()


def test_first_image_missing(tmp_path):
    make_celeba(tmp_path)
    (tmp_path / "img_align_celeba" / "000001.jpg").unlink()
    with pytest.raises(DatasetError, match="000001.jpg .*is in none of"):
        open_dataset(tmp_path)


def test_unreadable_image(tmp_path):
    make_celeba(tmp_path)
    (tmp_path / "img_align_celeba" / "000003.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="cannot read image 000003.jpg"):
        open_dataset(tmp_path, resolution=32)[2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\n", "count line, a header"),
        ("1\nSmiling Male\n000001.jpg 1 -1\n", "header must list the 40"),
        ("1\n" + " ".join(CELEBA_ATTRIBUTES) + "\n000001.jpg 1 -1\n", "line 3"),
        ("1\n" + " ".join(CELEBA_ATTRIBUTES) + "\n000001.jpg" + " 2" * 40 + "\n", "line 3"),
        ("0\n" + " ".join(CELEBA_ATTRIBUTES) + "\n", "lists no images"),
    ],
)
def test_malformed_labels_file(tmp_path, text, message):
    file = tmp_path / "list_attr_celeba.txt"
    file.write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_celeba_labels(file)


def test_bad_resolution(tmp_path):
    make_celeba(tmp_path, count=1)
    with pytest.raises(DatasetError, match="resolution"):
        open_celeba(tmp_path, resolution=0)
