"""Make golden reference fixtures with NVlabs' own StyleGAN2 code, imported from a checkout.

Each fixture is one safetensors file holding reference inputs and NVlabs' outputs (no weights, no
NVlabs code): the weights are regenerated from the recorded seed by
`tests.interop.nvlabs_weights.fill_state`, so genomekit's CI can rebuild the same network and compare.
Everything runs on CPU in float32, where NVlabs' custom ops (bias_act, upfirdn2d, conv2d_gradfix)
use their reference implementations.

Example:
    python scripts/make_nvlabs_fixtures.py --stylegan3 /work/nvlabs/stylegan3 \\
        --stylegan3-commit c233a919a6faee6e36a316ddd4eddababad1adf9 \\
        --stylegan2-ada /work/nvlabs/stylegan2-ada-pytorch \\
        --stylegan2-ada-commit d72cc7d041b42ec8e806021a205ed9349f87c6a4 \\
        --pickles /work/nvlabs/pickles

    # later, in a fresh process: reload the pickles and compare with their .safetensors
    python scripts/make_nvlabs_fixtures.py --stylegan3 /work/nvlabs/stylegan3 --check-pickles /work/nvlabs/pickles

`--pickles DIR` also writes real NVlabs pickles (which embed NVlabs' source code) for local
end-to-end checks; DIR must lie outside this repository and those files must never be committed.
"""

import argparse
import contextlib
import copy
import datetime
import importlib
import inspect
import json
import logging
import pickle
import subprocess
import sys
import textwrap
import types
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from tests.interop.nvlabs_weights import RESAMPLE_FILTER_SUFFIX, fill_state  # noqa: E402

logger = logging.getLogger(__name__)

NVLABS_PACKAGES = ("dnnlib", "torch_utils", "training", "legacy", "metrics")  # top-level names in a checkout
SG3_MODULE = "training.networks_stylegan2"  # stylegan3 repository
ADA_MODULE = "training.networks"  # stylegan2-ada-pytorch repository
TRUNCATION_PSI = 0.7
METADATA_KEY = "fixture"  # safetensors metadata: {"fixture": json.dumps(...)}


# ------------------------------------------------------------------------------------------------
# The StyleGenes Genome (paper, Appendix H, Figure 12), which replaces G.mapping.


class Genome(torch.nn.Module):
    """StyleGenes' discrete latent: one learnable table of variants per gene, replacing G.mapping."""

    def __init__(
        self,
        dim,  # Style latent (W) dimensionality.
        num_ws,  # Number of W copies used to modulate the synthesis network.
        num_variants=2048,  # Learnable variants per gene.
        gene_length=8,  # Entries per gene, so there are dim // gene_length genes.
    ):
        super().__init__()
        assert dim % gene_length == 0
        self.dim = dim
        self.num_ws = num_ws
        self.gene_length = gene_length
        self.num_genes = dim // gene_length
        self.num_variants = num_variants
        self.genes = torch.nn.Parameter(torch.randn([self.num_genes, num_variants, gene_length]))  # [GVD]
        self.gene_inds = torch.arange(self.num_genes).view(1, -1)  # [1G], not a buffer, as in the paper

    def ws_from_genes(self, genes_idx):
        """Look up a gene sequence: genes_idx [BG] int64 variant per gene -> ws [B, num_ws, G*D]."""
        batch_size = genes_idx.shape[0]
        gene_inds = self.gene_inds.to(genes_idx.device).broadcast_to(batch_size, self.num_genes)
        ws = self.genes[gene_inds, genes_idx].view(batch_size, -1)  # [B, G*D], gene-major
        return ws.unsqueeze(1).repeat([1, self.num_ws, 1])

    # Same arguments as the MappingNetwork, so G(z, c) works unchanged; the variants are drawn at random.
    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        genes_idx = torch.randint(size=(z.shape[0], self.num_genes), high=self.num_variants, device=z.device)
        return self.ws_from_genes(genes_idx)


# ------------------------------------------------------------------------------------------------
# What to make.


