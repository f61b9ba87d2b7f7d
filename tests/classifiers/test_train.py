import json

import pytest
import torch

from classifiers import TrainConfig, evaluate_classifier_set, load_classifier_set, train_classifier_set
from genomekit.data import open_dataset
from genomekit.errors import UserError
from tests.classifiers.conftest import ATTRIBUTES, make_dataset


@pytest.mark.slow
def test_training_learns_easy_attributes(trained_set, easy_test):
    report = evaluate_classifier_set(trained_set.classifier, open_dataset(easy_test), progress=False)
    assert report.attribute_names == tuple(ATTRIBUTES)
    assert min(report.metrics["balanced_accuracy"]) > 0.9, report.table()  # chance is 0.5
    assert report.mean_accuracy > 0.95
    assert trained_set.validation.count == 60  # 15% of 400 held out


@pytest.mark.slow
def test_saved_set_reloads_with_identical_outputs(trained_set, easy_test):
    out = trained_set.out
    assert {p.name for p in out.iterdir()} >= {
        "classifier.safetensors",
        "classifier.json",
        "config.json",
        "validation.csv",
    }
    loaded = load_classifier_set(out)
    images = torch.rand(5, 3, 16, 16) * 2 - 1
    assert torch.equal(loaded(images), trained_set.classifier.cpu().eval()(images))
    doc = json.loads((out / "classifier.json").read_text())
    assert doc["training"]["data"]["count"] == 400 and len(doc["training"]["data"]["sha256"]) == 64
    assert doc["validation"]["mean_accuracy"] == pytest.approx(trained_set.validation.mean_accuracy)
    assert set(doc["validation"]["per_attribute"]) == set(ATTRIBUTES)


@pytest.mark.slow
def test_same_seed_same_weights(easy_train):
    from classifiers import MultiHeadConfig

    config = TrainConfig(
        architecture=MultiHeadConfig(resolution=16, stem_channels=4, channels=(4,)),
        epochs=1,
        batch_size=64,
        val_fraction=0.1,
        seed=3,
    )
    a = train_classifier_set(easy_train, config, progress=False)
    b = train_classifier_set(easy_train, config, progress=False)
    assert a.classifier.identity == b.classifier.identity


def test_attribute_subset_and_unknown_attribute(tmp_path):
    data = make_dataset(tmp_path / "d", count=40, resolution=8)
    from classifiers import MultiHeadConfig

    config = TrainConfig(
        architecture=MultiHeadConfig(resolution=8, stem_channels=2, channels=(2,)),
        attributes=("red background",),
        epochs=1,
        batch_size=16,
        val_fraction=0.2,
    )
    result = train_classifier_set(data, config, progress=False)
    assert result.classifier.attribute_names == ("Red_Background",)
    with pytest.raises(UserError, match="did you mean: Red_Background"):
        train_classifier_set(data, TrainConfig(attributes=("red backgrond",)), progress=False)


def test_config_and_data_errors(tmp_path):
    with pytest.raises(ValueError, match="validation fraction"):
        TrainConfig(val_fraction=0.0)
    with pytest.raises(ValueError, match="batch size"):
        TrainConfig(batch_size=1)
    data = make_dataset(tmp_path / "d", count=6, resolution=8)
    with pytest.raises(UserError, match="too few to train"):
        train_classifier_set(data, TrainConfig(batch_size=32), progress=False)
    unlabelled = tmp_path / "u"
    make_dataset(unlabelled, count=4, resolution=8)
    (unlabelled / "dataset.json").unlink()
    with pytest.raises(UserError, match="has no labels"):
        train_classifier_set(unlabelled, TrainConfig(), progress=False)


@pytest.mark.slow
def test_init_from_continues_from_saved_weights(trained_set, easy_train):
    from classifiers import MultiHeadConfig

    architecture = trained_set.classifier.architecture
    config = TrainConfig(
        architecture=architecture,
        init_from=str(trained_set.out),
        epochs=1,
        batch_size=32,
        learning_rate=1e-12,
        calibrate=False,
        warmup_steps=1,
        val_fraction=0.15,
        seed=0,
    )
    result = train_classifier_set(easy_train, config, progress=False)
    start, end = trained_set.classifier.cpu().state_dict(), result.classifier.cpu().state_dict()
    assert torch.allclose(start["network.head.weight"], end["network.head.weight"], atol=1e-6)
    assert result.validation.mean_accuracy > 0.9  # it starts trained, not from scratch
    other = TrainConfig(
        architecture=MultiHeadConfig(resolution=16, stem_channels=4, channels=(4,)),
        init_from=str(trained_set.out),
        epochs=1,
        batch_size=32,
    )
    with pytest.raises(UserError, match="differs from the one asked for"):
        train_classifier_set(easy_train, other, progress=False)
