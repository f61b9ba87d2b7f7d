import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.stats.store import load_stats, recompute_sums_from_shards

REPO = Path(__file__).resolve().parents[2]


def collect_args(artefacts, out, samples=300, model="model", classifiers="classifiers", extra=()):
    return [
        "collect-stats",
        "--model", str(artefacts[model]),
        "--classifiers", str(artefacts[classifiers]),
        "--out", str(out),
        "--samples", str(samples),
        "--batch", "64",
        "--chunk-size", "128",
        "--seed", "3",
        "--device", "cpu",
        "--no-progress",
        *extra,
    ]  # fmt: skip


def test_collect_stats_then_info(tmp_path, artefacts):
    runner = CliRunner()
    result = runner.invoke(app, collect_args(artefacts, tmp_path / "stats"))
    assert result.exit_code == 0, result.output
    assert "300 samples" in result.output and "status            complete" in result.output
    info = runner.invoke(app, ["stats", "info", str(tmp_path / "stats"), "--min-count", "1000"])
    assert info.exit_code == 0, info.output
    assert "4 genes x 8 variants x 4" in info.output
    assert "Smiling, Eyeglasses, Male" in info.output
    assert "under-sampled     32 (gene, variant) pairs below 1000 samples" in info.output
    assert "samples/s" in info.output
    # Rerunning the finished command generates nothing and changes nothing.
    before = load_stats(tmp_path / "stats").totals
    again = runner.invoke(app, collect_args(artefacts, tmp_path / "stats", extra=["--resume"]))
    assert again.exit_code == 0 and "generated 0" in again.output
    assert load_stats(tmp_path / "stats").totals.equal(before)


def test_batch_auto_gives_the_same_statistics_and_bad_values_one_line(tmp_path, artefacts):
    runner = CliRunner()
    results = {}
    for batch in ("auto", "64"):
        result = runner.invoke(app, collect_args(artefacts, tmp_path / batch, extra=["--batch", batch]))
        assert result.exit_code == 0, result.output
        results[batch] = load_stats(tmp_path / batch)
        manifest = json.loads((tmp_path / batch / "manifest.json").read_text())
        assert manifest["runs"][-1]["batch_size"] == (256 if batch == "auto" else 64)  # auto on the CPU: 256
    auto, explicit = results["auto"].totals, results["64"].totals
    assert torch.equal(auto.counts, explicit.counts)
    torch.testing.assert_close(auto.values, explicit.values, atol=1e-4, rtol=0)  # float rounding of other batches
    for value, message in (("big", "--batch must be 'auto' or a positive integer, got 'big'"), ("0", "at least 1")):
        result = runner.invoke(app, collect_args(artefacts, tmp_path / f"bad-{value}", extra=["--batch", value]))
        assert result.exit_code == 2 and result.output.count("\n") == 1 and message in result.output, result.output
        assert not (tmp_path / f"bad-{value}").exists()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(model="other_model"), "different run (model: stored"),
        (dict(classifiers="other_classifiers"), "classifier set: stored"),
        (dict(model="other_shape"), "genome shape (G, V, D): stored [4, 8, 4], requested [4, 16, 4]"),
    ],
)
def test_resuming_into_another_run_fails_with_one_line(tmp_path, artefacts, kw, message):
    runner = CliRunner()
    assert runner.invoke(app, collect_args(artefacts, tmp_path / "stats", samples=128)).exit_code == 0
    result = runner.invoke(app, collect_args(artefacts, tmp_path / "stats", samples=128, **kw))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_user_errors_exit_2_without_traceback(tmp_path, artefacts):
    runner = CliRunner()
    mapping = runner.invoke(app, collect_args(artefacts, tmp_path / "m", model="mapping"))
    assert mapping.exit_code == 2 and "mapping-network latent and no genes" in mapping.output
    missing = runner.invoke(app, ["stats", "info", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "not a stats directory" in missing.output
    absent = collect_args(artefacts, tmp_path / "x")
    absent[2] = str(tmp_path / "absent.safetensors")
    result = runner.invoke(app, absent)
    assert result.exit_code == 2 and "checkpoint not found" in result.output


def _start(args):
    return subprocess.Popen(
        [sys.executable, "-m", "genomekit", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


def _wait_for(path, process, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no shard appeared"
        time.sleep(0.02)


@pytest.mark.slow
def test_sigkill_at_any_moment_then_resume_equals_an_uninterrupted_run(tmp_path, artefacts):
    samples = 3000
    reference = tmp_path / "reference"
    assert CliRunner().invoke(app, collect_args(artefacts, reference, samples)).exit_code == 0
    out = tmp_path / "killed"
    # Kill three times at seeded random moments within the shard after 1, 6 and 13 (mid-chunk, mid-write
    # or between shards): the delay is a random fraction of the time the previous shard took.
    delays = random.Random(0)
    for shard in (1, 6, 13):
        process = _start(collect_args(artefacts, out, samples))
        _wait_for(out / "shards" / f"part-{shard - 1:05d}.parquet", process)
        began = time.monotonic()
        _wait_for(out / "shards" / f"part-{shard:05d}.parquet", process)
        time.sleep(delays.uniform(0.0, 1.0) * (time.monotonic() - began))
        process.send_signal(signal.SIGKILL)
        process.wait()
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "running"
    finish = _start(collect_args(artefacts, out, samples))
    stdout, stderr = finish.communicate(timeout=120)
    assert finish.returncode == 0, stderr
    assert load_stats(out).totals.equal(load_stats(reference).totals)
    assert recompute_sums_from_shards(out).equal(load_stats(reference).totals)
    rows = pd.concat(pd.read_parquet(p) for p in sorted((out / "shards").glob("*.parquet")))
    assert rows["sample_id"].tolist() == list(range(samples))
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_ctrl_c_stops_after_the_current_shard(tmp_path, artefacts):
    out = tmp_path / "stats"
    process = _start(collect_args(artefacts, out, 3000))
    _wait_for(out / "shards" / "part-00001.parquet", process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted; rerun the same command to resume" in stderr and "Traceback" not in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running" and manifest["runs"][-1]["interrupted"]
    assert len(manifest["shards"]) < 3000 // 128
    result = CliRunner().invoke(app, collect_args(artefacts, out, 3000))
    assert result.exit_code == 0, result.output
    assert load_stats(out).samples == 3000


@pytest.mark.slow
def test_torchrun_two_processes_equal_one(tmp_path, artefacts):
    single = tmp_path / "single"
    assert CliRunner().invoke(app, collect_args(artefacts, single, 1000)).exit_code == 0
    out = tmp_path / "two"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    torchrun = Path(sys.executable).with_name("torchrun")
    process = subprocess.run(
        [
            str(torchrun),
            "--nproc-per-node",
            "2",
            "--standalone",  # a free port, chosen by torchrun
            "-m",
            "genomekit",
            *collect_args(artefacts, out, 1000),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    assert load_stats(out).totals.equal(load_stats(single).totals)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {run["rank"] for run in manifest["runs"]} == {0, 1}
    assert not list(out.glob("manifest.rank-*.json"))
