"""Training as separate processes: killed with SIGKILL and resumed; two ranks under torchrun."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from genomekit.training.checkpoint import read_checkpoint

ARGS = [
    "--resolution",
    "16",
    "--batch",
    "8",
    "--genes",
    "4",
    "--variants",
    "8",
    "--gene-length",
    "4",
    "--channel-base",
    "128",
    "--channel-max",
    "16",
    "--device",
    "cpu",
    "--seed",
    "7",
]


def cli(data, out, kimg, *extra):
    cmd = [
        sys.executable,
        "-m",
        "genomekit",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--kimg",
        str(kimg),
        "--snap",
        "0.024",
        *ARGS,
        *extra,
    ]
    return cmd


def env():
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tiny_dataset, tmp_path):
    kimg = 0.096  # 12 steps, checkpoints every 3
    subprocess.run(cli(tiny_dataset, tmp_path / "a", kimg), check=True, env=env(), capture_output=True)
    out = tmp_path / "b"
    proc = subprocess.Popen(
        cli(tiny_dataset, out, kimg), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ckpt = out / "checkpoint.safetensors"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "the run ended before its first checkpoint"
    step = json.loads(read_checkpoint(ckpt)[1]["progress"])["step"]
    assert step < 12, "killed too late to test anything"
    subprocess.run(cli(tiny_dataset, out, kimg, "--resume"), check=True, env=env(), capture_output=True)
    a = read_checkpoint(tmp_path / "a" / "checkpoint.safetensors")[0]
    b = read_checkpoint(ckpt)[0]
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["nimg"] for r in rows] == [24, 48, 72, 96]


@pytest.mark.slow
def test_torchrun_two_processes(tiny_dataset, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "genomekit",
        "train",
        "--data",
        str(tiny_dataset),
        "--out",
        str(out),
        "--kimg",
        "0.048",
        "--snap",
        "0.024",
        *ARGS,
    ]
    result = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    tensors, metadata = read_checkpoint(out / "checkpoint.safetensors")
    assert json.loads(metadata["progress"])["nimg"] == 48
    assert json.loads(metadata["config"])["batch_size"] == 8
    assert all(torch.isfinite(v).all() for v in tensors.values() if v.is_floating_point())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["nimg"] for r in rows] == [24, 48]  # written once, by rank 0
