import dataclasses

import pytest
import safetensors
import safetensors.torch
import torch

from classifiers import BatchedCelebAHQ, CelebAHQClassifierSet, CelebAHQConfig, CelebAHQNetwork, load_classifier_set
from classifiers.celebahq import minibatch_stddev, save_celebahq_directory
from classifiers.celebahq_batched import batched, grouped_minibatch_stddev
from classifiers.saved import save_classifier_set

SMALL = CelebAHQConfig(resolution=32, fmap_base=128, fmap_max=32)
NAMES = ("Male", "Smiling", "Wearing_Necktie", "Young")


def random_set(config=SMALL, names=NAMES, seed=0, configs=None) -> CelebAHQClassifierSet:
    """Random "official" weights, with non-zero biases so that every bias takes part."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        networks = [CelebAHQNetwork(c) for c in (configs or [config] * len(names))]
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for network in networks:
            for parameter in network.parameters():
                if parameter.ndim == 1:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return CelebAHQClassifierSet(list(names), networks).eval()


def images(count=6, size=32, seed=1):
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def outputs(model, x):
    with torch.inference_mode():
        probabilities, features = model.probabilities_and_features(x)
        return probabilities, features, model.logits(x), model.raw_outputs(x)


@pytest.mark.parametrize(
    "config",
    [
        SMALL,
        dataclasses.replace(SMALL, blur=False),  # ProGAN D_paper
        dataclasses.replace(SMALL, mbstd_group_size=0),
        dataclasses.replace(SMALL, mbstd_num_features=2),
        CelebAHQConfig(resolution=64, fmap_base=256, fmap_max=32),  # widths that change between stages
    ],
    ids=["stylegan", "no-blur", "no-mbstd", "mbstd-2-features", "64px"],
)
def test_batched_equals_sequential(config):
    sequential = random_set(config)
    model = batched(sequential)
    assert isinstance(model, BatchedCelebAHQ) and model.stackable
    # 6 images: groups of 3 (6 is not a multiple of 4); 8: groups of 4; 1: a group of one.
    for count in (6, 8, 1):
        x = images(count, size=config.resolution)
        for want, got in zip(outputs(sequential, x), outputs(model, x), strict=True):
            assert got.shape == want.shape and got.dtype == torch.float32
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    probabilities = outputs(model, images(8, size=config.resolution))[0]
    assert probabilities.std() > 0.05  # the comparison is not between near-constant outputs


def test_grouped_minibatch_stddev_is_the_per_network_layer():
    x = torch.randn(8, 3 * 6, 4, 4, generator=torch.Generator().manual_seed(0))  # A = 3 networks of 6 channels
    out = grouped_minibatch_stddev(x, num_networks=3, group_size=4, num_features=2)
    assert out.shape == (8, 3 * 8, 4, 4)
    for a, part in enumerate(x.split(6, dim=1)):
        torch.testing.assert_close(out[:, a * 8 : (a + 1) * 8], minibatch_stddev(part, 4, 2))


def test_same_parameters_state_dict_and_identity():
    sequential = random_set()
    model = batched(sequential)
    assert batched(model) is model
    assert model.config() == sequential.config() and model.kind == sequential.kind == "celebahq"
    state, reference = model.state_dict(), sequential.state_dict()
    assert list(state) == list(reference) and all(torch.equal(state[k], reference[k]) for k in state)
    assert model.identity == sequential.identity
    assert model.mbstd_group_size == 4


def test_saved_files_do_not_change_and_the_loader_returns_the_batched_form(tmp_path):
    sequential = random_set()
    save_classifier_set(sequential, tmp_path / "seq")
    save_classifier_set(batched(random_set()), tmp_path / "bat")
    assert (tmp_path / "seq" / "classifier.json").read_bytes() == (tmp_path / "bat" / "classifier.json").read_bytes()
    saved = [safetensors.torch.load_file(tmp_path / d / "classifier.safetensors") for d in ("seq", "bat")]
    assert list(saved[0]) == list(saved[1]) and all(torch.equal(saved[0][k], saved[1][k]) for k in saved[0])
    metadata = [safetensors.safe_open(tmp_path / d / "classifier.safetensors", "pt").metadata() for d in ("seq", "bat")]
    assert metadata[0] == metadata[1]  # {"identity", "format"} (the key order on disk is not fixed)

    loaded = load_classifier_set(tmp_path / "seq")
    plain = load_classifier_set(tmp_path / "seq", batched=False)
    assert isinstance(loaded, BatchedCelebAHQ) and type(plain) is CelebAHQClassifierSet
    assert loaded.identity == plain.identity == sequential.identity and not loaded.training
    x = images()
    torch.testing.assert_close(loaded.score(x), plain.score(x), atol=1e-5, rtol=1e-5)

    save_celebahq_directory(sequential, tmp_path / "pt")  # converted official files: one .pt per network
    from_files = load_classifier_set(tmp_path / "pt")
    assert isinstance(from_files, BatchedCelebAHQ) and from_files.source == str((tmp_path / "pt").resolve())
    assert from_files.identity == sequential.identity
    torch.testing.assert_close(from_files.score(x), plain.score(x), atol=1e-5, rtol=1e-5)


def test_stacked_weights_follow_the_parameters():
    model = batched(random_set())
    x = images()
    before = outputs(model, x)[0]
    other = random_set(seed=5)
    model.load_state_dict(other.state_dict())  # in place: the stacked copy must be rebuilt
    torch.testing.assert_close(outputs(model, x)[0], outputs(other, x)[0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(outputs(model, x)[0], before, atol=1e-3)
    model.double()  # parameters replaced
    with torch.inference_mode():
        doubled = model._logits_from_features(model._features(x.double()))
    assert doubled.dtype == torch.float64
    torch.testing.assert_close(doubled.float(), outputs(other, x)[2], atol=1e-4, rtol=1e-4)


def test_gradients():
    sequential = random_set()
    model = batched(random_set())
    x = images()
    # Autograd into the parameters: the sequential pass, so each network's parameters get gradients.
    model(x).sum().backward()
    sequential(x).sum().backward()
    for got, want in zip(model.parameters(), sequential.parameters(), strict=True):
        torch.testing.assert_close(got.grad, want.grad)
    # Frozen parameters, gradient into the images (as for attribute guidance): the batched pass.
    model.requires_grad_(False)
    sequential.requires_grad_(False)
    grads = []
    for network in (sequential, model):
        images_ = x.clone().requires_grad_(True)
        network(images_)[:, 1].sum().backward()
        grads.append(images_.grad)
    assert model._batched()
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=1e-4)


def test_networks_of_different_architectures_run_one_after_another():
    configs = [SMALL, dataclasses.replace(SMALL, blur=False), SMALL, SMALL]
    sequential = random_set(configs=configs)
    model = batched(random_set(configs=configs))
    assert not model.stackable and model.mbstd_group_size == 4
    x = images()
    for want, got in zip(outputs(sequential, x), outputs(model, x), strict=True):
        assert torch.equal(got, want)


def test_bf16_autocast_agrees_with_fp32():
    model = batched(random_set())
    x = images()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, outputs(model, x)[0], atol=3e-2, rtol=0)
