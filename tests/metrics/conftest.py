import pytest

from tests.metrics.artefacts import make_classifiers, make_images, make_model


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory):
    """A genome model and a mapping model trained the same way, a classifier set and an image folder."""
    root = tmp_path_factory.mktemp("metrics-artefacts")
    data = make_images(root / "data")
    return {
        "data": data,
        "genome": make_model(root, data, "genome"),
        "mapping": make_model(root, data, "mapping"),
        "classifiers": make_classifiers(root / "clf"),
    }
