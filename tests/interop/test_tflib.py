import builtins
import os
import pickle

import numpy as np
import pytest
import torch

from classifiers import load_classifier_set
from classifiers.convert_tf import (
    celebahq_settings,
    convert_files,
    import_celebahq_pickles,
    tflib_to_celebahq_network,
)
from genomekit.errors import UserError
from genomekit.interop.tflib import (
    TFNetwork,
    build_function_defaults,
    read_tflib_pickle,
    tf_stylegan2_discriminator_to_nvlabs,
    tf_stylegan2_generator_to_nvlabs,
)
from tests.interop.tflib_pickles import (
    celebahq_classifier_pickle,
    celebahq_tf_variables,
    dump_networks,
    module_source,
    network_state,
)


@pytest.fixture
def marker(tmp_path):
    """The file any stored build_module_src would write if it were executed; must never appear."""
    path = tmp_path / "executed.txt"
    yield path
    assert not path.exists(), "code stored in a pickle was executed"


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


# --- reading ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_reads_tflib_state_layout_with_every_protocol(marker, protocol):
    """Protocol 0 goes through copyreg._reconstructor, 2 through _codecs.encode, 4 through NEWOBJ."""
    rng = np.random.default_rng(0)
    inner = network_state("G_mapping", "G_mapping", [("Dense0/weight", rng.standard_normal((3, 2)).astype(np.float32))])
    outer = network_state(
        "G",
        "G_main",
        [("lod", np.float32(0.0)), ("dlatent_avg", np.arange(2, dtype=np.float32))],
        static_kwargs={"resolution": 8, "nested": {"a": [1, 2]}},  # "nested" pickles as an EasyDict
        components={"mapping": inner},
        source=module_source(marker, "G_main", "latents_in, labels_in, truncation_psi=0.5, **kwargs"),
    )
    net = read_tflib_pickle(dump_networks(outer, protocol=protocol))
    assert isinstance(net, TFNetwork) and net.name == "G" and net.build_func_name == "G_main" and net.version == 4
    assert net.static_kwargs == {"resolution": 8, "nested": {"a": [1, 2]}}
    assert type(net.static_kwargs["nested"]) is dict  # EasyDict -> plain dict
    assert net.variables["lod"].shape == () and net.variables["lod"].dtype == np.float32
    assert np.array_equal(net.variables["dlatent_avg"], [0, 1])
    assert set(net.components) == {"mapping"}
    assert np.array_equal(net.components["mapping"].variables["Dense0/weight"], inner["variables"][0][1])
    assert set(net.all_variables()) == {"lod", "dlatent_avg", "mapping/Dense0/weight"}
    assert "write_text" in net.build_module_src  # kept as text
    assert build_function_defaults(net) == {"truncation_psi": 0.5}


def test_reads_a_snapshot_tuple_from_a_file(tmp_path, marker):
    states = tuple(network_state(name, "G_main", [("lod", np.float32(0))]) for name in ("G", "D", "Gs"))
    (tmp_path / "snapshot.pkl").write_bytes(dump_networks(states))
    nets = read_tflib_pickle(tmp_path / "snapshot.pkl")
    assert isinstance(nets, tuple) and [n.name for n in nets] == ["G", "D", "Gs"]


def test_source_defaults_are_parsed_not_run(marker):
    source = module_source(
        marker, "G_synthesis_stylegan2", "dlatents_in, fmap_base=16 << 10, kernel=[1,3,3,1], act=-0.5, f=max(1, 2)"
    )
    state = network_state("G_synthesis", "G_synthesis_stylegan2", [], source=source)
    net = read_tflib_pickle(dump_networks(state))
    # max(1, 2) is a call: skipped, never evaluated.
    assert build_function_defaults(net) == {"fmap_base": 16384, "kernel": [1, 3, 3, 1], "act": -0.5}


