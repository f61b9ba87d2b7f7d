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


def test_a_run_without_snapshots_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    code = experiment.main(["--runs", str(tmp_path / "run"), "--data", str(tmp_path), "--ends", "10",
                            "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and "error:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
