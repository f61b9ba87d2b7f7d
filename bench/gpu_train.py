"""Training throughput (img/s) of genomekit vs NVlabs' StyleGAN2 at the identical architecture, side by side.

Both sides train the same networks: the mapping-network latent (z and w 512, 8 layers), StyleGAN2's
synthesis network and residual discriminator at channel_base 32768, channel_max 512 (config F), NVlabs'
precision settings (the 4 highest resolutions in float16 on CUDA, conv_clamp 256; ``--fp32`` turns both
off on both sides), batch 32, style mixing 0.9, path-length regularisation every 4 steps (weight 2,
half batch), R1 every 16 steps, no augmentation, G_ema. Parameter counts are compared first; a
resolution whose counts differ gets no ratio.

One step:
- genomekit: ``genomekit.training.loop.train_step`` (G step with the path-length penalty folded in on
  its steps, D step on the G step's fakes, EMA), as ``genomekit train`` runs it;
- NVlabs: the phases of stylegan3's ``training/training_loop.py`` (Gmain, Greg every 4, Dmain, Dreg
  every 16, each with its own optimiser step; Dmain synthesises new fakes) through NVlabs' own
  ``training.loss.StyleGAN2Loss``, imported from the checkout given by ``--nvlabs`` (its code is never
  copied here), then the EMA update. Its custom CUDA ops (bias_act, upfirdn2d) compile on first use
  when nvcc is present; the line before the table says whether they did or NVlabs fell back to its
  slower reference ops.

Both see the same uint8 batch already on the device (the data pipeline is not timed). After
``--warmup`` steps each, ``--rounds`` rounds of ``--steps`` steps alternate between the two sides (the
order flips every round), with ``torch.cuda.synchronize`` around every timed block; img/s is all timed
images over all timed seconds. The global settings follow NVlabs' training loop: cudnn.benchmark on,
TF32 off (``--tf32`` turns it on for both, as ``genomekit train`` has it on CUDA).

    .venv/bin/python bench/gpu_train.py --nvlabs /work/nvlabs/stylegan3              # 256 and 64 px, CUDA
    .venv/bin/python bench/gpu_train.py --nvlabs /work/nvlabs/stylegan3 --tiny --device cpu   # seconds

``--tiny`` (16 px, tiny channels, batch 4, 2 timed steps) checks that the script runs; its figures say
nothing about performance. Without ``--nvlabs`` only genomekit is timed and the table says
"NVlabs: not given".
"""

from __future__ import annotations

import argparse
import copy
import importlib
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genomekit.distributed import Distributed  # noqa: E402
from genomekit.networks import DiscriminatorConfig, GeneratorConfig  # noqa: E402
from genomekit.training.config import TrainConfig  # noqa: E402
from genomekit.training.loop import build_state, train_step  # noqa: E402

NVLABS_PACKAGES = ("dnnlib", "torch_utils", "training", "legacy", "metrics")  # top-level names in a checkout


@dataclass(frozen=True, kw_only=True)
class Setting:
    resolution: int  # img_resolution
    w_dim: int = 512  # z_dim = w_dim, as NVlabs' stylegan2 config
    mapping_layers: int = 8  # mapping_kwargs.num_layers
    channel_base: int = 32768  # cbase
    channel_max: int = 512  # cmax
    num_fp16_res: int = 4  # NVlabs' default; 0 with --fp32
    conv_clamp: float | None = 256  # NVlabs' default; None with --fp32
    batch: int = 32  # one process, batch_gpu = batch
    mbstd_group_size: int = 4  # D epilogue
    style_mixing: float = 0.9  # style_mixing_prob
    pl_weight: float = 2.0  # path-length weight
    pl_interval: int = 4  # G_reg_interval
    r1_interval: int = 16  # D_reg_interval
    lr: float = 0.002  # G and D

    @property
    def r1_gamma(self) -> float:
        return 0.0002 * self.resolution**2 / self.batch  # StyleGAN2's heuristic, given to both sides


TINY = dict(w_dim=32, mapping_layers=2, channel_base=256, channel_max=32, batch=4)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- genomekit -----------------------------------------------------------------------------------