@dataclass(frozen=True, kw_only=True)
class FixtureSpec:
    name: str  # file name, without .safetensors
    kind: str  # "generator" | "discriminator"
    init_kwargs: dict  # exactly the kwargs passed to NVlabs' constructor
    batch_size: int  # B
    weight_seed: int  # seed for fill_state
    input_seed: int  # seed for z, genes_idx or img
    genome_kwargs: dict | None = None  # replace G.mapping by Genome(dim=w_dim, num_ws=G.num_ws, **these)
    image_stride: int = 1  # store img[..., ::s, ::s] only (256 px, to keep files small)
    uint8_input: bool = False  # D input stored as uint8 bytes (256 px, to keep files small)
    call_kwargs: dict = field(default_factory=dict)  # extra kwargs for every G / D forward call

    def __post_init__(self):
        if self.kind not in ("generator", "discriminator"):
            raise ValueError(f"{self.name}: kind must be 'generator' or 'discriminator', not {self.kind!r}")
        if self.genome_kwargs is not None and self.kind != "generator":
            raise ValueError(f"{self.name}: only a generator can have its mapping replaced by a Genome")


def sg3_generator_kwargs(**changes) -> dict:
    """Generator kwargs of g_mapping_32 (stylegan3's networks_stylegan2), with `changes` applied."""
    kwargs = dict(
        z_dim=64,
        c_dim=0,
        w_dim=64,
        img_resolution=32,
        img_channels=3,
        mapping_kwargs=dict(num_layers=2),
        channel_base=1024,
        channel_max=64,
        num_fp16_res=0,
        conv_clamp=None,
    )
    return kwargs | changes


def sg3_discriminator_kwargs(**changes) -> dict:
    """Discriminator kwargs of d_resnet_32 (stylegan3's networks_stylegan2), with `changes` applied."""
    kwargs = dict(
        c_dim=0,
        img_resolution=32,
        img_channels=3,
        architecture="resnet",
        channel_base=1024,
        channel_max=64,
        num_fp16_res=4,
        conv_clamp=256,
        epilogue_kwargs=dict(mbstd_group_size=4),
    )
    return kwargs | changes


CONFIG_F = dict(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256)  # StyleGAN2 config F
CONFIG_F_G = dict(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=8), **CONFIG_F)

SG3_FIXTURES = [
    FixtureSpec(
        name="g_mapping_32",
        kind="generator",
        init_kwargs=sg3_generator_kwargs(),
        batch_size=4,
        weight_seed=101,
        input_seed=201,
    ),
    FixtureSpec(
        name="g_mapping_32_fp16",
        kind="generator",
        init_kwargs=sg3_generator_kwargs(num_fp16_res=4, conv_clamp=256),
        batch_size=4,
        weight_seed=102,
        input_seed=202,
    ),
    FixtureSpec(
        name="g_mapping_32_clamp",
        kind="generator",
        init_kwargs=sg3_generator_kwargs(num_fp16_res=4, conv_clamp=0.5),
        batch_size=4,
        weight_seed=103,
        input_seed=203,
    ),
    FixtureSpec(
        name="g_genome_32",
        kind="generator",
        init_kwargs=sg3_generator_kwargs(num_fp16_res=4, conv_clamp=256),
        genome_kwargs=dict(num_variants=16, gene_length=8),
        batch_size=4,
        weight_seed=104,
        input_seed=204,
    ),
    FixtureSpec(
        name="g_mapping_64_f",
        kind="generator",
        init_kwargs=sg3_generator_kwargs(img_resolution=64, **CONFIG_F_G),
        batch_size=2,
        weight_seed=105,
        input_seed=205,
    ),
    FixtureSpec(
        name="g_mapping_256_f",
        kind="generator",
        init_kwargs=sg3_generator_kwargs(img_resolution=256, **CONFIG_F_G),
        batch_size=2,
        weight_seed=106,
        input_seed=206,
        image_stride=4,
    ),
    FixtureSpec(
        name="d_resnet_32",
        kind="discriminator",
        init_kwargs=sg3_discriminator_kwargs(),
        batch_size=8,
        weight_seed=111,
        input_seed=211,
    ),
    FixtureSpec(
        name="d_resnet_32_clamp",
        kind="discriminator",
        init_kwargs=sg3_discriminator_kwargs(conv_clamp=0.5),
        batch_size=8,
        weight_seed=112,
        input_seed=212,
    ),
    FixtureSpec(
        name="d_resnet_64_f",
        kind="discriminator",
        init_kwargs=sg3_discriminator_kwargs(img_resolution=64, **CONFIG_F),
        batch_size=8,
        weight_seed=113,
        input_seed=213,
    ),
    FixtureSpec(
        name="d_resnet_256_f",
        kind="discriminator",
        init_kwargs=sg3_discriminator_kwargs(img_resolution=256, **CONFIG_F),
        batch_size=2,
        weight_seed=114,
        input_seed=214,
        uint8_input=True,
    ),
]

