import pandas as pd
import pytest

from tests.scripts import load_script
from tests.training.test_averaging import _kept_run

experiment = load_script("snapshot_averaging_experiment")


def test_windows_are_measured_as_metrics_health_measures_a_model(tiny_dataset, tmp_path):
    from classifiers import load_classifier_set
    from genomekit.data import open_dataset
    from genomekit.training import load_generator
    from genomekit.training.health import measure_health

    run = _kept_run(tmp_path / "run")  # snapshots at 10, 20, 30, 40 kimg
    out = tmp_path / "out"
    code = experiment.main(["--runs", str(run), "--data", str(tiny_dataset), "--ends", "40", "--widths", "0,20",
                            "--samples", "16", "--out", str(out)])  # fmt: skip
    assert code == 0
    summary = pd.read_csv(out / "averaging.csv")
    assert summary["width_kimg"].tolist() == [0, 20] and summary["snapshots"].tolist() == [1, 3]
    alone = measure_health(load_generator(run / "snapshots" / "network-000040000.safetensors"),
                           load_classifier_set("default", resolution=16), open_dataset(tiny_dataset), 16)  # fmt: skip
    assert summary.loc[0, "fd_cls"] == pytest.approx(alone.figures["fd_cls"], rel=1e-4)
    assert summary.loc[0, "within"] == int((alone.frequencies["gap"] <= 0.08).sum())
    assert summary.loc[0, "freq_gap"] == pytest.approx(alone.frequencies["gap"].max(), abs=1e-4)
    assert summary.loc[1, "fd_cls"] != pytest.approx(summary.loc[0, "fd_cls"])  # the average is another model
    frequencies = pd.read_csv(out / "frequencies.csv")
    assert len(frequencies) == 2 * 40 and (out / "averaging.png").is_file()


@pytest.mark.parametrize(
    ("kept", "extra", "message"),
    [(False, [], "has no kept snapshots"), (True, ["--samples", "1"], "--samples must be at least 2"),
     (True, ["--widths", "0,-20"], "at least 0")],
)  # fmt: skip
def test_bad_input_is_refused_with_one_line_before_any_work(tiny_dataset, tmp_path, capsys, kept, extra, message):
    run = _kept_run(tmp_path / "run") if kept else tmp_path / "run"
    run.mkdir(exist_ok=True)
    with pytest.raises(SystemExit) as exit_:
        experiment.main(["--runs", str(run), "--data", str(tiny_dataset), "--ends", "40", *extra,
                         "--out", str(tmp_path / "out")])  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "out").exists()