def genomekit_side(setting: Setting, device: torch.device, seed: int) -> tuple[Callable[[torch.Tensor], None], dict]:
    """genomekit's training step at ``setting`` and its parameter counts."""
    s = setting
    networks = dict(
        resolution=s.resolution,
        channel_base=s.channel_base,
        channel_max=s.channel_max,
        conv_clamp=s.conv_clamp,
        num_fp16_res=s.num_fp16_res,
    )
    config = TrainConfig(
        data="unused",
        generator=GeneratorConfig(
            latent="mapping", num_genes=s.w_dim // 8, gene_length=8, mapping_layers=s.mapping_layers, **networks
        ),
        discriminator=DiscriminatorConfig(mbstd_group_size=s.mbstd_group_size, **networks),
        batch_size=s.batch,
        g_lr=s.lr,
        d_lr=s.lr,
        r1_gamma=s.r1_gamma,
        r1_interval=s.r1_interval,
        pl_weight=s.pl_weight,
        pl_interval=s.pl_interval,
        style_mixing=s.style_mixing,
        augment="",
        seed=seed,
    )
    state = build_state(config, device, Distributed())

    def step(reals_uint8: torch.Tensor) -> None:
        train_step(state, config, reals_uint8, Distributed())

    return step, dict(G=count(state.G), D=count(state.D))


# -- NVlabs --------------------------------------------------------------------------------------


def import_nvlabs(checkout: Path) -> types.SimpleNamespace:
    """NVlabs' StyleGAN2 networks, loss and ops, imported from a stylegan3 checkout via sys.path."""
    if not (checkout / "training" / "networks_stylegan2.py").is_file():
        raise SystemExit(f"--nvlabs {checkout}: not a stylegan3 checkout (no training/networks_stylegan2.py)")
    for name in list(sys.modules):
        if name.split(".")[0] in NVLABS_PACKAGES:
            del sys.modules[name]
    sys.path.insert(0, str(checkout))
    # stylegan3's conv2d_gradfix does `from pkg_resources import parse_version`; setuptools >= 81 no
    # longer ships pkg_resources, and that one function is all it needs.
    try:
        importlib.import_module("pkg_resources")
    except ModuleNotFoundError:
        from packaging.version import parse as parse_version

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse_version)
    return types.SimpleNamespace(
        networks=importlib.import_module("training.networks_stylegan2"),
        loss=importlib.import_module("training.loss"),
        misc=importlib.import_module("torch_utils.misc"),
        bias_act=importlib.import_module("torch_utils.ops.bias_act"),
        upfirdn2d=importlib.import_module("torch_utils.ops.upfirdn2d"),
        conv2d_gradfix=importlib.import_module("torch_utils.ops.conv2d_gradfix"),
    )


