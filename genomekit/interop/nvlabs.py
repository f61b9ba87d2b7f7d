"""NVlabs StyleGAN2 networks (stylegan2-ada-pytorch ``training.networks``, stylegan3
``training.networks_stylegan2``) as genomekit networks: configs from NVlabs' constructor arguments and
state dicts renamed to ours.

Supported: the unconditional generator with architecture 'skip' (NVlabs' default) and either latent
source, the 8-layer mapping network or the StyleGenes Genome of the paper's Appendix H (a module in
place of ``G.mapping`` with a ``genes`` parameter (G, V, D)); the unconditional discriminator with
architecture 'resnet'. ``conv_clamp`` and ``num_fp16_res`` carry over. Refused with one line: label
conditioning (``c_dim > 0``), other architectures, other resampling filters or activations, StyleGAN3
(-T/-R) synthesis networks.

Key names (NVlabs -> genomekit):

==========================================  ==========================================
``mapping.fc{i}.{weight,bias}``              ``latent.layers.{i}.{weight,bias}`` (rescaled to lr 0.01)
``mapping.w_avg``                            ``latent.w_avg``
``mapping.genes`` (Appendix-H Genome)        ``latent.genes``
``synthesis.b{R}.const``                     ``synthesis.blocks.{k}.const``
``synthesis.b{R}.conv{0,1}.*``               ``synthesis.blocks.{k}.conv{0,1}.*``
``synthesis.b{R}.torgb.*``                   ``synthesis.blocks.{k}.torgb.*``
``b{R}.fromrgb.*`` (first D block)           ``fromrgb.*``
``b{R}.{conv0,conv1,skip}.*``                ``blocks.{j}.{conv0,conv1,skip}.*``
``b4.{conv,fc,out}.*``                       ``{conv,fc,out}.*``
==========================================  ==========================================
``*.resample_filter`` buffers must be NVlabs' [1, 3, 3, 1] filter and are not copied.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genomekit.errors import UserError
from genomekit.interop.torch_pickle import StoredModule, load_nvlabs_pickle
from genomekit.networks import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from genomekit.networks.layers import fir_filter

OUR_MAPPING_LR = 0.01  # genomekit's mapping lr multiplier; NVlabs' weights are rescaled to it


class UnsupportedNetwork(UserError):
    """An NVlabs network that genomekit's StyleGAN2 cannot represent exactly."""


def _known(kwargs: Mapping[str, Any], allowed: Mapping[str, Any], what: str) -> None:
    """Refuse a constructor argument whose value changes the computation in a way we do not reproduce."""
    for key, value in kwargs.items():
        if key not in allowed:
            raise UnsupportedNetwork(f"{what}: constructor argument {key}={value!r} is not supported")
        accepted = allowed[key]
        if accepted is not None and value not in accepted:
            raise UnsupportedNetwork(f"{what}: {key}={value!r} is not supported (supported: {accepted})")


_FILTERS = ([1, 3, 3, 1], (1, 3, 3, 1))
# Synthesis kwargs that do not change the computation (memory layout, fused or split modconv) or that we
# reproduce; None = any value.
_SYNTHESIS_KWARGS = {
    "channel_base": None,
    "channel_max": None,
    "num_fp16_res": None,
    "conv_clamp": None,
    "architecture": ("skip",),
    "resample_filter": _FILTERS,
    "use_noise": None,
    "activation": ("lrelu",),
    "fp16_channels_last": None,
    "channels_last": None,
    "fused_modconv_default": None,
    "kernel_size": (3,),
}
_MAPPING_KWARGS = {
    "num_layers": None,
    "lr_multiplier": None,
    "w_avg_beta": None,
    "activation": ("lrelu",),
    "layer_features": None,  # checked against w_dim below
    "embed_features": None,
}
_DISCRIMINATOR_KWARGS = {
    "c_dim": (0,),
    "img_resolution": None,
    "img_channels": None,
    "architecture": ("resnet",),
    "channel_base": None,
    "channel_max": None,
    "num_fp16_res": None,
    "conv_clamp": None,
    "cmap_dim": None,
    "block_kwargs": None,
    "mapping_kwargs": None,
    "epilogue_kwargs": None,
}


