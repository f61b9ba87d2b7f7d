"""scripts/conditional_sampling_experiment.py: the exact eq. 5 weights of collected rows and the ceiling they give,
against a plain numpy reference, and the refusal of an unknown --values before anything is written."""

import subprocess
import sys

import numpy as np
import torch

from tests.scripts import load_script


def test_ceiling_is_the_eq5_weighted_share_of_rows_that_show_the_value():
    script = load_script("conditional_sampling_experiment")
    p = np.random.default_rng(0).beta(0.5, 2.0, size=5000)  # a rare attribute's probabilities over uniform rows
    for present in (True, False):
        for temperature in (1.0, 0.5, 0.3):
            q = p if present else 1 - p
            w = np.clip(q, 1e-6, None) ** (1 / temperature)
            expected = (w * ((p > 0.5) == present)).sum() / w.sum()
            got = script.eq5_ceiling(torch.as_tensor(p), present, temperature)
            assert abs(got - expected) < 1e-9
            weights = script.eq5_weights(torch.as_tensor(p), present, temperature).numpy()
            assert np.allclose(weights / weights.sum(), w / w.sum())
    # lower temperature moves the ceiling up; at T = 1 it is E[p * 1(p > 0.5)] / E[p], above the base rate
    ceilings = [script.eq5_ceiling(torch.as_tensor(p), True, t) for t in (1.0, 0.5, 0.3)]
    assert (p > 0.5).mean() < ceilings[0] < ceilings[1] < ceilings[2] < 1


def test_an_unknown_cell_value_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    script = load_script("conditional_sampling_experiment").__file__
    result = subprocess.run([sys.executable, script, "--stats", str(tmp_path), "--grader", "g", "--out", str(out),
                             "--values", "yes,maybe"], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "--values takes yes, no or yes,no; got 'yes,maybe'" in result.stderr
    assert not out.exists()