# stylegan2-ada-pytorch takes synthesis kwargs as one dict and does not force fp32 on CPU by itself
# (its fp16 blocks would really run in float16), so every call passes force_fp32=True.
ADA_FIXTURES = [
    FixtureSpec(
        name="ada_g_mapping_32_fp16",
        kind="generator",
        init_kwargs=dict(
            z_dim=64,
            c_dim=0,
            w_dim=64,
            img_resolution=32,
            img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=1024, channel_max=64, num_fp16_res=4, conv_clamp=256),
        ),
        batch_size=2,
        weight_seed=102,
        input_seed=202,
        call_kwargs=dict(force_fp32=True),
    ),
    FixtureSpec(
        name="ada_d_resnet_32",
        kind="discriminator",
        init_kwargs=sg3_discriminator_kwargs(),
        batch_size=4,
        weight_seed=111,
        input_seed=211,
        call_kwargs=dict(force_fp32=True),
    ),
]


# ------------------------------------------------------------------------------------------------
# NVlabs import and weights.


def import_nvlabs(checkout: Path, module_name: str) -> types.ModuleType:
    """Import NVlabs' network module from a checkout, dropping any NVlabs checkout imported before.

    The stylegan3 and stylegan2-ada-pytorch checkouts both define the top-level packages `dnnlib`,
    `torch_utils` and `training`, so only one can be imported at a time.
    """
    for name in list(sys.modules):
        if name.split(".")[0] in NVLABS_PACKAGES:
            del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not (Path(p) / "torch_utils" / "persistence.py").exists()]
    sys.path.insert(0, str(checkout))
    # stylegan3's conv2d_gradfix does `from pkg_resources import parse_version`; setuptools >= 81 no
    # longer ships pkg_resources, and that one function is all it needs.
    try:
        importlib.import_module("pkg_resources")
    except ModuleNotFoundError:
        from packaging.version import parse as parse_version

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse_version)
    return importlib.import_module(module_name)


def checkout_commit(checkout: Path, commit: str | None) -> str:
    """The commit given on the command line, else the checkout's git HEAD."""
    if commit:
        return commit
    result = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            f"{checkout} is not a git work tree: pass its commit with --stylegan3-commit / --stylegan2-ada-commit"
        )
    return result.stdout.strip()


def state_keys(network: torch.nn.Module) -> list[tuple[str, list[int]]]:
    """(key, shape) in state_dict order, without the fixed resample_filter buffers."""
    return [
        (key, list(value.shape))
        for key, value in network.state_dict().items()
        if not key.endswith(RESAMPLE_FILTER_SUFFIX)
    ]


def load_seeded_weights(network: torch.nn.Module, seed: int) -> list[tuple[str, list[int]]]:
    """Load fill_state(seed) weights in place (every key but resample_filter); returns the keys used."""
    keys = state_keys(network)
    state = fill_state(keys, seed)
    missing, unexpected = network.load_state_dict(state, strict=False)
    if unexpected or any(not key.endswith(RESAMPLE_FILTER_SUFFIX) for key in missing):
        raise RuntimeError(f"state mismatch: missing {missing}, unexpected {unexpected}")
    return keys


def build_network(nvlabs: types.ModuleType, spec: FixtureSpec, genome_class: type = Genome) -> torch.nn.Module:
    """NVlabs' Generator or Discriminator for `spec`, with seeded weights, in eval mode."""
    if spec.kind == "discriminator":
        network = nvlabs.Discriminator(**spec.init_kwargs)
    else:
        network = nvlabs.Generator(**spec.init_kwargs)
        if spec.genome_kwargs is not None:
            network.mapping = genome_class(dim=network.w_dim, num_ws=network.num_ws, **spec.genome_kwargs)
    load_seeded_weights(network, spec.weight_seed)
    return network.eval().requires_grad_(False)