# Constructor defaults that differ between the two repositories (their train.py always passes them).
REPOSITORY_DEFAULTS = {
    "stylegan3": {"conv_clamp": 256, "num_fp16_res": 4},
    "stylegan2-ada-pytorch": {"conv_clamp": None, "num_fp16_res": 0},
}


def repository_of(generator_kwargs: Mapping[str, Any]) -> str:
    """Which NVlabs repository built a generator: stylegan2-ada-pytorch passes ``synthesis_kwargs`` as a dict."""
    return "stylegan2-ada-pytorch" if "synthesis_kwargs" in generator_kwargs else "stylegan3"


def _genome_shape(state: Mapping[str, Tensor]) -> tuple[int, int, int] | None:
    genes = state.get("mapping.genes")
    if genes is None:
        return None
    if genes.ndim != 3:
        raise UnsupportedNetwork(f"mapping.genes has shape {tuple(genes.shape)}; a Genome is (genes, variants, length)")
    return tuple(int(s) for s in genes.shape)  # type: ignore[return-value]


def generator_config(init_kwargs: Mapping[str, Any], state: Mapping[str, Tensor]) -> GeneratorConfig:
    """The GeneratorConfig of an NVlabs StyleGAN2 ``Generator`` built with ``init_kwargs``.

    Args:
        init_kwargs: the constructor arguments (``G.init_kwargs`` of a persistent NVlabs network).
        state: its state dict (NVlabs names): the Genome's shape is read from ``mapping.genes``.
    """
    kwargs = dict(init_kwargs)
    for key in ("z_dim", "w_dim", "img_resolution", "img_channels"):
        if key not in kwargs:
            raise UnsupportedNetwork(f"the generator's constructor arguments lack {key}")
    if int(kwargs.get("c_dim", 0)) != 0:
        raise UnsupportedNetwork(f"conditional generators (c_dim={kwargs['c_dim']}) are not supported")
    mapping = dict(kwargs.pop("mapping_kwargs", {}) or {})
    synthesis = dict(kwargs.pop("synthesis_kwargs", {}) or {})  # stylegan2-ada-pytorch passes a dict
    for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        kwargs.pop(key, None)
    synthesis.update(kwargs)  # stylegan3 passes the synthesis arguments as **kwargs
    _known(synthesis, _SYNTHESIS_KWARGS, "generator")
    w_dim = int(init_kwargs["w_dim"])
    genome = _genome_shape(state)
    defaults = REPOSITORY_DEFAULTS[repository_of(init_kwargs)]
    common = dict(
        resolution=int(init_kwargs["img_resolution"]),
        img_channels=int(init_kwargs["img_channels"]),
        channel_base=int(synthesis.get("channel_base", 32768)),
        channel_max=int(synthesis.get("channel_max", 512)),
        use_noise=bool(synthesis.get("use_noise", True)),
        conv_clamp=synthesis.get("conv_clamp", defaults["conv_clamp"]),
        num_fp16_res=int(synthesis.get("num_fp16_res", defaults["num_fp16_res"])),
        network_version=2,
    )
    if genome is not None:
        num_genes, num_variants, gene_length = genome
        if num_genes * gene_length != w_dim:
            raise UnsupportedNetwork(f"mapping.genes {genome} does not make w_dim {w_dim}")
        return GeneratorConfig(
            latent="genome", num_genes=num_genes, num_variants=num_variants, gene_length=gene_length, **common
        )
    _known(mapping, _MAPPING_KWARGS, "mapping network")
    if mapping.get("layer_features") not in (None, w_dim):
        raise UnsupportedNetwork(f"mapping layer_features={mapping['layer_features']} differs from w_dim {w_dim}")
    gene_length = 8 if w_dim % 8 == 0 else 1  # a mapping model has no genes; w_dim is all that matters
    return GeneratorConfig(
        latent="mapping",
        num_genes=w_dim // gene_length,
        gene_length=gene_length,
        z_dim=int(init_kwargs["z_dim"]),
        mapping_layers=int(mapping.get("num_layers", 8)),
        **common,
    )


