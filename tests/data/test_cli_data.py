"""`genomekit data ...` through the real typer app on tiny artefacts."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.data import CELEBA_ATTRIBUTES, open_dataset

runner = CliRunner()


def test_synth_faces_then_info(tmp_path):
    out = tmp_path / "faces.zip"
    result = runner.invoke(
        app,
        [
            "data",
            "synth-faces",
            "--out",
            str(out),
            "--images",
            "40",
            "--resolution",
            "32",
            "--seed",
            "5",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 40 images at 32x32" in result.output
    dataset = open_dataset(out)
    assert len(dataset) == 40 and dataset.resolution == 32

    result = runner.invoke(app, ["data", "info", str(out), "--check"])
    assert result.exit_code == 0, result.output
    assert "images      40" in result.output and "32x32" in result.output
    lines = [line.split() for line in result.output.splitlines()]
    rows = {parts[0]: float(parts[1]) for parts in lines if parts and parts[0] in CELEBA_ATTRIBUTES}
    assert list(rows) == list(CELEBA_ATTRIBUTES)  # every attribute, in the dataset's order
    np.testing.assert_allclose(list(rows.values()), dataset.labels.mean(0).numpy(), atol=6e-5)


def test_info_on_an_unlabelled_folder(tmp_path):
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "a.png")
    result = runner.invoke(app, ["data", "info", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "images      1" in result.output and "unlabelled" in result.output


def test_user_errors_are_one_line(tmp_path):
    result = runner.invoke(
        app, ["data", "synth-faces", "--out", str(tmp_path / "x.zip"), "--images", "4", "--resolution", "48"]
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: --resolution must be one of 32, 64, 128")
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.zip").exists()

    result = runner.invoke(app, ["data", "info", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "dataset not found" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_synth_faces_grid(tmp_path):
    out = tmp_path / "grid.png"
    result = runner.invoke(app, ["data", "synth-faces-grid", "--out", str(out), "--resolution", "32", "--upscale", "1"])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.width > 4 * 2 * 32 and image.height > 10 * 32


def test_info_on_a_celeba_folder(tmp_path):
    from .test_celeba import make_celeba

    labels = make_celeba(tmp_path, count=4)
    result = runner.invoke(app, ["data", "info", str(tmp_path), "--check"])
    assert result.exit_code == 0, result.output
    assert "images      4" in result.output and "178x178" in result.output
    smiling = next(line for line in result.output.splitlines() if line.startswith("Smiling "))
    assert float(smiling.split()[1]) == labels[:, CELEBA_ATTRIBUTES.index("Smiling")].mean()
