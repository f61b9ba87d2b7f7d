"""`genomekit project` and `genomekit insert` on real tiny artefacts: what they write and print, and
that statistics of the original model are refused for the inserted one."""

import json

import pytest
import torch
from PIL import Image
from safetensors import safe_open

from tests.cli.world import invoke


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    from genomekit.data.synth_faces import render_face

    folder = tmp_path_factory.mktemp("faces")
    for i in range(2):
        Image.fromarray(render_face(777_000 + i, 32)[0]).save(folder / f"face{i}.png")
    return folder


@pytest.fixture(scope="module")
def projection(faces, tmp_path_factory):
    out = tmp_path_factory.mktemp("p") / "proj"
    result = invoke("project", "--model", "default", "--image", faces, "--out", out, "--steps", 5, "--device", "cpu",
                    "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    return out, result.output


def test_project_writes_latents_table_images_and_figure(projection):
    import pandas as pd

    from genomekit.training import load_checkpoint

    out, output = projection
    assert output.count(": projection ") == 2 and "nearest variants L1" in output
    table = pd.read_csv(out / "results.csv")
    assert list(table["image"]) == ["face0.png", "face1.png"]
    for column in ("psnr", "ssim", "psnr_l1", "psnr_l2", "psnr_cosine", "sequence_l2"):
        assert column in table
    assert all(len(s.split(",")) == 32 for s in table["sequence_l2"])
    with safe_open(str(out / "projection.safetensors"), framework="pt") as f:
        assert f.metadata()["model"] == load_checkpoint("default").identity
        assert f.get_tensor("ws").shape == (2, 8, 256)
        assert f.get_tensor("targets").dtype == torch.uint8
        sequences = f.get_tensor("sequences_l2")
    assert ",".join(map(str, sequences[0].tolist())) == table["sequence_l2"][0]
    assert Image.open(out / "figure.png").size == (5 * 34 - 2, 2 * 34 - 2)  # target | w+ | L1 | L2 | cosine
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names == sorted(f"face{i}{s}.png" for i in range(2) for s in ("", "_l1", "_l2", "_cosine"))


def test_insert_writes_a_model_that_records_its_source(projection, tmp_path):
    from genomekit.training import load_checkpoint

    out, _ = projection
    new = tmp_path / "inserted.safetensors"
    result = invoke("insert", "--model", "default", "--projection", out, "--out", new, "--steps", 3, "--device",
                    "cpu", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("dB before") == 2
    checkpoint = load_checkpoint(new)
    record = json.loads(checkpoint.raw_metadata["insertion"])
    assert record["source_model"] == load_checkpoint("default").identity
    assert [r["image"] for r in record["images"]] == ["face0.png", "face1.png"]
    assert checkpoint.identity != record["source_model"]
    assert checkpoint.genome_shape == (32, 64, 8) and checkpoint.has_discriminator

    stats = tmp_path / "stats"
    assert invoke("collect-stats", "--model", "default", "--out", stats, "--samples", 256, "--chunk-size", 256,
                  "--device", "cpu", "--no-progress").exit_code == 0  # fmt: skip
    refused = invoke("sample", "--model", new, "--stats", stats, "--out", tmp_path / "s", "--samples", 4)
    assert refused.exit_code == 2 and "another model" in refused.output
    accepted = invoke("sample", "--model", new, "--stats", stats, "--out", tmp_path / "s", "--samples", 4,
                      "--allow-other-model", "--device", "cpu")  # fmt: skip
    assert accepted.exit_code == 0, accepted.output


def test_insert_from_images_projects_first(faces, tmp_path):
    new = tmp_path / "inserted.safetensors"
    result = invoke("insert", "--model", "default", "--image", faces / "face0.png", "--out", new, "--steps", 2,
                    "--project-steps", 2, "--perceptual", "none", "--device", "cpu", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "face0.png:" in result.output and new.is_file()


def test_project_a_mapping_model_has_no_sequences(faces, tmp_path):
    import pandas as pd

    out = tmp_path / "proj"
    result = invoke("project", "--model", "default-mapping", "--image", faces / "face1.png", "--out", out, "--steps",
                    2, "--space", "w", "--device", "cpu", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "nearest" not in result.output
    assert list(pd.read_csv(out / "results.csv").columns) == ["image", "psnr", "ssim"]
    assert Image.open(out / "figure.png").size == (2 * 34 - 2, 32)