def discriminator_config(init_kwargs: Mapping[str, Any], repository: str = "stylegan3") -> DiscriminatorConfig:
    """The DiscriminatorConfig of an NVlabs StyleGAN2 ``Discriminator`` built with ``init_kwargs``.

    Args:
        repository: whose constructor defaults fill arguments that ``init_kwargs`` lacks (``REPOSITORY_DEFAULTS``).
    """
    kwargs = dict(init_kwargs)
    defaults = REPOSITORY_DEFAULTS[repository]
    if int(kwargs.get("c_dim", 0)) != 0:
        raise UnsupportedNetwork(f"conditional discriminators (c_dim={kwargs['c_dim']}) are not supported")
    _known(kwargs, _DISCRIMINATOR_KWARGS, "discriminator")
    block = dict(kwargs.get("block_kwargs") or {})
    _known(
        block,
        {"activation": ("lrelu",), "resample_filter": _FILTERS, "fp16_channels_last": None, "freeze_layers": None},
        "discriminator block",
    )
    epilogue = dict(kwargs.get("epilogue_kwargs") or {})
    _known(
        epilogue,
        {"mbstd_group_size": None, "mbstd_num_channels": None, "activation": ("lrelu",)},
        "discriminator epilogue",
    )
    group = epilogue.get("mbstd_group_size", 4)
    if group is None:
        raise UnsupportedNetwork("mbstd_group_size=None (the whole minibatch) is not supported")
    channels = int(epilogue.get("mbstd_num_channels", 1))
    if channels < 1:
        raise UnsupportedNetwork("a discriminator without minibatch standard deviation is not supported")
    return DiscriminatorConfig(
        resolution=int(kwargs["img_resolution"]),
        img_channels=int(kwargs["img_channels"]),
        channel_base=int(kwargs.get("channel_base", 32768)),
        channel_max=int(kwargs.get("channel_max", 512)),
        mbstd_group_size=int(group),
        mbstd_channels=channels,
        conv_clamp=kwargs.get("conv_clamp", defaults["conv_clamp"]),
        num_fp16_res=int(kwargs.get("num_fp16_res", defaults["num_fp16_res"])),
        network_version=2,
    )


def _check_filters(state: Mapping[str, Tensor], what: str) -> None:
    expected = fir_filter()
    for key, value in state.items():
        if key.endswith("resample_filter") and not torch.allclose(value.float(), expected, atol=1e-7):
            raise UnsupportedNetwork(f"{what}: {key} is not the [1, 3, 3, 1] filter")


def _move(state: dict[str, Tensor], out: dict[str, Tensor], src_prefix: str, dst_prefix: str) -> None:
    for key in [k for k in state if k.startswith(src_prefix)]:
        out[dst_prefix + key[len(src_prefix) :]] = state.pop(key)


def generator_state(
    state: Mapping[str, Tensor], config: GeneratorConfig, mapping_lr_multiplier: float = 0.01
) -> dict[str, Tensor]:
    """NVlabs generator state dict -> genomekit ``Generator`` state dict (float32).

    Args:
        mapping_lr_multiplier: NVlabs' mapping ``lr_multiplier`` (stored weights are N(0, 1) / lr); the
            weights are rescaled so that genomekit's multiplier (0.01) computes the same layer.
    """
    state = {k: v.detach().float() for k, v in state.items()}
    _check_filters(state, "generator")
    state = {k: v for k, v in state.items() if not k.endswith("resample_filter")}
    out: dict[str, Tensor] = {}
    if config.latent == "genome":
        out["latent.genes"] = state.pop("mapping.genes")
        for key in [k for k in state if k.startswith("mapping.")]:
            state.pop(key)  # e.g. a Genome that registered its gene indices as a buffer
    else:
        scale = mapping_lr_multiplier / OUR_MAPPING_LR
        for i in range(config.mapping_layers):
            for name in ("weight", "bias"):
                out[f"latent.layers.{i}.{name}"] = state.pop(f"mapping.fc{i}.{name}") * scale
        out["latent.w_avg"] = state.pop("mapping.w_avg")
    for index in range(int(math.log2(config.resolution)) - 1):
        _move(state, out, f"synthesis.b{2 ** (index + 2)}.", f"synthesis.blocks.{index}.")
    if state:
        raise UnsupportedNetwork(f"generator weights without a genomekit counterpart: {sorted(state)[:5]}")
    return out


