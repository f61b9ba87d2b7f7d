"""scripts/genome_collapse_experiment.py `report` on runs written here: per-arm means over seeds, each seed's
leader and its rank at the first snapshot, and the refusal of unknown arms."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).parents[2] / "scripts" / "genome_collapse_experiment.py"


def _write_run(folder: Path, shares: np.ndarray, fd: list[float], genome: bool = True) -> None:
    folder.mkdir(parents=True)
    rows = []
    for index, kimg in enumerate([10.0, 20.0, 30.0][: len(fd)]):
        row = {"kimg": kimg, "loss_D": 1.0, "fd_cls": fd[index], "diversity": 0.5, "freq_gap": 0.1,
               "freq_gap_attribute": "Male"}  # fmt: skip
        if genome:
            row.update(gene_style_share=shares[index].tolist(), gene_spread=[1.0] * shares.shape[1],
                       top_gene=int(shares[index].argmax()), top_gene_share=float(shares[index].max()))  # fmt: skip
        rows.append(row)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_report_averages_seeds_and_names_each_leader(tmp_path):
    runs = tmp_path / "runs"
    s0 = np.array([[0.3, 0.2, 0.5], [0.2, 0.2, 0.6], [0.1, 0.2, 0.7]])  # gene 2 on top throughout
    s1 = np.array([[0.5, 0.3, 0.2], [0.4, 0.35, 0.25], [0.2, 0.6, 0.2]])  # gene 1: second until 30 kimg
    _write_run(runs / "genome-s0", s0, [300.0, 200.0, 100.0])
    _write_run(runs / "genome-s1", s1, [320.0, 210.0, 140.0])
    _write_run(runs / "mapping-s0", s0, [250.0, 150.0], genome=False)
    out = tmp_path / "report"
    result = subprocess.run([sys.executable, str(SCRIPT), "report", "--runs", str(runs), "--out", str(out)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    arms = pd.read_csv(out / "arms.csv").set_index("arm")
    assert arms.loc["genome", "seeds"] == 2 and arms.loc["mapping", "seeds"] == 1
    assert arms.loc["genome", "fd_cls"] == 120.0 and arms.loc["mapping", "kimg"] == 20.0
    assert arms.loc["genome", "leaders"] == "0:2(1) 1:1(2)"
    np.testing.assert_allclose(arms.loc["genome", "effective_genes"],
                               np.mean([1 / np.sum(s0[-1] ** 2), 1 / np.sum(s1[-1] ** 2)]), rtol=1e-4)  # fmt: skip
    assert pd.isna(arms.loc["mapping", "leaders"]) and pd.isna(arms.loc["mapping", "effective_genes"])
    final = pd.read_csv(out / "final.csv")
    assert final.loc[final["seed"] == 1, "leader_since"].item() == 30.0
    # the genome arm has 32 genes (its flags; these fake runs log 3 shares)
    np.testing.assert_allclose(arms.loc["genome", "top_over_even"], 32 * np.mean([0.7, 0.6]), rtol=1e-4)
    np.testing.assert_allclose(final.loc[final["arm"] == "genome", "effective_fraction"],
                               final.loc[final["arm"] == "genome", "effective_genes"] / 32, rtol=1e-4)  # fmt: skip
    for figure in ("fd_cls", "top_gene_share", "top_over_even", "freq_gap", "effective_genes", "loss_D"):
        assert (out / f"{figure}.png").stat().st_size > 5_000


def test_report_counts_the_attributes_within_the_target_against_the_runs_reference(tmp_path):
    from genomekit.training.health import Reference

    runs, out = tmp_path / "runs", tmp_path / "report"
    shares = np.full((3, 4), 0.25)
    _write_run(runs / "d2048-s0", shares, [300.0, 200.0, 100.0])
    _write_run(runs / "genome-s0", shares, [300.0, 200.0, 100.0])  # no reference: no count
    data = {"Male": 0.4, "Smiling": 0.5, "Bald": 0.02}
    Reference(mean=np.zeros(2), covariance=np.eye(2), frequencies=np.array(list(data.values())), pairwise=1.0,
              count=16).save(runs / "d2048-s0" / "health_reference_0_16.npz")  # fmt: skip
    generated = [{"Male": 0.4, "Smiling": 0.2, "Bald": 0.11}, {"Male": 0.47, "Smiling": 0.5, "Bald": 0.09},
                 {"Male": 0.49, "Smiling": 0.5, "Bald": 0.0}]  # fmt: skip
    rows = [json.loads(line) for line in (runs / "d2048-s0" / "metrics.jsonl").read_text().splitlines()]
    lines = [json.dumps({**row, "sample_frequencies": f}) for row, f in zip(rows, generated, strict=True)]
    (runs / "d2048-s0" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    expected = [sum(abs(f[a] - v) <= 0.08 for a, v in data.items()) for f in generated]
    assert expected == [1, 3, 2]
    result = subprocess.run([sys.executable, str(SCRIPT), "report", "--runs", str(runs), "--out", str(out)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[summary["arm"] == "d2048", "within_target"].tolist() == expected
    assert summary.loc[summary["arm"] == "genome", "within_target"].isna().all()
    assert pd.read_csv(out / "arms.csv").set_index("arm").loc["d2048", "within_target"] == 2
    assert (out / "within_target.png").stat().st_size > 5_000
    # --kimg: the arms at one budget (the last snapshot at or before it)
    command = [sys.executable, str(SCRIPT), "report", "--runs", str(runs), "--out", str(out), "--kimg", "20"]
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    final = pd.read_csv(out / "final.csv").set_index("arm")
    assert final["kimg"].tolist() == [20.0, 20.0] and final.loc["d2048", "within_target"] == 3
    assert pd.read_csv(out / "arms.csv").set_index("arm").loc["d2048", "within_target"] == 3
    assert pd.read_csv(out / "summary.csv")["kimg"].max() == 30.0  # the record keeps every snapshot
    before = (out / "summary.csv").read_bytes()
    early = subprocess.run(command[:-1] + ["5"], capture_output=True, text=True)  # before the first snapshot
    assert (
        early.returncode == 2
        and early.stderr.strip() == "error: --kimg 5: no snapshot at or before it (the first is at 10 kimg)"
    )
    assert (out / "summary.csv").read_bytes() == before


def test_unknown_arms_are_refused_before_any_work(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "run", "--runs", str(tmp_path / "r"), "--arms", "genome,v1024"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: unknown arms v1024")
    assert not (tmp_path / "r").exists()


def test_merge_keeps_earlier_runs_that_are_not_here_and_replaces_those_that_are(tmp_path):
    shares = np.array([[0.3, 0.2, 0.5], [0.2, 0.2, 0.6], [0.1, 0.2, 0.7]])
    first, out = tmp_path / "first", tmp_path / "report"
    _write_run(first / "genome-s0", shares, [300.0, 200.0, 100.0])
    _write_run(first / "lr0.1-s0", shares, [310.0, 210.0, 110.0])

    def report(runs: Path, *extra: str) -> subprocess.CompletedProcess:
        command = [sys.executable, str(SCRIPT), "report", "--runs", str(runs), "--out", str(out), *extra]
        return subprocess.run(command, capture_output=True, text=True)

    assert report(first).returncode == 0
    later = tmp_path / "later"  # a later session: the first runs' folders are gone, lr0.1-s0 re-run
    _write_run(later / "lr0.1-s0", shares, [400.0, 150.0, 90.0])
    _write_run(later / "frozen-s1", shares, [330.0, 220.0])
    result = report(later, "--merge", str(out / "summary.csv"))
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(set(zip(summary["arm"], summary["seed"], strict=True))) == [
        ("frozen", 1), ("genome", 0), ("lr0.1", 0)]  # fmt: skip
    final = pd.read_csv(out / "final.csv").set_index("arm")
    assert final.loc["genome", "fd_cls"] == 100.0 and final.loc["lr0.1", "fd_cls"] == 90.0
    assert final.loc["frozen", "kimg"] == 20.0 and len(summary) == 3 + 3 + 2
    # --kimg with --merge: the comparison at 20 kimg, but the merged record keeps the 30-kimg snapshots of
    # runs whose folders are gone (genome-s0 here)
    assert report(later, "--merge", str(out / "summary.csv"), "--kimg", "20").returncode == 0
    assert pd.read_csv(out / "final.csv")["kimg"].max() == 20.0
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[summary["arm"] == "genome", "kimg"].tolist() == [10.0, 20.0, 30.0]
    missing = report(later, "--merge", str(tmp_path / "nothing.csv"))
    assert missing.returncode == 2 and missing.stderr.strip().startswith("error: --merge")


def _train_arms_small(tmp_path, arms, small):
    """Each arm's own command (the recipe's flags, then the arm's), trained for one tiny snapshot with ``small``
    appended (later values count, so ``small`` must not repeat an arm's flag): arm -> its run's config.json."""
    import argparse

    from typer.testing import CliRunner

    from genomekit.cli import app
    from tests.scripts import load_script

    experiment = load_script("genome_collapse_experiment")
    runner = CliRunner()
    data = tmp_path / "faces.zip"
    made = runner.invoke(app, ["data", "synth-faces", "--out", str(data), "--images", "16", "--resolution", "32"])
    assert made.exit_code == 0, made.output
    args = argparse.Namespace(runs=tmp_path, kimg=0.016, snap=1.0, tiny=False, base_r1=10.0)
    configs = {}
    for arm in arms:
        result = runner.invoke(app, experiment.run_command(args, arm, 0, data)[1:] + small)
        assert result.exit_code == 0, result.output
        configs[arm] = json.loads((tmp_path / f"{arm}-s0" / "config.json").read_text())
    return configs


def test_the_noise_arm_trains_with_noise_inputs_after_the_recipes_no_noise(tmp_path):
    small = ["--batch", "8", "--channel-base", "128", "--channel-max", "16", "--no-health"]
    configs = _train_arms_small(tmp_path, ("genome", "noise"), small)  # the recipe's command has --no-noise
    noise = {arm: config["generator"]["use_noise"] for arm, config in configs.items()}
    assert noise == {"genome": False, "noise": True}


def test_the_g2048_arm_widens_the_generator_and_keeps_the_recipes_discriminator(tmp_path):
    # made small by channel_max alone: the arm's own flag is --channel-base
    configs = _train_arms_small(tmp_path, ("genome", "g2048"), ["--batch", "8", "--channel-max", "16", "--no-health"])
    bases = {arm: (c["generator"]["channel_base"], c["discriminator"]["channel_base"]) for arm, c in configs.items()}
    assert bases == {"genome": (1024, 1024), "g2048": (2048, 1024)}
