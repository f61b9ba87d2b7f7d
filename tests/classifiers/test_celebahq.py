import numpy as np
import pytest
import torch
import torch.nn.functional as F

from classifiers import CelebAHQClassifierSet, CelebAHQConfig, CelebAHQNetwork, load_classifier_set
from classifiers.celebahq import (
    EqualizedConv2d,
    config_from_state_dict,
    minibatch_stddev,
    save_celebahq_directory,
)
from classifiers.convert_tf import convert_files, state_dict_to_tf, tf_to_state_dict
from genomekit.errors import UserError

SMALL = CelebAHQConfig(resolution=32, fmap_base=128, fmap_max=32)


def small_set(names=("Male", "Smiling", "Wearing_Necktie"), seed=0) -> CelebAHQClassifierSet:
    torch.manual_seed(seed)  # test-only: random "official" weights
    return CelebAHQClassifierSet(list(names), [CelebAHQNetwork(SMALL) for _ in names]).eval()


def test_official_layer_names_and_shapes():
    """The default config is StyleGAN's: 256 px, 64 channels at full size, 512 from 32x32 down."""
    state = CelebAHQNetwork().state_dict()
    assert state["fromrgb.weight"].shape == (64, 3, 1, 1)
    assert state["b256.conv0.weight"].shape == (64, 64, 3, 3)
    assert state["b256.conv1_down.weight"].shape == (128, 64, 3, 3)
    assert state["b32.conv1_down.weight"].shape == (512, 512, 3, 3)
    assert state["b4.conv.weight"].shape == (512, 513, 3, 3)  # + minibatch stddev channel
    assert state["b4.dense0.weight"].shape == (512, 512 * 16)
    assert state["b4.dense1.weight"].shape == (1, 512)
    assert len([k for k in state if k.endswith("conv0.weight")]) == 6  # 256 ... 8
    assert config_from_state_dict(state) == CelebAHQConfig()


def test_probability_is_softmax_of_l_and_minus_l():
    model = small_set()
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    raw = torch.cat([n(images) for n in model.networks], dim=1)  # (B, A) the networks' own outputs l
    p = model(images)
    expected = torch.softmax(torch.stack([raw, -raw], dim=-1), dim=-1)[..., 0]
    assert torch.allclose(p, expected, atol=1e-6)
    assert torch.allclose(model.raw_outputs(images), raw, atol=1e-5)
    assert model.features(images).shape == (4, 3 * 32)


def test_state_dict_directory_round_trip(tmp_path):
    model = small_set()
    save_celebahq_directory(model, tmp_path)
    assert (tmp_path / "celebahq-classifier-00-male.pt").is_file()
    assert (tmp_path / "celebahq-classifier-02-wearing-necktie.pt").is_file()
    loaded = load_classifier_set(tmp_path)
    assert isinstance(loaded, CelebAHQClassifierSet)
    assert loaded.attribute_names == ("Male", "Smiling", "Wearing_Necktie") and loaded.resolution == 32
    images = torch.rand(4, 3, 64, 64) * 2 - 1  # resized to 32 inside
    assert torch.equal(loaded(images), model(images))
    assert loaded.identity == model.identity


def test_bad_state_dict_gives_one_clear_line(tmp_path):
    state = small_set().networks[0].state_dict()
    del state["b4.dense1.bias"]
    torch.save(state, tmp_path / "celebahq-classifier-00-male.pt")
    with pytest.raises(UserError, match="not a CelebA-HQ classifier state dict") as info:
        load_classifier_set(tmp_path)
    assert "\n" not in str(info.value)
    (tmp_path / "celebahq-classifier-00-male.pt").write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="not a readable PyTorch state dict"):
        load_classifier_set(tmp_path)


def test_fused_down_conv_is_conv_then_average_pool():
    conv = EqualizedConv2d(4, 5, 3, down=True)
    x = torch.randn(2, 4, 8, 8)
    plain = F.conv2d(x, conv.weight * conv.scale, None, padding=1)
    expected = F.avg_pool2d(plain, 2) + conv.bias[None, :, None, None]
    assert torch.allclose(conv(x), expected, atol=1e-5)


def test_minibatch_stddev_matches_numpy_reference():
    x = torch.randn(8, 6, 4, 4)
    out = minibatch_stddev(x, group_size=4)
    groups = x.numpy().reshape(4, 2, 6, 4, 4)  # image b is in group b mod 2
    std = np.sqrt(groups.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))  # (2,)
    assert out.shape == (8, 7, 4, 4)
    assert np.allclose(out[:, 6, 0, 0].numpy(), np.tile(std, 4), atol=1e-5)
    assert minibatch_stddev(x[:6], group_size=4).shape == (6, 7, 4, 4)  # 6 is not a multiple of 4: groups of 3


def test_tf_conversion_round_trip(tmp_path):
    model = small_set(names=("Male",))
    state = model.networks[0].state_dict()
    arrays = state_dict_to_tf(state)
    assert arrays["FromRGB_lod0/weight"].shape == (1, 1, 3, 8)  # TF [kh, kw, in, out]
    assert arrays["4x4/Dense0/weight"].shape == (32 * 16, 32)  # TF [in, out]
    arrays["FromRGB_lod1/weight"] = np.zeros((1, 1, 3, 16), np.float32)  # progressive-growing leftover
    arrays["lod"] = np.float32(0)
    back = tf_to_state_dict(arrays)
    assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)
    np.savez(tmp_path / "celebahq-classifier-00-male.npz", **arrays)
    convert_files([tmp_path / "celebahq-classifier-00-male.npz"], tmp_path / "out")
    loaded = load_classifier_set(tmp_path / "out")
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(loaded(images), model(images))
    with pytest.raises(UserError, match="unexpected TF variable"):
        tf_to_state_dict({"G_mapping/Dense0/weight": np.zeros((2, 2))})
