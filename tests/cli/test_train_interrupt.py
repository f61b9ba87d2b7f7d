"""Ctrl-C during `genomekit train` (the real process, SIGINT at a seeded random moment): a checkpoint
at a step boundary, exit 130, the command that continues; running it finishes the run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import make_image_folder

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [0, 1])
def test_ctrl_c_checkpoints_and_says_how_to_resume(tmp_path, seed):
    data = make_image_folder(tmp_path / "data", count=8, resolution=16)
    out = tmp_path / "run"
    args = [sys.executable, "-m", "genomekit", "train", "--data", str(data), "--out", str(out), "--kimg", "4",
            "--snap", "4", "--batch", "4", "--genes", "4", "--variants", "4", "--gene-length", "4",
            "--channel-base", "64", "--channel-max", "16", "--device", "cpu", "--health-samples", "16"]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    # a seeded random moment once training has started (the first log line comes before step 1)
    first = process.stderr.readline() if process.stderr else ""
    assert first.startswith("training "), first
    time.sleep(random.Random(seed).uniform(0.5, 3.0))
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    stderr = first + stderr
    assert process.returncode == 130, stderr
    assert "continue with: genomekit train --resume" in stderr, stderr
    assert "Traceback" not in stderr
    assert (out / "checkpoint.safetensors").is_file()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                             env={**os.environ})  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "done:" in resumed.stdout
