"""scripts/make_fashion_mnist.py on tiny IDX files written here: pixels, padding, one-hot labels, errors."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from genomekit.data.dataset import open_dataset
from tests.scripts import load_script


def _module():
    return load_script("make_fashion_mnist")


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _write_split(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, compress: bool) -> None:
    suffix = ".gz" if compress else ""
    _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
    _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)


def test_converts_both_splits(tmp_path):
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 256, (5, 28, 28)), rng.integers(0, 256, (3, 28, 28))
    _write_split(tmp_path, "train", train, np.array([0, 1, 9, 3, 3]), compress=True)
    _write_split(tmp_path, "t10k", test, np.array([8, 7, 1]), compress=False)
    out = tmp_path / "fm.zip"
    assert _module().main(["--idx", str(tmp_path), "--out", str(out)]) == 0
    dataset = open_dataset(out)
    assert len(dataset) == 8 and dataset.resolution == 32
    assert dataset.attribute_names[:2] == ("Tshirt_Top", "Trouser") and len(dataset.attribute_names) == 10
    assert dataset.labels.argmax(1).tolist() == [0, 1, 9, 3, 3, 8, 7, 1]
    assert dataset.labels.sum(1).tolist() == [1.0] * 8
    image = dataset[5].numpy()  # (3, 32, 32): the first test image, padded by 2 with black, grey in RGB
    assert (image[:, 2:30, 2:30] == test[0]).all() and image[:, :2].max() == 0 and image[:, :, 30:].max() == 0


def test_train_split_only(tmp_path):
    _write_split(tmp_path, "train", np.zeros((2, 28, 28)), np.array([4, 5]), compress=True)
    out = tmp_path / "fm.zip"
    assert _module().main(["--idx", str(tmp_path), "--out", str(out), "--split", "train"]) == 0
    assert len(open_dataset(out)) == 2


@pytest.mark.parametrize("problem", ["missing", "not idx", "label 10", "wrong size"])
def test_bad_input_is_one_error_line(tmp_path, capsys, problem):
    if problem == "not idx":
        (tmp_path / "train-images-idx3-ubyte").write_bytes(b"hello world")
        _write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(1), compress=False)
    elif problem == "label 10":
        _write_split(tmp_path, "train", np.zeros((2, 28, 28)), np.array([3, 10]), compress=True)
    elif problem == "wrong size":
        _write_split(tmp_path, "train", np.zeros((2, 20, 20)), np.array([3, 1]), compress=True)
    out = tmp_path / "fm.zip"
    assert _module().main(["--idx", str(tmp_path), "--out", str(out), "--split", "train"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()
