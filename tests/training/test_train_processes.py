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


def _ddp_rank(rank, world, init_file, data, out, stop_at_step, resume):
    """One rank of a gloo run of the tiny config; rank 1 alone asks to stop during ``stop_at_step``."""
    import threading

    import torch.distributed as dist

    from genomekit.training import Distributed, TrainingInterrupted, loop, train
    from tests.training.test_train import tiny_config

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    stop = threading.Event()
    original = loop.train_step

    def step(state, *args):
        if rank == 1 and state.step == stop_at_step:
            stop.set()
        return original(state, *args)

    loop.train_step = step
    try:
        train(tiny_config(data), out, resume=resume, dist_info=Distributed(rank, world), log_interval_s=0, stop=stop)
        outcome = {"interrupted": False, "nimg": None}
    except TrainingInterrupted as interrupted:
        outcome = {"interrupted": True, "nimg": interrupted.nimg, "exists": interrupted.path.is_file()}
    finally:
        dist.destroy_process_group()
    (out / f"rank{rank}.json").write_text(json.dumps(outcome))


@pytest.mark.slow
def test_stop_on_one_rank_stops_every_rank_at_the_same_step(tiny_dataset, tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()

    def run(stop_at_step, resume, name):
        args = (2, str(tmp_path / name), tiny_dataset, out, stop_at_step, resume)
        ranks = torch.multiprocessing.spawn(_ddp_rank, args=args, nprocs=2, join=False)
        deadline = time.time() + 90
        while not ranks.join(timeout=1):
            if time.time() > deadline:  # a rank that did not stop waits for the other in its next all-reduce
                for process in ranks.processes:
                    process.kill()
                pytest.fail("the ranks did not stop at the same step")
        return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]

    first = run(3, False, "store-1")  # rank 1 asks during step 3; the other rank has no reason to stop
    assert first == [{"interrupted": True, "nimg": 32, "exists": True}] * 2
    assert json.loads(read_checkpoint(out / "checkpoint.safetensors")[1]["progress"])["nimg"] == 32
    assert run(None, True, "store-2") == [{"interrupted": False, "nimg": None}] * 2
    assert json.loads(read_checkpoint(out / "checkpoint.safetensors")[1]["progress"])["nimg"] == 48
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["nimg"] for r in rows] == [24, 48]  # written once, by rank 0