def discriminator_state(state: Mapping[str, Tensor], config: DiscriminatorConfig) -> dict[str, Tensor]:
    """NVlabs discriminator state dict -> genomekit ``Discriminator`` state dict (float32)."""
    state = {k: v.detach().float() for k, v in state.items()}
    _check_filters(state, "discriminator")
    state = {k: v for k, v in state.items() if not k.endswith("resample_filter")}
    out: dict[str, Tensor] = {}
    res = config.resolution
    _move(state, out, f"b{res}.fromrgb.", "fromrgb.")
    index = 0
    while res > 4:
        _move(state, out, f"b{res}.", f"blocks.{index}.")
        res //= 2
        index += 1
    for name in ("conv", "fc", "out"):
        _move(state, out, f"b4.{name}.", f"{name}.")
    if state:
        raise UnsupportedNetwork(f"discriminator weights without a genomekit counterpart: {sorted(state)[:5]}")
    return out


def _load(module: torch.nn.Module, state: dict[str, Tensor], what: str) -> None:
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UnsupportedNetwork(
            f"{what} does not match genomekit's layout (missing {missing[:4]}, unexpected {unexpected[:4]})"
        )


def generator_from_nvlabs(init_kwargs: Mapping[str, Any], state: Mapping[str, Tensor]) -> Generator:
    """A genomekit Generator computing what NVlabs' ``Generator(**init_kwargs)`` with ``state`` computes."""
    config = generator_config(init_kwargs, state)
    mapping = dict(init_kwargs.get("mapping_kwargs") or {})
    G = Generator(config)
    _load(G, generator_state(state, config, float(mapping.get("lr_multiplier", 0.01))), "the generator")
    if config.latent == "mapping" and mapping.get("w_avg_beta") is not None:
        G.latent.w_avg_beta = float(mapping["w_avg_beta"])
    return G.eval().requires_grad_(False)


def discriminator_from_nvlabs(
    init_kwargs: Mapping[str, Any], state: Mapping[str, Tensor], repository: str = "stylegan3"
) -> Discriminator:
    """A genomekit Discriminator computing what NVlabs' ``Discriminator(**init_kwargs)`` with ``state`` computes."""
    config = discriminator_config(init_kwargs, repository)
    D = Discriminator(config)
    _load(D, discriminator_state(state, config), "the discriminator")
    return D.eval().requires_grad_(False)


# -- whole pickles -------------------------------------------------------------------------------


@dataclass
class ImportedModel:
    """Networks read from an NVlabs pickle, ready to save as a genomekit checkpoint."""

    G: Generator  # the EMA generator of a snapshot (or the one network of a bare pickle)
    D: Discriminator | None  # None for a pickle without a discriminator
    source: dict  # what was read: file, sha256, format, repository, class names, NVlabs constructor arguments


def _stored_network(obj: Any, what: str) -> StoredModule:
    if not isinstance(obj, StoredModule):
        raise UnsupportedNetwork(f"{what} is a {type(obj).__name__}, not an NVlabs network")
    return obj


def _check_stylegan2_synthesis(G: StoredModule) -> None:
    synthesis = G.children.get("synthesis")
    if synthesis is None or "mapping" not in G.children:
        raise UnsupportedNetwork(f"the generator ({G.class_name}) has no synthesis and mapping networks")
    if "input" in synthesis.children or any(name.startswith("L") and "_" in name for name in synthesis.children):
        raise UnsupportedNetwork(
            "StyleGAN3 (-T/-R) synthesis networks are not supported; genomekit reproduces StyleGAN2 "
            "(stylegan3's --cfg stylegan2, or stylegan2-ada-pytorch)"
        )