def nvlabs_side(
    nv: types.SimpleNamespace, setting: Setting, device: torch.device, seed: int
) -> tuple[Callable[[torch.Tensor], None], dict]:
    """NVlabs' training step (training_loop.py's phases and EMA) at ``setting`` and its parameter counts."""
    s = setting
    nv.conv2d_gradfix.enabled = True  # as training_loop.py sets it (a no-op from PyTorch 1.11 on)
    common = dict(c_dim=0, img_resolution=s.resolution, img_channels=3)
    precision = dict(num_fp16_res=s.num_fp16_res, conv_clamp=s.conv_clamp)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = nv.networks.Generator(
            z_dim=s.w_dim,
            w_dim=s.w_dim,
            mapping_kwargs=dict(num_layers=s.mapping_layers),
            channel_base=s.channel_base,
            channel_max=s.channel_max,
            fused_modconv_default="inference_only",  # train.py's stylegan2 config
            **precision,
            **common,
        )
        D = nv.networks.Discriminator(
            architecture="resnet",
            channel_base=s.channel_base,
            channel_max=s.channel_max,
            epilogue_kwargs=dict(mbstd_group_size=s.mbstd_group_size),
            **precision,
            **common,
        )
    G = G.train().requires_grad_(False).to(device)
    D = D.train().requires_grad_(False).to(device)
    G_ema = copy.deepcopy(G).eval()
    loss = nv.loss.StyleGAN2Loss(
        device=device,
        G=G,
        D=D,
        r1_gamma=s.r1_gamma,
        style_mixing_prob=s.style_mixing,
        pl_weight=s.pl_weight,
        pl_no_weight_grad=True,  # train.py's stylegan2 config
    )
    # Lazy regularisation: each network's main and reg phases share one Adam with lr and betas scaled
    # by interval / (interval + 1), as training_loop.py sets them up.
    phases = []
    for name, module, interval in (("G", G, s.pl_interval), ("D", D, s.r1_interval)):
        ratio = interval / (interval + 1)
        opt = torch.optim.Adam(module.parameters(), lr=s.lr * ratio, betas=[0.0, 0.99**ratio], eps=1e-8)
        phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]
    ema_nimg_max = s.batch * 10 / 32 * 1000  # train.py: ema_kimg = batch * 10 / 32, ramp-up 0.05
    progress = dict(batch_idx=0, cur_nimg=0)

    def step(reals_uint8: torch.Tensor) -> None:
        real_img = reals_uint8.to(device).to(torch.float32) / 127.5 - 1
        real_c = torch.empty([s.batch, 0], device=device)
        gen_c = torch.empty([s.batch, 0], device=device)  # c_dim 0: no labels to draw
        all_gen_z = torch.randn([len(phases) * s.batch, G.z_dim], device=device).split(s.batch)
        for (name, module, opt, interval), gen_z in zip(phases, all_gen_z, strict=True):
            if progress["batch_idx"] % interval != 0:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            loss.accumulate_gradients(
                phase=name,
                real_img=real_img,
                real_c=real_c,
                gen_z=gen_z,
                gen_c=gen_c,
                gain=interval,
                cur_nimg=progress["cur_nimg"],
            )
            module.requires_grad_(False)
            params = [p for p in module.parameters() if p.grad is not None]
            if params:
                flat = torch.cat([p.grad.flatten() for p in params])
                nv.misc.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
                for p, grad in zip(params, flat.split([p.numel() for p in params]), strict=True):
                    p.grad = grad.reshape(p.shape)
            opt.step()
        ema_nimg = min(ema_nimg_max, progress["cur_nimg"] * 0.05)
        beta = 0.5 ** (s.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
                b_ema.copy_(b)
        progress["cur_nimg"] += s.batch
        progress["batch_idx"] += 1

    return step, dict(G=count(G), D=count(D))


def nvlabs_ops(nv: types.SimpleNamespace, device: torch.device) -> str:
    """Which implementation NVlabs' custom ops ran with (after the warm-up has tried to build them)."""
    if device.type != "cuda":
        return "reference ops (not CUDA)"
    built = {name: getattr(nv, name)._plugin is not None for name in ("bias_act", "upfirdn2d")}
    if all(built.values()):
        return "fused CUDA ops (bias_act, upfirdn2d)"
    missing = ", ".join(name for name, ok in built.items() if not ok)
    return f"REFERENCE ops for {missing}: the CUDA build failed (nvcc/ninja?), so NVlabs runs slower than it can"


# -- timing --------------------------------------------------------------------------------------


def timed(step: Callable[[torch.Tensor], None], reals: torch.Tensor, steps: int, device: torch.device) -> float:
    """Seconds for ``steps`` steps, synchronised before and after."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(reals)
    synchronize(device)
    return time.perf_counter() - start


def measure(
    sides: dict[str, Callable[[torch.Tensor], None]],
    reals: torch.Tensor,
    warmup: int,
    steps: int,
    rounds: int,
    device: torch.device,
) -> dict[str, float]:
    """img/s of each side: warm-up steps, then ``rounds`` interleaved blocks of ``steps`` (order flips)."""
    for step in sides.values():
        for _ in range(warmup):
            step(reals)
    synchronize(device)
    seconds = dict.fromkeys(sides, 0.0)
    names = list(sides)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            seconds[name] += timed(sides[name], reals, steps, device)
    return {name: rounds * steps * len(reals) / seconds[name] for name in sides}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvlabs", type=Path, help="a stylegan3 checkout (NVlabs); without it genomekit alone")
    parser.add_argument("--resolutions", type=int, nargs="+", default=None, help="default 256 64 (tiny: 16)")
    parser.add_argument("--batch", type=int, default=None, help="default 32 (tiny: 4)")
    parser.add_argument("--warmup", type=int, default=None, help="steps per side before timing; default 4 (tiny: 1)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed block; default 16 (tiny: 2)")
    parser.add_argument("--rounds", type=int, default=None, help="timed blocks per side; default 3 (tiny: 1)")
    parser.add_argument("--fp32", action="store_true", help="no float16 layers and no conv_clamp, on both sides")
    parser.add_argument("--tf32", action="store_true",
                        help="TF32 float32 products on both sides (genomekit train's CUDA default; NVlabs turns it off)")  # fmt: skip
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run: tiny networks, seconds; not a benchmark")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads; default torch's (tiny: 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads or args.tiny:  # one thread: tiny ops on a shared CPU run far faster without contention
        torch.set_num_threads(args.threads or 1)
    tiny = args.tiny
    resolutions = args.resolutions or ([16] if tiny else [256, 64])
    warmup = args.warmup if args.warmup is not None else (1 if tiny else 4)
    steps = args.steps if args.steps is not None else (2 if tiny else 16)
    rounds = args.rounds if args.rounds is not None else (1 if tiny else 3)
    device = torch.device(args.device)
    if device.type == "cuda":  # NVlabs' training_loop.py settings (TF32 with --tf32), for both sides
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
    nv = import_nvlabs(args.nvlabs.resolve()) if args.nvlabs is not None else None

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    base = Setting(resolution=resolutions[0], **(TINY if tiny else {}))
    if args.batch is not None:
        base = replace(base, batch=args.batch)
    if args.fp32:
        base = replace(base, num_fp16_res=0, conv_clamp=None)
    print(
        f"torch {torch.__version__}, {device} ({name}), batch {base.batch}, z/w {base.w_dim}, "
        f"channel_base {base.channel_base}, channel_max {base.channel_max}, num_fp16_res {base.num_fp16_res}, "
        f"conv_clamp {base.conv_clamp}, TF32 {args.tf32 and device.type == 'cuda'}, PL every {base.pl_interval}, R1 every {base.r1_interval}; "
        f"{warmup} warm-up steps, {rounds} x {steps} timed steps per side"
    )
    if tiny:
        print("tiny mode: a smoke run; these figures are not a measure of performance")
    print(f"NVlabs: {args.nvlabs}" if nv is not None else "NVlabs: not given")
    refused = False
    rows = []
    for resolution in resolutions:
        setting = replace(base, resolution=resolution)
        reals = torch.randint(
            0, 256, (setting.batch, 3, resolution, resolution), dtype=torch.uint8,
            generator=torch.Generator().manual_seed(args.seed),
        ).to(device)  # fmt: skip
        sides, params = {}, {}
        sides["genomekit"], params["genomekit"] = genomekit_side(setting, device, args.seed)
        if nv is not None:
            sides["NVlabs"], params["NVlabs"] = nvlabs_side(nv, setting, device, args.seed)
        if nv is not None and params["genomekit"] != params["NVlabs"]:
            refused = True
            print(
                f"{resolution} px: parameter counts differ (genomekit G {params['genomekit']['G']:,} D "
                f"{params['genomekit']['D']:,}; NVlabs G {params['NVlabs']['G']:,} D {params['NVlabs']['D']:,}): "
                "not the same architecture, no ratio"
            )
            continue
        print(f"{resolution} px: G {params['genomekit']['G']:,} and D {params['genomekit']['D']:,} parameters", end="")
        print(" on both sides" if nv is not None else " (genomekit)")
        rates = measure(sides, reals, warmup, steps, rounds, device)
        if nv is not None:
            print(f"{resolution} px: NVlabs ran with {nvlabs_ops(nv, device)}")
        rows.append((resolution, rates))
        del sides
        if device.type == "cuda":
            torch.cuda.empty_cache()

    print(f"{'resolution':>10} {'genomekit img/s':>16} {'NVlabs img/s':>13} {'genomekit/NVlabs':>17}")
    for resolution, rates in rows:
        if "NVlabs" in rates:
            ratio = f"{rates['genomekit'] / rates['NVlabs']:.2f}x"
            print(f"{resolution:>10} {rates['genomekit']:>16.1f} {rates['NVlabs']:>13.1f} {ratio:>17}")
        else:
            print(f"{resolution:>10} {rates['genomekit']:>16.1f} {'-':>13} {'-':>17}")
    if refused:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