class _Evil:
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def test_malicious_pickles_are_refused_and_nothing_runs(tmp_path, marker):
    evil_eval = pickle.dumps(_Evil(builtins.eval, f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"))
    path = tmp_path / "model.pkl"
    path.write_bytes(evil_eval)
    with pytest.raises(UserError) as error:
        read_tflib_pickle(path)
    assert one_line(error) == (
        f"refusing to load builtins.eval from {path}: a tflib pickle holds only networks and NumPy arrays"
    )

    evil_system = pickle.dumps(_Evil(os.system, f"touch {marker}"))
    with pytest.raises(UserError, match=r"refusing to load (posix|nt|os)\.system from the given bytes") as error:
        read_tflib_pickle(evil_system)
    one_line(error)

    # Hidden inside an otherwise valid Network state.
    state = network_state("D", "D_basic", [("lod", np.float32(0))], static_kwargs={"x": _Evil(os.system, "true")})
    with pytest.raises(UserError, match="refusing to load"):
        read_tflib_pickle(dump_networks(state))

    # NumPy object arrays could carry any object: refused even though numpy.dtype is allowed.
    state = network_state("D", "D_basic", [("w", np.array([1, "a"], dtype=object))])
    with pytest.raises(UserError, match="object arrays are not allowed") as error:
        read_tflib_pickle(dump_networks(state))
    one_line(error)


def test_unreadable_inputs_give_one_line(tmp_path, marker):
    data = dump_networks(network_state("D", "D_basic", [("w", np.zeros((64, 64), np.float32))]))
    cases = {
        "truncated": (data[: len(data) // 2], "truncated"),
        "empty": (b"", "is empty"),
        "text": (b"hello, not a pickle at all", "not a readable tflib pickle"),
        "zip": (b"PK\x03\x04rest", "zip archive"),
        "dict": (pickle.dumps({"G": 1}), "holds no tflib Network"),
        "array": (pickle.dumps(np.zeros(3)), "holds no tflib Network"),
    }
    for name, (content, expected) in cases.items():
        (tmp_path / f"{name}.pkl").write_bytes(content)
        with pytest.raises(UserError, match=expected) as error:
            read_tflib_pickle(tmp_path / f"{name}.pkl")
        one_line(error)
    with pytest.raises(UserError, match="not found"):
        read_tflib_pickle(tmp_path / "missing.pkl")
    with pytest.raises(UserError, match="version 7"):
        read_tflib_pickle(dump_networks(network_state("D", "D_basic", [], version=7)))
    bad = network_state("D", "D_basic", [])
    del bad["variables"]
    with pytest.raises(UserError, match="without tflib's state"):
        read_tflib_pickle(dump_networks(bad))


# --- CelebA-HQ classifiers -------------------------------------------------------------------------


def test_celebahq_pickle_matches_the_two_step_npz_route(tmp_path, marker):
    """The same TF variables through .pkl (one step) and .npz (two steps) give the same classifier outputs."""
    rng = np.random.default_rng(1)
    images = torch.rand(8, 3, 32, 32) * 2 - 1
    for build_func_name, blur in (("D_basic", True), ("D_paper", False)):
        work = tmp_path / build_func_name
        (work / "pkl").mkdir(parents=True)
        (work / "npz").mkdir()
        for index, slug in ((0, "male"), (1, "smiling")):
            variables = celebahq_tf_variables(32, fmap_base=128, fmap_max=32, rng=rng)
            name = f"celebahq-classifier-{index:02d}-{slug}"
            pkl = celebahq_classifier_pickle(marker, variables, resolution=32, build_func_name=build_func_name)
            (work / "pkl" / f"{name}.pkl").write_bytes(pkl)
            np.savez(work / "npz" / f"{name}.npz", **{k: np.asarray(v) for k, v in variables})
        result = import_celebahq_pickles(work / "pkl", work / "one-step")
        assert result.settings == {"blur": blur, "mbstd_group_size": 4, "mbstd_num_features": 1, "fmap_decay": 1.0}
        convert_files(sorted((work / "npz").iterdir()), work / "two-step", blur=blur, mbstd_group_size=4)
        one_step, two_step = load_classifier_set(work / "one-step"), load_classifier_set(work / "two-step")
        assert one_step.attribute_names == two_step.attribute_names == ("Male", "Smiling")
        assert one_step.resolution == 32 and one_step.config()["blur"] is blur
        assert torch.equal(one_step(images), two_step(images))
        assert one_step.identity == two_step.identity
        assert not [p for p in tmp_path.rglob("*.tmp")]


def test_official_architecture_names_and_shapes(marker):
    """The 256-px network of the official files: 64 channels at full size, 512 from 32x32 down."""
    variables = celebahq_tf_variables(256, fmap_base=8192, fmap_max=512, rng=np.random.default_rng(2))
    names = dict(variables)
    assert names["FromRGB_lod0/weight"].shape == (1, 1, 3, 64) and names["FromRGB_lod6/weight"].shape == (1, 1, 3, 512)
    assert names["4x4/Conv/weight"].shape == (3, 3, 513, 512) and names["4x4/Dense0/weight"].shape == (8192, 512)
    net = read_tflib_pickle(celebahq_classifier_pickle(marker, variables, resolution=256))
    model, settings = tflib_to_celebahq_network(net)
    assert model.config.resolution == 256 and model.config.nf(0) == 512 and settings["blur"]
    tf_weight = names["256x256/Conv1_down/weight"]  # [kh, kw, in, out] -> [out, in, kh, kw]
    assert torch.equal(model.b256.conv1_down.weight, torch.from_numpy(tf_weight.transpose(3, 2, 0, 1).copy()))


def test_settings_come_from_kwargs_then_the_stored_source(marker):
    variables = celebahq_tf_variables(16, fmap_base=64, fmap_max=16, rng=np.random.default_rng(3), mbstd_num_features=2)
    source_no_blur = "images_in, labels_in, blur_filter=None, mbstd_group_size=2, mbstd_num_features=2, **_kwargs"
    net = read_tflib_pickle(celebahq_classifier_pickle(marker, variables, resolution=16, parameters=source_no_blur))
    assert celebahq_settings(net) == {"blur": False, "mbstd_group_size": 2, "mbstd_num_features": 2, "fmap_decay": 1.0}
    net = read_tflib_pickle(
        celebahq_classifier_pickle(
            marker, variables, resolution=16, parameters=source_no_blur, static_kwargs={"blur_filter": [1, 2, 1]}
        )
    )
    assert celebahq_settings(net)["blur"] is True  # static_kwargs win over the source's defaults
    model, _ = tflib_to_celebahq_network(net)
    assert model.b4.conv.weight.shape[1] == 16 + 2

    for kwargs, expected in (
        ({"blur_filter": [1, 3, 3, 1]}, "only \\[1, 2, 1\\] or None"),
        ({"label_size": 2}, "label-conditioned"),
        ({"resolution": 64}, "its kwargs say 64 px"),
    ):
        kwargs = {"mbstd_num_features": 2, **kwargs}
        net = read_tflib_pickle(celebahq_classifier_pickle(marker, variables, resolution=16, static_kwargs=kwargs))
        with pytest.raises(UserError, match=expected) as error:
            tflib_to_celebahq_network(net)
        one_line(error)
    growing = [(name, np.float32(0.5) if name == "lod" else value) for name, value in variables]
    net = read_tflib_pickle(
        celebahq_classifier_pickle(marker, growing, resolution=16, static_kwargs={"mbstd_num_features": 2})
    )
    with pytest.raises(UserError, match="level of detail 0.5"):
        tflib_to_celebahq_network(net)
    net = read_tflib_pickle(celebahq_classifier_pickle(marker, variables, resolution=16, build_func_name="G_style"))
    with pytest.raises(UserError, match="not a CelebA-HQ classifier"):
        celebahq_settings(net)


# --- StyleGAN2 TF -> NVlabs names ------------------------------------------------------------------------


def stylegan2_generator_state(marker, rng, *, resolution=16, architecture="skip", **extra_kwargs):
    """Gs of a tiny StyleGAN2 TF config with TF StyleGAN2's variable names and shapes.

    latent 16, dlatent 16, 2 mapping layers; fmap_base 64, fmap_max 32: 32 channels at 4x4, 16 at 8x8,
    8 at 16x16 (TF's nf(log2 R - 1) = min(fmap_base * 2 / R, fmap_max)).
    """
    log2 = int(np.log2(resolution))
    width = {2**r: min(64 * 2 // 2**r, 32) for r in range(2, log2 + 1)}

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def modconv(prefix, fmaps_in, fmaps_out, kernel, noise=True):
        found = [
            (f"{prefix}/weight", normal(kernel, kernel, fmaps_in, fmaps_out)),
            (f"{prefix}/mod_weight", normal(16, fmaps_in)),
            (f"{prefix}/mod_bias", 0.1 * normal(fmaps_in)),
            (f"{prefix}/bias", 0.1 * normal(fmaps_out)),
        ]
        return found + ([(f"{prefix}/noise_strength", np.float32(rng.standard_normal()))] if noise else [])

    synthesis = [(f"noise{i}", normal(1, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2))) for i in range(2 * log2 - 3)]
    synthesis += [("4x4/Const/const", normal(1, width[4], 4, 4))] + modconv("4x4/Conv", width[4], width[4], 3)
    if architecture == "skip":
        synthesis += modconv("4x4/ToRGB", width[4], 3, 1, noise=False)
    for r in range(3, log2 + 1):
        res, s = 2**r, f"{2**r}x{2**r}"
        synthesis += modconv(f"{s}/Conv0_up", width[res // 2], width[res], 3) + modconv(
            f"{s}/Conv1", width[res], width[res], 3
        )
        if architecture == "resnet":
            synthesis.append((f"{s}/Skip/weight", normal(1, 1, width[res // 2], width[res])))
        if architecture == "skip" or res == resolution:
            synthesis += modconv(f"{s}/ToRGB", width[res], 3, 1, noise=False)
    mapping = []
    for i in range(2):
        mapping += [(f"Dense{i}/weight", normal(16, 16)), (f"Dense{i}/bias", 0.1 * normal(16))]
    kwargs = dict(
        latent_size=16,
        dlatent_size=16,
        mapping_layers=2,
        resolution=resolution,
        num_channels=3,
        label_size=0,
        fmap_base=64,
        fmap_max=32,
        architecture=architecture,
        **extra_kwargs,
    )
    source = module_source(marker, "G_main", "latents_in, labels_in, truncation_psi=0.5, **kwargs")
    return network_state(
        "Gs",
        "G_main",
        [("lod", np.float32(0)), ("dlatent_avg", normal(16))],
        static_kwargs=kwargs,
        source=source,
        components={
            "mapping": network_state("G_mapping", "G_mapping", mapping, static_kwargs=kwargs),
            "synthesis": network_state("G_synthesis", "G_synthesis_stylegan2", synthesis, static_kwargs=kwargs),
        },
    )


# What NVlabs' networks_stylegan2.Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
# mapping_kwargs={num_layers: 2}, synthesis_kwargs={channel_base: 128, channel_max: 32}) holds, written out
# by hand from its constructor (channels min(channel_base // res, channel_max): 32, 16, 8), without
# resample_filter buffers.
def _layer(prefix, out_channels, in_channels, res, w_dim=16):
    return {
        f"{prefix}.weight": (out_channels, in_channels, 3, 3),
        f"{prefix}.noise_strength": (),
        f"{prefix}.bias": (out_channels,),
        f"{prefix}.noise_const": (res, res),
        f"{prefix}.affine.weight": (in_channels, w_dim),
        f"{prefix}.affine.bias": (in_channels,),
    }


def _torgb(prefix, in_channels, w_dim=16):
    return {
        f"{prefix}.weight": (3, in_channels, 1, 1),
        f"{prefix}.bias": (3,),
        f"{prefix}.affine.weight": (in_channels, w_dim),
        f"{prefix}.affine.bias": (in_channels,),
    }


NVLABS_G16_SKIP = {
    "synthesis.b4.const": (32, 4, 4),
    **_layer("synthesis.b4.conv1", 32, 32, 4),
    **_torgb("synthesis.b4.torgb", 32),
    **_layer("synthesis.b8.conv0", 16, 32, 8),
    **_layer("synthesis.b8.conv1", 16, 16, 8),
    **_torgb("synthesis.b8.torgb", 16),
    **_layer("synthesis.b16.conv0", 8, 16, 16),
    **_layer("synthesis.b16.conv1", 8, 8, 16),
    **_torgb("synthesis.b16.torgb", 8),
    "mapping.w_avg": (16,),
    "mapping.fc0.weight": (16, 16),
    "mapping.fc0.bias": (16,),
    "mapping.fc1.weight": (16, 16),
    "mapping.fc1.bias": (16,),
}


def test_stylegan2_generator_to_nvlabs_names_shapes_and_layouts(marker):
    state = stylegan2_generator_state(marker, np.random.default_rng(4))
    G = read_tflib_pickle(dump_networks(state))
    kwargs, nvlabs = tf_stylegan2_generator_to_nvlabs(G)
    assert kwargs["z_dim"] == 16 and kwargs["c_dim"] == 0 and kwargs["w_dim"] == 16
    assert kwargs["img_resolution"] == 16 and kwargs["img_channels"] == 3
    assert kwargs["mapping_kwargs"]["num_layers"] == 2
    synthesis = kwargs["synthesis_kwargs"]
    assert synthesis["channel_base"] == 128 and synthesis["channel_max"] == 32  # legacy.py: 2 * fmap_base
    assert synthesis["num_fp16_res"] == 0 and synthesis["conv_clamp"] is None and synthesis["architecture"] == "skip"
    assert {k: v.shape for k, v in nvlabs.items()} == NVLABS_G16_SKIP
    assert list(nvlabs)[:2] == ["synthesis.b4.const", "synthesis.b4.conv1.weight"]  # NVlabs state_dict() order
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in nvlabs.values())

    tf = G.all_variables()
    conv0 = tf["synthesis/8x8/Conv0_up/weight"]  # up-sampling conv: flipped, then [out, in, kh, kw]
    assert np.array_equal(nvlabs["synthesis.b8.conv0.weight"], conv0[::-1, ::-1].transpose(3, 2, 0, 1))
    conv1 = tf["synthesis/8x8/Conv1/weight"]
    assert np.array_equal(nvlabs["synthesis.b8.conv1.weight"], conv1.transpose(3, 2, 0, 1))
    assert np.array_equal(nvlabs["synthesis.b8.conv0.affine.bias"], tf["synthesis/8x8/Conv0_up/mod_bias"] + 1)
    assert np.array_equal(nvlabs["synthesis.b8.conv0.affine.weight"], tf["synthesis/8x8/Conv0_up/mod_weight"].T)
    assert np.array_equal(nvlabs["synthesis.b4.conv1.noise_const"], tf["synthesis/noise0"][0, 0])
    assert np.array_equal(nvlabs["synthesis.b8.conv0.noise_const"], tf["synthesis/noise1"][0, 0])
    assert np.array_equal(nvlabs["synthesis.b16.conv1.noise_const"], tf["synthesis/noise4"][0, 0])
    assert nvlabs["synthesis.b16.conv1.noise_strength"] == tf["synthesis/16x16/Conv1/noise_strength"]
    assert np.array_equal(nvlabs["synthesis.b4.const"], tf["synthesis/4x4/Const/const"][0])
    assert np.array_equal(
        nvlabs["synthesis.b16.torgb.weight"], tf["synthesis/16x16/ToRGB/weight"].transpose(3, 2, 0, 1)
    )
    assert np.array_equal(nvlabs["mapping.fc1.weight"], tf["mapping/Dense1/weight"].T)
    assert np.array_equal(nvlabs["mapping.w_avg"], tf["dlatent_avg"])


@pytest.mark.parametrize("architecture", ["orig", "resnet"])
def test_stylegan2_generator_other_architectures(marker, architecture):
    state = stylegan2_generator_state(marker, np.random.default_rng(5), architecture=architecture)
    _, nvlabs = tf_stylegan2_generator_to_nvlabs(read_tflib_pickle(dump_networks(state)))
    assert [k for k in nvlabs if ".torgb.weight" in k] == ["synthesis.b16.torgb.weight"]  # last block only
    skips = {k: v.shape for k, v in nvlabs.items() if ".skip." in k}
    assert skips == (
        {"synthesis.b8.skip.weight": (16, 32, 1, 1), "synthesis.b16.skip.weight": (8, 16, 1, 1)}
        if architecture == "resnet"
        else {}
    )


def test_unsupported_generators_are_refused_in_one_line(marker):
    rng = np.random.default_rng(6)
    cases = [
        (stylegan2_generator_state(marker, rng, fmap_decay=0.5), "TF kwarg fmap_decay=0.5 is not supported"),
        (stylegan2_generator_state(marker, rng, architecture="fancy"), "architecture 'fancy'"),
    ]
    labelled = stylegan2_generator_state(marker, rng)
    labelled["static_kwargs"]["label_size"] = 4
    cases.append((labelled, "conditioned on labels"))
    old = stylegan2_generator_state(marker, rng)
    old["version"] = 3
    cases.append((old, "version 3 is StyleGAN 1"))
    style = stylegan2_generator_state(marker, rng)
    style["components"]["synthesis"]["build_func_name"] = "G_synthesis_stylegan_revised"
    cases.append((style, "G_synthesis_stylegan_revised' is not supported"))
    extra = stylegan2_generator_state(marker, rng)
    extra["components"]["synthesis"]["variables"].append(("ToRGB_lod1/weight", np.zeros((1, 1, 16, 3), np.float32)))
    cases.append((extra, "map to nothing in NVlabs' network: synthesis/ToRGB_lod1/weight"))
    wrong = stylegan2_generator_state(marker, rng)
    wrong["static_kwargs"]["fmap_max"] = 16  # the weights were made with 32
    cases.append((wrong, "expected \\[16, 4, 4\\]"))
    for state, expected in cases:
        with pytest.raises(UserError, match=expected) as error:
            tf_stylegan2_generator_to_nvlabs(read_tflib_pickle(dump_networks(state)))
        one_line(error)


def stylegan2_discriminator_state(marker, rng):
    """D of a tiny StyleGAN2 TF config (D_stylegan2, resnet, 16 px) with TF's variable names and shapes."""
    width = {16: 8, 8: 16, 4: 32}

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    variables = [("16x16/FromRGB/weight", normal(1, 1, 3, 8)), ("16x16/FromRGB/bias", normal(8))]
    for res in (16, 8):
        s, tmp, out = f"{res}x{res}", width[res], width[res // 2]
        variables += [
            (f"{s}/Conv0/weight", normal(3, 3, tmp, tmp)),
            (f"{s}/Conv0/bias", normal(tmp)),
            (f"{s}/Conv1_down/weight", normal(3, 3, tmp, out)),
            (f"{s}/Conv1_down/bias", normal(out)),
            (f"{s}/Skip/weight", normal(1, 1, tmp, out)),
        ]
    variables += [
        ("4x4/Conv/weight", normal(3, 3, 33, 32)),
        ("4x4/Conv/bias", normal(32)),
        ("4x4/Dense0/weight", normal(32 * 16, 32)),
        ("4x4/Dense0/bias", normal(32)),
        ("Output/weight", normal(32, 1)),
        ("Output/bias", normal(1)),
    ]
    source = module_source(marker, "D_stylegan2", "images_in, labels_in, mbstd_group_size=4, mbstd_num_features=1")
    kwargs = {"resolution": 16, "num_channels": 3, "label_size": 0, "fmap_base": 64, "fmap_max": 32}
    return network_state("D", "D_stylegan2", variables, static_kwargs=kwargs, source=source), variables


def test_stylegan2_discriminator_to_nvlabs(marker):
    """D_stylegan2, resnet, 16 px; mbstd_group_size comes from the stored source (TF's 4, not legacy's None)."""
    state, variables = stylegan2_discriminator_state(marker, np.random.default_rng(7))
    nvkwargs, nvlabs = tf_stylegan2_discriminator_to_nvlabs(read_tflib_pickle(dump_networks(state)))
    assert nvkwargs["architecture"] == "resnet" and nvkwargs["channel_base"] == 128
    assert nvkwargs["epilogue_kwargs"] == {"mbstd_group_size": 4, "mbstd_num_channels": 1, "activation": "lrelu"}
    assert {k: v.shape for k, v in nvlabs.items()} == {
        "b16.fromrgb.weight": (8, 3, 1, 1),
        "b16.fromrgb.bias": (8,),
        "b16.conv0.weight": (8, 8, 3, 3),
        "b16.conv0.bias": (8,),
        "b16.conv1.weight": (16, 8, 3, 3),
        "b16.conv1.bias": (16,),
        "b16.skip.weight": (16, 8, 1, 1),
        "b8.conv0.weight": (16, 16, 3, 3),
        "b8.conv0.bias": (16,),
        "b8.conv1.weight": (32, 16, 3, 3),
        "b8.conv1.bias": (32,),
        "b8.skip.weight": (32, 16, 1, 1),
        "b4.conv.weight": (32, 33, 3, 3),
        "b4.conv.bias": (32,),
        "b4.fc.weight": (32, 512),
        "b4.fc.bias": (32,),
        "b4.out.weight": (1, 32),
        "b4.out.bias": (1,),
    }
    tf = dict(variables)
    assert np.array_equal(nvlabs["b8.conv1.weight"], tf["8x8/Conv1_down/weight"].transpose(3, 2, 0, 1))  # no flip
    assert np.array_equal(nvlabs["b4.fc.weight"], tf["4x4/Dense0/weight"].T)


def test_import_nvlabs_reads_a_tensorflow_snapshot(tmp_path, marker):
    """(G, D, Gs) from TF StyleGAN2 through `genomekit import-nvlabs`: Gs and D as genomekit networks."""
    from typer.testing import CliRunner

    from genomekit.cli import app
    from genomekit.interop.nvlabs import discriminator_from_nvlabs, generator_from_nvlabs
    from genomekit.training.checkpoint import checkpoint_metadata, load_discriminator, load_generator

    rng = np.random.default_rng(8)
    G_state, Gs_state = stylegan2_generator_state(marker, rng), stylegan2_generator_state(marker, rng)
    D_state, _ = stylegan2_discriminator_state(marker, rng)
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(dump_networks((G_state, D_state, Gs_state)))
    out = tmp_path / "tf.safetensors"
    result = CliRunner().invoke(app, ["import-nvlabs", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert checkpoint_metadata(out)["source"]["format"] == "tflib-pickle"
    g_kwargs, g_nvlabs = tf_stylegan2_generator_to_nvlabs(read_tflib_pickle(dump_networks(Gs_state)))
    d_kwargs, d_nvlabs = tf_stylegan2_discriminator_to_nvlabs(read_tflib_pickle(dump_networks(D_state)))
    expected_G = generator_from_nvlabs(g_kwargs, {k: torch.as_tensor(v) for k, v in g_nvlabs.items()})
    expected_D = discriminator_from_nvlabs(d_kwargs, {k: torch.as_tensor(v) for k, v in d_nvlabs.items()})
    G, D = load_generator(out), load_discriminator(out)
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        img = G(z)
        torch.testing.assert_close(img, expected_G(z))  # Gs, not G, was taken
        torch.testing.assert_close(D(img), expected_D(img))