def _from_stored(obj: Any) -> tuple[StoredModule, StoredModule | None, str]:
    """(generator, discriminator or None, which network was taken) from an unpickled NVlabs object."""
    if isinstance(obj, dict):
        if "G_ema" in obj or "G" in obj:
            key = "G_ema" if obj.get("G_ema") is not None else "G"
            D = obj.get("D")
            return _stored_network(obj[key], key), (_stored_network(D, "D") if D is not None else None), key
        raise UnsupportedNetwork(f"the pickle is a dict with keys {sorted(obj)[:6]}, not an NVlabs snapshot")
    network = _stored_network(obj, "the pickle")
    if network.class_name == "Discriminator":
        raise UnsupportedNetwork("the pickle holds only a discriminator; a generator is needed")
    return network, None, network.class_name


def read_nvlabs_pickle(path: str | Path) -> ImportedModel:
    """Read an NVlabs StyleGAN2 pickle (PyTorch, or TensorFlow tflib) without running any code stored in it.

    Accepts a training snapshot (a dict with G, D, G_ema, ...), a bare generator, or a TensorFlow
    StyleGAN2 pickle (G, D, Gs). The generator is G_ema where present.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    source: dict[str, Any] = {"file": path.name, "sha256": hashlib.sha256(data).hexdigest()}
    if b"dnnlib.tflib.network" in data[:4096] or b"dnnlib.tflib" in data[:65536]:
        return _read_tensorflow(data, path, source)
    obj = load_nvlabs_pickle(data, path.name)
    stored_G, stored_D, taken = _from_stored(obj)
    _check_stylegan2_synthesis(stored_G)
    g_kwargs = stored_G.init_kwargs
    if not g_kwargs:
        raise UnsupportedNetwork(
            f"the generator ({stored_G.class_name}) carries no constructor arguments; only networks pickled "
            "by NVlabs' torch_utils.persistence can be read"
        )
    repository = repository_of(g_kwargs)
    G = generator_from_nvlabs(g_kwargs, stored_G.state_dict())
    D = discriminator_from_nvlabs(stored_D.init_kwargs, stored_D.state_dict(), repository) if stored_D else None
    mapping = stored_G.children["mapping"]
    source.update(
        format="nvlabs-pytorch-pickle",
        repository=repository,
        generator=taken,
        latent_class=mapping.class_name,
        generator_kwargs=_jsonable(g_kwargs),
        discriminator_kwargs=_jsonable(stored_D.init_kwargs) if stored_D else None,
    )
    return ImportedModel(G=G, D=D, source=source)


def _read_tensorflow(data: bytes, path: Path, source: dict) -> ImportedModel:
    from genomekit.interop import tflib

    networks = tflib.read_tflib_pickle(data)
    if isinstance(networks, tuple):
        if len(networks) != 3:
            raise UnsupportedNetwork(f"{path.name}: a TF StyleGAN2 pickle is (G, D, Gs); this holds {len(networks)}")
        _, tf_D, tf_G = networks
    else:
        tf_G, tf_D = networks, None
    g_kwargs, g_state = tflib.tf_stylegan2_generator_to_nvlabs(tf_G)
    G = generator_from_nvlabs(g_kwargs, {k: torch.as_tensor(v) for k, v in g_state.items()})
    D = None
    d_kwargs = None
    if tf_D is not None and hasattr(tflib, "tf_stylegan2_discriminator_to_nvlabs"):
        d_kwargs, d_state = tflib.tf_stylegan2_discriminator_to_nvlabs(tf_D)
        D = discriminator_from_nvlabs(d_kwargs, {k: torch.as_tensor(v) for k, v in d_state.items()})
    source.update(
        format="tflib-pickle",
        repository="stylegan2 (TensorFlow)",
        generator="Gs",
        generator_kwargs=_jsonable(g_kwargs),
        discriminator_kwargs=_jsonable(d_kwargs),
    )
    return ImportedModel(G=G, D=D, source=source)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return repr(value)
