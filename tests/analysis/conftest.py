import shutil

import pytest
import torch

from tests.conftest import make_image_folder
from tests.stats.artefacts import make_checkpoint, make_classifiers


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """Real tiny artefacts and statistics collected from them through the library (not the CLI)."""
    from classifiers import load_classifier_set
    from genomekit.stats.collect import CollectConfig, collect_stats
    from genomekit.training.checkpoint import load_discriminator, load_generator, model_identity

    root = tmp_path_factory.mktemp("analysis-library")
    model = make_checkpoint(root / "g.safetensors", num_genes=4, num_variants=8)
    clf = make_classifiers(root / "clf")
    stats = root / "stats"
    with torch.random.fork_rng(devices=[]):
        collect_stats(
            CollectConfig(out=stats, samples=512, batch_size=128, chunk_size=128, seed=0),
            generator=load_generator(model),
            classifiers=load_classifier_set(clf),
            discriminator=load_discriminator(model),
            model_identity=model_identity(model),
            progress=False,
        )
    return {
        "root": root,
        "model": model,
        "clf": clf,
        "stats": stats,
        "data": make_image_folder(root / "data", count=12, resolution=8),
        "other": make_checkpoint(root / "other.safetensors", seed=5, num_genes=4, num_variants=8),
        "other_shape": make_checkpoint(root / "shape.safetensors", num_genes=4, num_variants=16),
        "mapping": make_checkpoint(root / "map.safetensors", latent="mapping"),
        "other_clf": make_classifiers(root / "clf-other", seed=1),
        "few_clf": make_classifiers(root / "clf-few", attributes=("Smiling",)),
    }


@pytest.fixture
def stats_copy(tiny_world, tmp_path):
    """A private copy of the statistics, to damage or edit."""
    out = tmp_path / "stats"
    shutil.copytree(tiny_world["stats"], out)
    return out


@pytest.fixture
def one_thread():
    """The tiny models run fastest on one thread; two thrash when the machine's 2 cores are shared."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def no_generation(monkeypatch):
    """Fail the test if any image is generated (to check that inputs are validated first)."""
    import analysis.conditional
    from genomekit.networks import Generator

    def refuse(*args, **kwargs):
        raise AssertionError("an image was generated before the inputs were checked")

    monkeypatch.setattr(Generator, "forward", refuse)
    monkeypatch.setattr(analysis.conditional, "sample_conditional", refuse)


@pytest.fixture(scope="session")
def loaded(tiny_world):
    """The tiny world's checkpoints and statistics, loaded (as the command line loads them)."""
    from genomekit.stats import load_stats
    from genomekit.training import load_checkpoint

    names = ("model", "other", "other_shape", "mapping")
    return {"stats": load_stats(tiny_world["stats"]), **{name: load_checkpoint(tiny_world[name]) for name in names}}


class Bars:
    """A ``progress(description, total) -> update(n)`` factory that records what it is told."""

    def __init__(self):
        self.totals, self.done = {}, {}

    def __call__(self, description, total):
        self.totals[description], self.done[description] = total, 0

        def update(n):
            self.done[description] += n

        return update


@pytest.fixture
def bars():
    return Bars()
