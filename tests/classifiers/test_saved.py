import json

import pytest
import torch

from classifiers import (
    ClassifierLoadError,
    MultiHeadClassifierSet,
    MultiHeadConfig,
    default_classifier_path,
    load_classifier_set,
    save_classifier_set,
)
from genomekit.errors import UserError


@pytest.fixture
def saved(tmp_path):
    model = MultiHeadClassifierSet(
        ["Smiling", "Male"],
        MultiHeadConfig(resolution=16, stem_channels=4, channels=(4, 8)),
        generator=torch.Generator().manual_seed(0),
    )
    # Non-trivial batch-norm statistics, so that they must round-trip too.
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 3, 16, 16) * 2 - 1)
    model.eval()
    return model, save_classifier_set(model, tmp_path / "set", training={"data": {"count": 8}})


def test_save_load_gives_identical_outputs(saved):
    model, path = saved
    loaded = load_classifier_set(path)
    images = torch.rand(6, 3, 24, 24) * 2 - 1
    assert torch.equal(loaded(images), model(images))
    assert torch.equal(loaded.features(images), model.features(images))
    assert loaded.identity == model.identity
    assert loaded.attribute_names == ("Smiling", "Male") and loaded.resolution == 16
    assert not loaded.training
    doc = json.loads((path / "classifier.json").read_text())
    assert doc["identity"] == model.identity and doc["architecture"]["channels"] == [4, 8]


def test_missing_and_corrupt_files_give_one_line(saved, tmp_path):
    _, path = saved
    with pytest.raises(ClassifierLoadError, match="not found"):
        load_classifier_set(tmp_path / "nowhere")
    with pytest.raises(ClassifierLoadError, match="holds no classifier set"):
        load_classifier_set(tmp_path)
    (path / "classifier.safetensors").write_bytes(b"garbage")
    with pytest.raises(ClassifierLoadError, match="not a readable safetensors") as info:
        load_classifier_set(path)
    assert "\n" not in str(info.value) and isinstance(info.value, UserError)
    (path / "classifier.json").write_text("{")
    with pytest.raises(ClassifierLoadError, match="not readable JSON"):
        load_classifier_set(path)


def test_weights_that_do_not_match_the_description(saved, tmp_path):
    model, path = saved
    other = MultiHeadClassifierSet(
        ["Smiling", "Male"],
        MultiHeadConfig(resolution=16, stem_channels=4, channels=(4, 8)),
        generator=torch.Generator().manual_seed(5),
    )
    save_classifier_set(other, tmp_path / "other")
    (path / "classifier.safetensors").write_bytes((tmp_path / "other" / "classifier.safetensors").read_bytes())
    with pytest.raises(ClassifierLoadError, match="does not match classifier.json"):
        load_classifier_set(path)
    doc = json.loads((path / "classifier.json").read_text())
    doc["architecture"]["channels"] = [4, 16]
    (path / "classifier.json").write_text(json.dumps(doc))
    with pytest.raises(ClassifierLoadError, match="does not match"):
        load_classifier_set(path)


def test_default_set():
    if not (default_classifier_path() / "classifier.json").is_file():
        with pytest.raises(ClassifierLoadError, match="no default classifier set is shipped"):
            load_classifier_set("default")
        return
    model = load_classifier_set("default")
    assert len(model.attribute_names) == 40 and "Smiling" in model.attribute_names
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 40)
    weights = default_classifier_path() / "classifier.safetensors"
    assert weights.stat().st_size < 5 * 2**20


def test_shipped_sets_are_named_by_input_resolution():
    assert load_classifier_set("default").resolution == 64
    small = load_classifier_set("default-32")
    assert small.resolution == 32 and small.attribute_names == load_classifier_set("default").attribute_names
    assert (default_classifier_path("default-32") / "classifier.safetensors").stat().st_size < 5 * 2**20


def test_probabilities_and_features_in_one_pass_match_separate_calls():
    model = load_classifier_set("default-32")
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        probs, feats = model.probabilities_and_features(images)
        assert torch.allclose(probs, model(images), atol=1e-6)
        assert torch.allclose(feats, model.features(images), atol=1e-6)
