import pytest
import torch

from tests.stats.artefacts import make_checkpoint, make_classifiers


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory):
    """Real tiny artefacts on disk: genome checkpoints (two seeds, another shape, a mapping one) and classifier sets."""
    root = tmp_path_factory.mktemp("stats-artefacts")
    return {
        "model": make_checkpoint(root / "g.safetensors"),
        "other_model": make_checkpoint(root / "g-other.safetensors", seed=1),
        "other_shape": make_checkpoint(root / "g-shape.safetensors", num_variants=16),
        "mapping": make_checkpoint(root / "g-mapping.safetensors", latent="mapping"),
        "classifiers": make_classifiers(root / "clf"),
        "other_classifiers": make_classifiers(root / "clf-other", seed=1),
    }


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny models run fastest on one thread; two thrash when the machine's 2 cores are shared."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
