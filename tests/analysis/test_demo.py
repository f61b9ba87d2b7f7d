"""`genomekit demo` end to end on tiny real artefacts, and the names of the shipped models and classifiers."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.stats import load_stats
from tests.stats.artefacts import make_checkpoint, make_classifiers

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return {
        "model": make_checkpoint(root / "g.safetensors", num_genes=4, num_variants=8),
        "mapping": make_checkpoint(root / "map.safetensors", latent="mapping"),
        "clf": make_classifiers(root / "clf"),
    }


def demo_args(tiny, out, *extra):
    return (
        "demo", "--out", out, "--samples", 600, "--model", tiny["model"], "--classifiers", tiny["clf"],
        "--attr", "smiling", "--attr", "male", "--temps", "1.0,0.5", "--device", "cpu", "--no-progress", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def demo_run(tiny, tmp_path_factory):
    """The demo's first run: its directory, its result and how often it read each artefact."""
    import classifiers
    import genomekit.stats
    from genomekit.training import checkpoint

    out = tmp_path_factory.mktemp("demo-run") / "demo"
    reads = {"model": 0, "stats": 0, "classifiers": 0}

    def counting(owner, name, key):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            reads[key] += 1
            return original(*args, **kwargs)

        patch.setattr(owner, name, wrapper)

    with pytest.MonkeyPatch.context() as patch:
        counting(checkpoint, "read_checkpoint", "model")
        counting(genomekit.stats, "load_stats", "stats")
        counting(classifiers, "load_classifier_set", "classifiers")
        result = invoke(*demo_args(tiny, out))
    return out, result, reads


def test_demo_writes_stats_report_samples_and_summary(demo_run):
    out, result, _ = demo_run
    assert result.exit_code == 0, result.output
    assert load_stats(out / "stats").samples == 600
    for name in ("index.html", "polar.png", "heatmap.png", "correlation_real.png", "gene_edit_Smiling.png"):
        assert (out / "report" / name).is_file(), name
    expected = [f"{c}_T{t}" for c in ("Smiling", "no-Smiling", "Male", "no-Male") for t in ("1", "0.5")]
    assert sorted(p.name for p in (out / "samples").iterdir()) == sorted(expected)
    for name in expected:
        scores = pd.read_csv(out / "samples" / name / "scores.csv")
        assert scores["requested"].tolist() == ["absent" if name.startswith("no-") else "present"]
        assert (out / "samples" / name / "grid.png").is_file()
    summary = (out / "summary.md").read_text()
    assert summary.count("grid.png)") == 8 and "report/index.html" in summary
    assert "polar.png" in result.output and "Smiling" in result.output


def test_demo_reads_each_artefact_once(demo_run):
    _, result, reads = demo_run
    assert result.exit_code == 0, result.output
    assert reads == {"model": 1, "stats": 1, "classifiers": 1}


def test_demo_rerun_resumes_without_regenerating(tiny, demo_run):
    out, first, _ = demo_run
    assert first.exit_code == 0
    shards = {p.name: p.stat().st_mtime_ns for p in (out / "stats" / "shards").iterdir()}
    summary = (out / "summary.md").read_text()
    again = invoke(*demo_args(tiny, out))
    assert again.exit_code == 0, again.output
    assert "generated at" not in again.output  # nothing left to collect
    assert {p.name: p.stat().st_mtime_ns for p in (out / "stats" / "shards").iterdir()} == shards
    assert (out / "summary.md").read_text() == summary


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--temps", "0.5,0"), "must be a finite number > 0"),
        (("--attr", "smilling_x"), "unknown attribute"),
        (("--samples", "0"), "--samples must be at least 1"),
        (("--temps", "a,b"), "comma-separated"),
    ],
)
def test_demo_bad_input_is_one_line(tiny, tmp_path, extra, message):
    result = invoke(*demo_args(tiny, tmp_path / "demo"), *extra)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "demo" / "summary.md").exists()


def test_demo_refuses_a_mapping_model(tiny, tmp_path):
    args = list(demo_args(tiny, tmp_path / "demo"))
    args[args.index(tiny["model"])] = tiny["mapping"]
    result = invoke(*args)
    assert result.exit_code == 2 and "mapping-network" in result.output
