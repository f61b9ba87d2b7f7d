"""Training as separate processes: killed with SIGKILL and resumed; two ranks under torchrun."""

import json
import os
import random
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
    "--health-samples",
    "32",
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
@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_then_resume_equals_uninterrupted(tiny_dataset, tmp_path, seed):
    kimg = 0.096  # 12 steps, checkpoints every 3
    subprocess.run(cli(tiny_dataset, tmp_path / "a", kimg), check=True, env=env(), capture_output=True, timeout=300)
    out = tmp_path / "b"
    proc = subprocess.Popen(
        cli(tiny_dataset, out, kimg), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ckpt = out / "checkpoint.safetensors"
    deadline = time.time() + 120
    # a seeded random moment: just after the first checkpoint, or around the second snapshot's write
    moment = random.Random(seed)
    grid = out / "grids" / f"fakes-{24 * moment.choice([1, 2]):09d}.png"
    while not (ckpt.exists() and grid.exists()) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(moment.uniform(0.0, 0.05))  # under a step: the run has 6 or more steps to go
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "the run ended before its first checkpoint"
    step = json.loads(read_checkpoint(ckpt)[1]["progress"])["step"]
    assert step < 12, "killed too late to test anything"
    subprocess.run(cli(tiny_dataset, out, kimg, "--resume"), check=True, env=env(), capture_output=True, timeout=300)
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

    from genomekit.distributed import leave
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
        leave(Distributed(rank, world))  # a barrier first: no rank tears the group down under another
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


def _ddp_train(rank, world, init_file, config, out):
    """One rank of a gloo run; its log goes to out/rank{rank}.log so a failure can show it."""
    import logging

    import torch.distributed as dist

    from genomekit.distributed import leave
    from genomekit.training import Distributed, train

    torch.set_num_threads(1)
    handler = logging.FileHandler(out / f"rank{rank}.log")
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        train(config, out / "run", dist_info=Distributed(rank, world), log_interval_s=0)
    except BaseException as error:
        logging.getLogger().exception("rank %d failed: %s", rank, error)
        raise
    finally:
        leave(Distributed(rank, world))


@pytest.mark.slow
def test_two_ranks_train_exactly_as_one_process_on_the_same_global_batch(tiny_dataset, tmp_path):
    """Gradient averaging, rank slicing of the data and of the latent codes: 2 x 4 samples = 1 x 8.

    Per-sample randomness that is drawn per rank (noise inputs, augmentation, path length) is off, and
    minibatch-stddev groups of 1 (its groups would otherwise span the ranks differently).
    """
    from genomekit.networks import DiscriminatorConfig, GeneratorConfig
    from genomekit.training import train
    from tests.training.test_train import tiny_config

    config = tiny_config(
        tiny_dataset,
        generator=GeneratorConfig(
            num_genes=4, num_variants=8, gene_length=4, resolution=16, channel_base=256, channel_max=32, use_noise=False
        ),  # fmt: skip
        discriminator=DiscriminatorConfig(resolution=16, channel_base=256, channel_max=32, mbstd_group_size=1),
        pl_weight=0.0,
        augment="",
    )
    torch.set_num_threads(1)
    train(config, tmp_path / "one", log_interval_s=0)
    out = tmp_path / "two"
    out.mkdir()
    ranks = torch.multiprocessing.spawn(_ddp_train, args=(2, str(tmp_path / "store"), config, out), nprocs=2,
                                        join=False)  # fmt: skip
    deadline = time.time() + 240
    while not ranks.join(timeout=1):
        if time.time() > deadline:
            for process in ranks.processes:
                process.kill()
            break
    logs = "\n".join(f"--- rank {r}\n{(out / f'rank{r}.log').read_text()}" for r in range(2))
    assert all(p.exitcode == 0 for p in ranks.processes), logs
    one = read_checkpoint(tmp_path / "one" / "checkpoint.safetensors")[0]
    two = read_checkpoint(out / "run" / "checkpoint.safetensors")[0]
    assert one.keys() == two.keys()
    weights = [k for k in one if k.startswith(("G.", "D.", "G_ema.")) and one[k].is_floating_point()]
    assert len(weights) > 20
    for name in weights:
        torch.testing.assert_close(
            two[name], one[name], rtol=1e-4, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}\n{logs}"
        )


def _ddp_diverge(rank, world, init_file, data, out):
    """Rank 1 alone gets a NaN discriminator weight during step 2; both ranks must stop, saying the same."""
    import torch.distributed as dist

    from genomekit.distributed import leave
    from genomekit.training import Distributed, TrainingDiverged, loop, train
    from tests.training.test_train import tiny_config

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    original = loop.train_step

    def step(state, *args):
        if rank == 1 and state.step == 2:
            with torch.no_grad():
                next(state.D.parameters()).fill_(float("nan"))
        return original(state, *args)

    loop.train_step = step
    outcome = {"diverged": False}
    try:
        train(tiny_config(data), out / "run", dist_info=Distributed(rank, world), log_interval_s=0)
    except TrainingDiverged as error:
        outcome = {"diverged": True, "message": str(error)}
    finally:
        leave(Distributed(rank, world))
    (out / f"diverge{rank}.json").write_text(json.dumps(outcome))


@pytest.mark.slow
def test_a_nan_on_one_rank_stops_every_rank_with_one_message(tiny_dataset, tmp_path):
    ranks = torch.multiprocessing.spawn(_ddp_diverge, args=(2, str(tmp_path / "store"), tiny_dataset, tmp_path),
                                        nprocs=2, join=False)  # fmt: skip
    deadline = time.time() + 120
    while not ranks.join(timeout=1):
        if time.time() > deadline:  # the healthy rank would wait in the next all-reduce
            for process in ranks.processes:
                process.kill()
            pytest.fail("a NaN on one rank left the other waiting")
    outcomes = [json.loads((tmp_path / f"diverge{r}.json").read_text()) for r in range(2)]
    assert outcomes[0] == outcomes[1] and outcomes[0]["diverged"]
    assert "at step 2 on at least one of the processes" in outcomes[0]["message"]
