"""scripts/data_ceiling_experiment.py: the eq. 5 ceiling of real images against a plain numpy reference, the
labels' share, a run on a tiny labelled folder with the shipped classifier set, and refusals before any write."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import torch

from tests.conftest import make_image_folder
from tests.scripts import load_script


def reference(p, truth, present, temperature):
    """(ceiling, label share) of an exact eq. 5 draw over images with probabilities p, in plain numpy."""
    q = p if present else 1 - p
    w = np.clip(q, 1e-6, None) ** (1 / temperature)
    return (w * ((p > 0.5) == present)).sum() / w.sum(), (w * ((truth > 0.5) == present)).sum() / w.sum()


def test_ceilings_are_eq5_weighted_shares_of_the_images():
    script = load_script("data_ceiling_experiment")
    rng = np.random.default_rng(1)
    p = rng.beta(0.6, 1.5, size=(4000, 2))
    labels = (rng.random((4000, 3)) < p[:, [1, 0, 0]]).astype(np.float32)  # the label of "b" is column 0
    cells = script.ceilings(torch.as_tensor(p), torch.as_tensor(labels), {"a": 0, "b": 1}, {"b": 0, "c": 2},
                            [True, False], [1.0, 0.3])  # fmt: skip
    assert len(cells) == 2 * 2 * 2
    for row in cells.itertuples():
        column = {"a": 0, "b": 1}[row.attribute]
        present = row.value == "yes"
        ceiling, share = reference(p[:, column], labels[:, 0], present, row.temperature)
        assert abs(row.ceiling - ceiling) < 1e-9
        assert abs(row.frequency - ((p[:, column] > 0.5) == present).mean()) < 1e-12
        if row.attribute == "b":
            assert abs(row.label_share - share) < 1e-9
        else:
            assert np.isnan(row.label_share)  # no label called "a"
    ceilings = cells[(cells.attribute == "a") & (cells.value == "yes")].sort_values("temperature", ascending=False)
    assert ceilings.ceiling.is_monotonic_increasing  # a lower temperature weighs surer images more


def _labelled_folder(path, names):
    folder = make_image_folder(path, count=20, resolution=16)
    rng = np.random.default_rng(0)
    entries = [[f"{i:05d}.png", [int(v) for v in rng.integers(0, 2, len(names))]] for i in range(20)]
    (folder / "dataset.json").write_text(json.dumps({"attribute_names": names, "labels": entries}))
    return folder


def test_a_run_on_a_labelled_folder_writes_what_the_classifier_set_says(tmp_path):
    from classifiers import load_classifier_set
    from genomekit.data import open_dataset

    folder = _labelled_folder(tmp_path / "data", ["Smiling", "Male"])
    out = tmp_path / "out"
    script = load_script("data_ceiling_experiment").__file__
    result = subprocess.run([sys.executable, script, "--data", str(folder), "--attributes", "Smiling,Eyeglasses",
                             "--temps", "1,0.5", "--out", str(out)], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    cells = pd.read_csv(out / "cells.csv")
    classifiers = load_classifier_set("default", resolution=16)
    dataset = open_dataset(folder)
    images = torch.stack([dataset[i] for i in range(len(dataset))]).float() / 127.5 - 1
    with torch.no_grad():
        p = classifiers.probabilities_and_features(images)[0].double().numpy()
    names = list(classifiers.attribute_names)
    assert len(cells) == 2 * 2 * 2 and set(cells["images"]) == {20}
    for row in cells.itertuples():
        truth = dataset.labels[:, 0].numpy()  # Smiling's label; Eyeglasses has none
        ceiling, share = reference(p[:, names.index(row.attribute)], truth, row.value == "yes", row.temperature)
        assert abs(row.ceiling - ceiling) < 1e-3  # cells.csv keeps 4 decimals
        if row.attribute == "Smiling":
            assert abs(row.label_share - share) < 1e-3
        else:
            assert np.isnan(row.label_share)


def test_bad_input_is_refused_before_anything_is_written(tmp_path):
    folder = _labelled_folder(tmp_path / "data", ["Smiling"])
    script = load_script("data_ceiling_experiment").__file__
    for extra, message in ((["--attributes", "Smiling,Winking"], "--attributes: Winking not in the classifier set"),
                           (["--attributes", "Smiling", "--temps", "0.5,0"], "--temps must be positive"),
                           (["--attributes", "Smiling", "--values", "maybe"], "--values must be yes, no or yes,no"),
                           (["--attributes", "Smiling", "--images", "0"], "--images must be at least 1, got 0"),
                           (["--attributes", "Smiling", "--data", str(tmp_path / "nothing")], "dataset not found")):  # fmt: skip
        out = tmp_path / "out"
        command = [sys.executable, script, "--data", str(folder), "--out", str(out), *extra]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and message in result.stderr and "Traceback" not in result.stderr
        assert not out.exists()
