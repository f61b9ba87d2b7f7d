import pytest
from typer.testing import CliRunner

from genomekit.cli import app
from tests.classifiers.conftest import make_dataset

runner = CliRunner()


@pytest.mark.slow
def test_train_info_eval(tmp_path):
    train = make_dataset(tmp_path / "train.zip", count=200, resolution=16, seed=1, as_zip=True)
    test = make_dataset(tmp_path / "test", count=60, resolution=16, seed=2)
    out = tmp_path / "set"
    result = runner.invoke(
        app,
        [
            "classifiers",
            "train",
            str(train),
            "--out",
            str(out),
            "--resolution",
            "16",
            "--channels",
            "8,16",
            "--epochs",
            "3",
            "--batch",
            "32",
            "--lr",
            "0.01",
            "--workers",
            "0",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Red_Background" in result.output and (out / "validation.csv").is_file()

    result = runner.invoke(app, ["classifiers", "info", str(out)])
    assert result.exit_code == 0, result.output
    assert "multihead" in result.output and "16 px" in result.output and "200 images" in result.output

    result = runner.invoke(app, ["classifiers", "eval", str(out), str(test), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Bright_Square" in result.output and "mean accuracy" in result.output
    assert (out / "metrics.csv").read_text().startswith("attribute,count,positive_rate")


def test_eval_rejects_dataset_with_other_attributes(tmp_path):
    import torch

    from classifiers import MultiHeadClassifierSet, MultiHeadConfig, save_classifier_set

    model = MultiHeadClassifierSet(
        ["Smiling", "Male"],
        MultiHeadConfig(resolution=8, stem_channels=2, channels=(2,)),
        generator=torch.Generator().manual_seed(0),
    )
    save_classifier_set(model, tmp_path / "set")
    data = make_dataset(tmp_path / "d", count=4, resolution=8)
    result = runner.invoke(app, ["classifiers", "eval", str(tmp_path / "set"), str(data), "--device", "cpu"])
    assert result.exit_code == 2
    assert "attributes differ from the classifier set's" in result.output and "Smiling" in result.output
    assert "Traceback" not in result.output


def test_user_errors_are_one_line(tmp_path):
    result = runner.invoke(app, ["classifiers", "info", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "classifier set not found" in result.output
    data = make_dataset(tmp_path / "d", count=40, resolution=8)
    result = runner.invoke(
        app,
        ["classifiers", "train", str(data), "--out", str(tmp_path / "o"), "--attr", "smilng", "--device", "cpu"],
    )
    assert result.exit_code == 2 and "unknown attribute 'smilng'" in result.output
    result = runner.invoke(
        app, ["classifiers", "train", str(data), "--out", str(tmp_path / "o"), "--val-fraction", "2"]
    )
    assert result.exit_code == 2 and "validation fraction" in result.output
    assert not (tmp_path / "o").exists()