# ------------------------------------------------------------------------------------------------
# Reference inputs and outputs.


@contextlib.contextmanager
def count_clamped(nvlabs_bias_act: types.ModuleType):
    """Count the activations that bias_act's `clamp` changes, leaving its results as they are.

    Yields a dict that, after the block, holds `clamped` and `total` (over all calls with a clamp)
    and `max_layer_fraction` (the largest clamped fraction of any single call).
    """
    original = nvlabs_bias_act.bias_act
    counts = dict(clamped=0, total=0, max_layer_fraction=0.0)

    def counting_bias_act(x, b=None, dim=1, act="linear", alpha=None, gain=None, clamp=None, impl="cuda"):
        y = original(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp, impl=impl)
        if clamp is not None:
            unclamped = original(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=None, impl=impl)
            clamped = int((unclamped.abs() > clamp).sum())
            counts["clamped"] += clamped
            counts["total"] += unclamped.numel()
            counts["max_layer_fraction"] = max(counts["max_layer_fraction"], clamped / unclamped.numel())
        return y

    nvlabs_bias_act.bias_act = counting_bias_act
    try:
        yield counts
    finally:
        nvlabs_bias_act.bias_act = original


def clamp_summary(counts: dict) -> dict:
    """Clamped fraction over all clamped layers (0 with clamp_checked 0: no layer has a clamp)."""
    fraction = counts["clamped"] / counts["total"] if counts["total"] else 0.0
    return dict(
        clamped_fraction=fraction,
        max_layer_clamped_fraction=counts["max_layer_fraction"],
        clamped_count=counts["clamped"],
        clamp_checked=counts["total"],
    )


def reference_inputs(spec: FixtureSpec, network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Seeded inputs: z [B, z_dim] or genes_idx [BG] for a generator, img [B, C, R, R] for a discriminator."""
    generator = torch.Generator().manual_seed(spec.input_seed)
    batch_size = spec.batch_size
    if spec.kind == "discriminator":
        shape = [batch_size, network.img_channels, network.img_resolution, network.img_resolution]
        if spec.uint8_input:
            return dict(img_uint8=torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8))
        return dict(img=torch.rand(shape, generator=generator) * 2 - 1)
    if spec.genome_kwargs is not None:
        genome = network.mapping
        return dict(
            genes_idx=torch.randint(0, genome.num_variants, [batch_size, genome.num_genes], generator=generator)
        )
    return dict(z=torch.randn([batch_size, network.z_dim], generator=generator))


def discriminator_input(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The float image D sees; uint8 bytes are converted as NVlabs' training loop converts real images."""
    if "img_uint8" in inputs:
        return inputs["img_uint8"].to(torch.float32) / 127.5 - 1
    return inputs["img"]


def run_generator(G: torch.nn.Module, spec: FixtureSpec, inputs: dict[str, torch.Tensor]) -> tuple[dict, dict, dict]:
    """NVlabs' generator outputs for the fixture, with a description of each and numerical checks."""
    c = torch.empty([spec.batch_size, 0])
    kwargs = dict(spec.call_kwargs, force_fp32=True)
    s = spec.image_stride
    crop = (lambda img: img[..., ::s, ::s].contiguous()) if s > 1 else (lambda img: img)
    suffix = f"_stride{s}" if s > 1 else ""
    crop_text = f"[..., ::{s}, ::{s}] (every {s}th row and column) of " if s > 1 else ""
    outputs, descriptions = {}, {}

    if spec.genome_kwargs is not None:
        ws = G.mapping.ws_from_genes(inputs["genes_idx"])
        outputs["ws"] = ws
        descriptions["ws"] = (
            "Genome lookup: genes[i, genes_idx[:, i]] for each gene i, concatenated gene-major to (B, G*D), repeated over num_ws"
        )

        def synthesize(**extra):
            return G.synthesis(ws, **kwargs, **extra)

        call = "G.synthesis(ws, {}force_fp32=True)"
    else:
        outputs["ws"] = G.mapping(inputs["z"], c)
        descriptions["ws"] = "G.mapping(z, c) with truncation_psi=1"
        outputs["ws_trunc"] = G.mapping(inputs["z"], c, truncation_psi=TRUNCATION_PSI, truncation_cutoff=None)
        descriptions["ws_trunc"] = (
            f"G.mapping(z, c, truncation_psi={TRUNCATION_PSI}, truncation_cutoff=None), using w_avg"
        )

        def synthesize(**extra):
            return G(inputs["z"], c, **kwargs, **extra)

        call = "G(z, c, {}force_fp32=True)"

    img_const = synthesize(noise_mode="const")
    outputs["img_const" + suffix] = crop(img_const)
    descriptions["img_const" + suffix] = crop_text + call.format("noise_mode='const', ")
    outputs["img_none" + suffix] = crop(synthesize(noise_mode="none"))
    descriptions["img_none" + suffix] = crop_text + call.format("noise_mode='none', ")
    if spec.genome_kwargs is None:
        outputs["img_trunc" + suffix] = crop(
            synthesize(noise_mode="const", truncation_psi=TRUNCATION_PSI, truncation_cutoff=None)
        )
        descriptions["img_trunc" + suffix] = crop_text + call.format(
            f"truncation_psi={TRUNCATION_PSI}, truncation_cutoff=None, noise_mode='const', "
        )

    # How far NVlabs' own two modconv paths (grouped conv vs scaled activations) are apart: a noise floor.
    checks = dict(
        max_abs_diff_unfused_modconv=float(
            (synthesize(noise_mode="const", fused_modconv=False) - img_const).abs().max()
        ),
        max_abs_img_const=float(img_const.abs().max()),
    )
    with count_clamped(sys.modules["torch_utils.ops.bias_act"]) as counts:
        again = synthesize(noise_mode="const")
    assert torch.equal(again, img_const)
    return outputs, descriptions, checks | clamp_summary(counts)


def run_discriminator(
    D: torch.nn.Module, spec: FixtureSpec, inputs: dict[str, torch.Tensor]
) -> tuple[dict, dict, dict]:
    """NVlabs' discriminator logits for the fixture, with a description and numerical checks."""
    img = discriminator_input(inputs)
    c = torch.empty([spec.batch_size, 0])
    logits = D(img, c, **spec.call_kwargs)
    extra = "".join(f", {key}={value!r}" for key, value in spec.call_kwargs.items())
    with count_clamped(sys.modules["torch_utils.ops.bias_act"]) as counts:
        again = D(img, c, **spec.call_kwargs)
    assert torch.equal(again, logits)
    return dict(logits=logits), dict(logits=f"D(img, c{extra})"), clamp_summary(counts)


INPUT_DESCRIPTIONS = dict(
    z="latent, torch.randn([B, z_dim], generator=torch.Generator().manual_seed(input_seed))",
    genes_idx="int64 variant index per gene, torch.randint(0, num_variants, [B, G], generator=torch.Generator().manual_seed(input_seed))",
    img="float32 image uniform in [-1, 1], torch.rand([B, C, R, R], generator=torch.Generator().manual_seed(input_seed)) * 2 - 1",
    img_uint8="uint8 image bytes, torch.randint(0, 256, [B, C, R, R], generator=torch.Generator().manual_seed(input_seed), dtype=torch.uint8); "
    "D sees img = img_uint8.to(torch.float32) / 127.5 - 1, as NVlabs' training loop converts real images",
)


def describe(tensors: dict[str, torch.Tensor], descriptions: dict[str, str]) -> dict:
    return {
        name: dict(shape=list(t.shape), dtype=str(t.dtype).removeprefix("torch."), description=descriptions[name])
        for name, t in tensors.items()
    }


def network_record(network: torch.nn.Module, spec: FixtureSpec) -> dict:
    """How to rebuild `network`: class, constructor kwargs, weight seed and state keys."""
    record = dict(
        class_name="Discriminator" if spec.kind == "discriminator" else "Generator",
        init_kwargs=spec.init_kwargs,
        weight_seed=spec.weight_seed,
        state_keys=state_keys(network),
    )
    if spec.genome_kwargs is not None:
        record["mapping_replaced_by"] = dict(
            class_name="Genome",
            source="StyleGenes paper, Appendix H, Figure 12 (G.mapping = Genome(...))",
            init_kwargs=dict(dim=network.w_dim, num_ws=network.num_ws, **spec.genome_kwargs),
        )
    return record


def make_fixture(nvlabs: types.ModuleType, spec: FixtureSpec, provenance: dict, out_dir: Path) -> Path:
    """Build the network, run the reference inputs, write <out_dir>/<name>.safetensors."""
    network = build_network(nvlabs, spec)
    inputs = reference_inputs(spec, network)
    outputs, descriptions, checks = run_network(network, spec, inputs)
    tensors = inputs | outputs
    for name, t in outputs.items():
        if not torch.isfinite(t).all():
            raise RuntimeError(f"{spec.name}: {name} is not finite")
    metadata = dict(
        provenance,
        kind=spec.kind,
        **network_record(network, spec),
        batch_size=spec.batch_size,
        input_seed=spec.input_seed,
        checks=checks,
        tensors=describe(tensors, INPUT_DESCRIPTIONS | descriptions),
    )
    path = out_dir / f"{spec.name}.safetensors"
    save_file(
        {name: t.contiguous() for name, t in tensors.items()}, str(path), metadata={METADATA_KEY: json.dumps(metadata)}
    )
    logger.info(
        "%s: %s, %.0f KB, checks %s",
        path.name,
        {n: list(t.shape) for n, t in tensors.items()},
        path.stat().st_size / 1024,
        checks,
    )
    return path


# ------------------------------------------------------------------------------------------------
# Real NVlabs pickles (outside the repository), each with a .safetensors of reference outputs.

PICKLE_G = SG3_FIXTURES[1]  # g_mapping_32_fp16
PICKLE_D = SG3_FIXTURES[6]  # d_resnet_32
PICKLE_GENOME = SG3_FIXTURES[3]  # g_genome_32
TRAINING_SET_KWARGS = dict(
    class_name="training.dataset.ImageFolderDataset",
    path="/data/fake-32.zip",
    use_labels=False,
    max_size=1000,
    xflip=False,
    resolution=32,
    random_seed=0,
)  # as train.py writes them
G_TRAINING_SEED_OFFSET = 1000  # G (not G_ema) in a snapshot gets weight_seed + this, so the two differ


def snapshot_specs(G_ema: FixtureSpec, D: FixtureSpec) -> dict[str, FixtureSpec]:
    """Specs of a snapshot's networks: G_ema as given, G with other weights, D."""
    return dict(G_ema=G_ema, G=replace(G_ema, weight_seed=G_ema.weight_seed + G_TRAINING_SEED_OFFSET), D=D)


def snapshot(networks: dict[str, torch.nn.Module]) -> dict:
    """The dict stylegan3's training_loop.py pickles as network-snapshot-*.pkl."""
    snapshot_data = dict(
        G=networks["G"],
        D=networks["D"],
        G_ema=networks["G_ema"],
        augment_pipe=None,
        training_set_kwargs=dict(TRAINING_SET_KWARGS),
    )
    for key, value in snapshot_data.items():
        if isinstance(value, torch.nn.Module):
            snapshot_data[key] = copy.deepcopy(value).eval().requires_grad_(False).cpu()
    return snapshot_data


def run_network(
    network: torch.nn.Module, spec: FixtureSpec, inputs: dict[str, torch.Tensor]
) -> tuple[dict, dict, dict]:
    with torch.no_grad():
        run = run_discriminator if spec.kind == "discriminator" else run_generator
        return run(network, spec, inputs)


def write_pickle(
    path: Path, data, networks: dict[str, torch.nn.Module], specs: dict[str, FixtureSpec], provenance: dict, notes: str
) -> None:
    """Pickle `data` to `path`; beside it a .safetensors with each network's inputs and outputs,
    named '<key>.<tensor>' (e.g. 'G_ema.img_const')."""
    with open(path, "wb") as f:
        pickle.dump(data, f)
    tensors, descriptions = {}, {}
    for key, network in networks.items():
        inputs = reference_inputs(specs[key], network)
        outputs, output_descriptions, _ = run_network(network, specs[key], inputs)
        for name, t in (inputs | outputs).items():
            tensors[f"{key}.{name}"] = t
            descriptions[f"{key}.{name}"] = (INPUT_DESCRIPTIONS | output_descriptions)[name]
    records = {
        key: network_record(network, specs[key]) | dict(spec=asdict(specs[key])) for key, network in networks.items()
    }
    metadata = dict(
        provenance, pickle=path.name, notes=notes, networks=records, tensors=describe(tensors, descriptions)
    )
    save_file(
        {n: t.contiguous() for n, t in tensors.items()},
        str(path.with_suffix(".safetensors")),
        metadata={METADATA_KEY: json.dumps(metadata)},
    )
    logger.info("%s: %.0f KB (+ .safetensors)", path.name, path.stat().st_size / 1024)


def genome_source() -> str:
    """Source of the Genome class above, to define it inside NVlabs' module as a StyleGenes user would."""
    return textwrap.dedent(inspect.getsource(Genome))


def make_pickles(nvlabs: types.ModuleType, provenance: dict, pickle_dir: Path) -> None:
    """Real stylegan3 pickles: a training snapshot, a bare G_ema, and two forms of a Genome generator."""
    persistence = sys.modules["torch_utils.persistence"]

    # 1. A training snapshot and a bare G_ema.
    specs = snapshot_specs(PICKLE_G, PICKLE_D)
    networks = {key: build_network(nvlabs, spec) for key, spec in specs.items()}
    write_pickle(
        pickle_dir / "snapshot_g_mapping_32_fp16_d_resnet_32.pkl",
        snapshot(networks),
        networks,
        specs,
        provenance,
        "training_loop.py snapshot dict(G, D, G_ema, augment_pipe=None, training_set_kwargs)",
    )
    bare = dict(G_ema=networks["G_ema"])
    write_pickle(
        pickle_dir / "g_ema_mapping_32_fp16.pkl",
        copy.deepcopy(bare["G_ema"]),
        bare,
        specs,
        provenance,
        "bare G_ema module: pickle.dump(G_ema, f)",
    )

    # 2. Genome generator, persistent: as if Genome had been added, decorated, to networks_stylegan2.py.
    #    Every class comes from that patched source, so the pickle embeds NVlabs' module source plus
    #    Genome and unpickles with NVlabs' torch_utils alone.
    specs = snapshot_specs(PICKLE_GENOME, PICKLE_D)
    patched_src = persistence._module_to_src(nvlabs) + "\n\n@persistence.persistent_class\n" + genome_source()
    patched = persistence._src_to_module(patched_src)
    networks = {key: build_network(patched, spec, genome_class=patched.Genome) for key, spec in specs.items()}
    write_pickle(
        pickle_dir / "snapshot_genome_32_persistent.pkl",
        snapshot(networks),
        networks,
        specs,
        provenance,
        "snapshot; Genome is a persistence.persistent_class; every class pickles with module_src = "
        "networks_stylegan2.py source + the Genome class",
    )

    # 3. Genome generator, plain: Genome is an undecorated nn.Module defined in training.networks_stylegan2,
    #    so it pickles by reference (training.networks_stylegan2.Genome) inside NVlabs' persistent classes.
    exec(genome_source(), nvlabs.__dict__)  # defines nvlabs.Genome, with __module__ 'training.networks_stylegan2'
    networks = {key: build_network(nvlabs, spec, genome_class=nvlabs.Genome) for key, spec in specs.items()}
    write_pickle(
        pickle_dir / "snapshot_genome_32_by_reference.pkl",
        snapshot(networks),
        networks,
        specs,
        provenance,
        "snapshot; Genome is a plain nn.Module in module training.networks_stylegan2, pickled by reference: "
        "loading needs a training.networks_stylegan2 that defines Genome",
    )


def make_ada_pickles(nvlabs: types.ModuleType, provenance: dict, pickle_dir: Path) -> None:
    """A stylegan2-ada-pytorch training snapshot of the ada fixtures' networks."""
    specs = snapshot_specs(*ADA_FIXTURES)
    networks = {key: build_network(nvlabs, spec) for key, spec in specs.items()}
    write_pickle(
        pickle_dir / "ada_snapshot_g_mapping_32_fp16_d_resnet_32.pkl",
        snapshot(networks),
        networks,
        specs,
        provenance,
        "stylegan2-ada-pytorch training snapshot dict(G, D, G_ema, augment_pipe=None, training_set_kwargs)",
    )


def check_pickles(nvlabs: types.ModuleType, pickle_dir: Path) -> None:
    """Reload each pickle in `pickle_dir` made from this checkout and compare with its .safetensors."""
    exec(genome_source(), nvlabs.__dict__)  # the by-reference Genome pickle needs training.networks_stylegan2.Genome
    for path in sorted(pickle_dir.glob("*.pkl")):
        with safe_open(str(path.with_suffix(".safetensors")), "pt") as f:
            metadata = json.loads(f.metadata()[METADATA_KEY])
            reference = {name: f.get_tensor(name) for name in f.keys()}
        if metadata["nvlabs_module"] != nvlabs.__name__:
            continue
        with open(path, "rb") as f:
            data = pickle.load(f)
        networks = data if isinstance(data, dict) else dict(G_ema=data)
        for key, record in metadata["networks"].items():
            spec = FixtureSpec(**record["spec"])
            inputs = {name: reference[f"{key}.{name}"] for name in INPUT_DESCRIPTIONS if f"{key}.{name}" in reference}
            outputs, _, _ = run_network(networks[key], spec, inputs)
            for name, t in outputs.items():
                if not torch.equal(t, reference[f"{key}.{name}"]):
                    raise SystemExit(f"{path.name}: {key}.{name} differs after reloading")
        logger.info(
            "%s: reloaded in a fresh process, outputs identical (%s)", path.name, ", ".join(metadata["networks"])
        )


# ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stylegan3", type=Path, required=True, help="checkout of github.com/NVlabs/stylegan3")
    parser.add_argument("--stylegan3-commit", help="its commit (default: git rev-parse HEAD in the checkout)")
    parser.add_argument(
        "--stylegan2-ada", type=Path, help="optional checkout of github.com/NVlabs/stylegan2-ada-pytorch"
    )
    parser.add_argument("--stylegan2-ada-commit", help="its commit (default: git rev-parse HEAD in the checkout)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "fixtures" / "nvlabs", help="fixture folder")
    parser.add_argument("--pickles", type=Path, help="also write real NVlabs pickles here (outside the repository)")
    parser.add_argument("--check-pickles", type=Path, help="only reload the pickles in this folder and compare outputs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    checkouts = [(args.stylegan3, args.stylegan3_commit, SG3_MODULE, SG3_FIXTURES, make_pickles)]
    if args.stylegan2_ada is not None:
        checkouts.append((args.stylegan2_ada, args.stylegan2_ada_commit, ADA_MODULE, ADA_FIXTURES, make_ada_pickles))

    if args.check_pickles is not None:
        for checkout, _, module_name, _, _ in checkouts:
            check_pickles(import_nvlabs(checkout.resolve(), module_name), args.check_pickles.resolve())
        return

    for folder in [args.pickles] if args.pickles is not None else []:
        if folder.resolve().is_relative_to(REPO_ROOT):
            raise SystemExit(f"--pickles {folder}: NVlabs pickles embed NVlabs code and must live outside {REPO_ROOT}")
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(False)
    for checkout, commit, module_name, fixtures, pickles in checkouts:
        nvlabs = import_nvlabs(checkout.resolve(), module_name)
        provenance = dict(
            nvlabs_repository="github.com/NVlabs/"
            + ("stylegan3" if module_name == SG3_MODULE else "stylegan2-ada-pytorch"),
            nvlabs_commit=checkout_commit(checkout, commit),
            nvlabs_module=module_name,
            torch_version=torch.__version__,
            device="cpu",
            dtype="float32",
            made_by="scripts/make_nvlabs_fixtures.py",
            date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
            weights="tests.interop.nvlabs_weights.fill_state(state_keys, weight_seed); "
            "resample_filter buffers keep NVlabs' [1,3,3,1] filter",
        )
        for spec in fixtures:
            make_fixture(nvlabs, spec, provenance, args.out)
        if args.pickles is not None:
            args.pickles.mkdir(parents=True, exist_ok=True)
            pickles(nvlabs, provenance, args.pickles)


if __name__ == "__main__":
    main()
