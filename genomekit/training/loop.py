"""The StyleGAN2 training loop for Genome and mapping-network generators.

One iteration, for a (per-process) batch of B real images:
  1. G step: sample codes (gene sequences or z), mix two codes at a random layer with probability
     ``style_mixing``, synthesise with random noise, non-saturating logistic loss through D; every
     ``pl_interval`` steps add the path-length penalty (scaled by the interval, lazy regularisation).
  2. D step: logistic loss on the G step's fakes (detached, reused to save a synthesis pass) and on the
     reals; every ``r1_interval`` steps add the R1 penalty on the reals (scaled by the interval).
  3. Update G_ema with StyleGAN2's half-life schedule (``ema_kimg`` with ramp-up).
All randomness comes from one ``torch.Generator`` saved in checkpoints, and the data order is a pure
function of (seed, step), so a resumed run reproduces an uninterrupted one exactly.

Precision (``config.precision``, see ``genomekit.precision``): ``bf16`` and ``fp16`` autocast the
synthesis and discriminator passes; the latents, the losses (on float32 logits), R1 and path length
stay float32. ``fp16`` adds a ``torch.amp.GradScaler`` per optimiser: the loss is scaled before the
backward pass, and a step whose gradients hold an inf or NaN is skipped and the scale lowered. The
step's losses stay tensors on the device and become numbers only when logged, so a CUDA step does not
wait for the device (except for the NaN checks).

Compiling (``train(compile_networks=True)``, ``--compile``; see ``genomekit.compile``): G's synthesis and
D's forward passes run through ``torch.compile``, with the synthesis noise drawn up front
(``draw_noise``, the same numbers as drawing it inside). The passes that are differentiated twice, R1
and path length, always run on the eager modules. The compiled wrappers share the modules' parameters,
so checkpoints, the EMA and the optimisers are unaffected.

Multi-process (torchrun): each rank trains on its own slice of every global batch and of the step's
latent codes (drawn for the whole batch from (seed, step)), with its own noise/augmentation generator
(seed + rank); gradients are averaged with all-reduce before each optimiser step. The data order is in
``training.data``, interrupts in ``training.interrupts``.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from genomekit.compile import CompiledModule, compile_module
from genomekit.data import open_dataset
from genomekit.distributed import Distributed, any_rank, broadcast_module
from genomekit.errors import UserError
from genomekit.fileio import atomic_path, write_json
from genomekit.images import save_grid
from genomekit.inference import render
from genomekit.networks import Discriminator, Generator
from genomekit.precision import autocast, check_precision
from genomekit.training.augment import augment, parse_policy
from genomekit.training.checkpoint import (
    TrainingState,
    checkpoint_metadata,
    load_initial_weights,
    load_training_state,
    save_inference_checkpoint,
    save_training_checkpoint,
)
from genomekit.training.config import RESUMABLE_FIELDS, TrainConfig
from genomekit.training.data import (  # noqa: F401
    _check_dataset,
    batch_indices,
    dataset_resolution,
    real_batches,
    to_device,
)
from genomekit.training.health import HealthMonitor
from genomekit.training.interrupts import TrainingInterrupted, _StepGuard

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.safetensors"


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def _generator_groups(G: Generator, config: TrainConfig) -> list:
    """G's parameters for Adam: one group, or, with ``genome_lr_mult`` != 1, the Genome's variants in a
    group of their own at ``g_lr * genome_lr_mult``; at 0 they are frozen (no gradient, not optimised)."""
    if config.genome_lr_mult == 1:  # always so for the mapping latent (TrainConfig refuses another value)
        return list(G.parameters())
    genes = G.latent.genes
    rest = [p for p in G.parameters() if p is not genes]
    if config.genome_lr_mult == 0:
        genes.requires_grad_(False)
        return rest
    return [{"params": rest}, {"params": [genes], "lr": config.g_lr * config.genome_lr_mult}]


def build_state(config: TrainConfig, device: torch.device, dist_info: Distributed) -> TrainingState:
    """Networks, optimisers and the code/noise generator, initialised from ``config.seed``.

    Initial weights come from the global RNG inside ``fork_rng``, so the caller's RNG is untouched
    and every rank builds identical networks.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        G = Generator(config.generator)
        D = Discriminator(config.discriminator)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    G, D, G_ema = (m.to(device=device, memory_format=torch.channels_last) for m in (G, D, G_ema))
    # The fused Adam kernel is ~5x faster than the default loop on CPU (bench: 2M parameters, 9 vs 47 ms).
    fused = device.type in ("cpu", "cuda")
    betas = (float(config.betas[0]), float(config.betas[1]))
    opt_G = torch.optim.Adam(_generator_groups(G, config), lr=config.g_lr, betas=betas, eps=1e-8, fused=fused)
    opt_D = torch.optim.Adam(D.parameters(), lr=config.d_lr, betas=betas, eps=1e-8, fused=fused)
    rng = torch.Generator(device=device).manual_seed(config.seed * 1000 + dist_info.rank)
    scalers = {}
    if config.precision == "fp16":  # float16 gradients underflow without loss scaling; bfloat16's range needs none
        scalers = {name: torch.amp.GradScaler(device.type) for name in ("G", "D")}
    return TrainingState(
        config=config.to_dict(), G=G, G_ema=G_ema, D=D, opt_G=opt_G, opt_D=opt_D, rng=rng, scalers=scalers
    )


# -- losses --------------------------------------------------------------------------------------


def _mixed_ws(
    G: Generator, batch: int, mixing: float, rng: torch.Generator, update_emas: bool, rows: slice | None = None
) -> Tensor:
    """Per-layer latents for a batch; with probability ``mixing`` a second code takes over from a random layer.

    For a Genome the two codes are two gene sequences; for the baseline two Gaussian z. Everything is
    drawn for the whole ``batch`` and ``rows`` (this process's share of it; default all) are kept, so
    several processes together train on exactly the latents one process would draw.
    """
    rows = slice(None) if rows is None else rows
    device = rng.device
    ws = G.mapping(G.sample_codes(batch, rng)[rows], update_emas=update_emas)  # (b, L, w_dim)
    if mixing > 0:
        mix = (torch.rand(batch, generator=rng, device=device) < mixing)[rows]  # (b,)
        cutoff = torch.randint(1, ws.shape[1], (batch,), generator=rng, device=device)[rows]  # (b,)
        cutoff = torch.where(mix, cutoff, torch.full_like(cutoff, ws.shape[1])).to(ws.device)
        ws2 = G.mapping(G.sample_codes(batch, rng)[rows], update_emas=False)
        layer = torch.arange(ws.shape[1], device=ws.device).reshape(1, -1)  # (1, L)
        ws = torch.where((layer >= cutoff.reshape(-1, 1)).unsqueeze(2), ws2, ws)
    return ws


def latent_generator(seed: int, step: int, device: torch.device | str) -> torch.Generator:
    """The generator of a step's latent codes: a function of (seed, step), the same on every rank."""
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step * 7_919 + 1) % (1 << 63))


def _average_gradients(module: torch.nn.Module, world_size: int) -> None:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if world_size == 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].reshape(g.shape))
        offset += g.numel()


def _check_in_sync(state: TrainingState, dist_info: Distributed) -> None:
    """All ranks must hold identical weights (same init, averaged gradients); a cheap checksum proves it."""
    checksum = torch.stack([p.detach().double().sum() for p in [*state.G.parameters(), *state.D.parameters()]])
    gathered = [torch.empty_like(checksum) for _ in range(dist_info.world_size)]
    dist.all_gather(gathered, checksum)
    if any(not torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError("training processes hold different weights; gradient averaging is broken")


def _finite(name: str, value: Tensor, step: int, dist_info: Distributed | None = None) -> None:
    """Stop on a NaN or infinite ``value``; with several processes every rank stops, with one message.

    The flag is all-reduced before anyone raises, so no rank is left waiting in the next collective.
    """
    bad = not bool(torch.isfinite(value).all())
    if dist_info is not None and dist_info.multi:
        bad = any_rank(bad, dist_info, value.device)
        where = " on at least one of the processes"
    else:
        where = f" ({value.item()})" if bad else ""  # read only when it is reported
    if bad:
        raise TrainingDiverged(
            f"{name} became NaN or infinite at step {step}{where}; training stopped and the last good "
            "checkpoint was kept. Start a new run with lower learning rates (g_lr, d_lr) or a higher r1_gamma."
        )


def path_length_penalty(
    G: Generator, batch: int, config: TrainConfig, rng: torch.Generator, pl_mean: Tensor
) -> tuple[Tensor, Tensor]:
    """StyleGAN2's path-length penalty and the updated running mean, as NVlabs' ``StyleGAN2Loss`` computes them.

    The Jacobian-vector product is taken with respect to the latent source's output ``ws`` (not a detached
    copy), so the penalty's gradient reaches the Genome or the mapping network too; the running mean is
    lerped towards this batch's mean length and the penalty uses that undetached update.

    Args:
        batch: samples (the caller halves the batch: NVlabs' ``pl_batch_shrink`` 2).
        pl_mean: 0-dim running mean path length.
    Returns:
        penalty (0-dim, differentiable) and the new running mean (0-dim, detached).
    """
    device = next(G.parameters()).device
    ws = _mixed_ws(G, batch, config.style_mixing, rng, update_emas=False)  # (B, L, w_dim)
    if not ws.requires_grad:  # a frozen Genome (genome_lr_mult 0): the penalty trains the synthesis alone
        ws = ws.requires_grad_(True)
    images = G.synthesis(ws, noise_mode="random", generator=rng)
    noise = torch.randn(images.shape, generator=rng, device=rng.device).to(device) / images.shape[2]
    (grads,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    lengths = grads.square().sum(2).mean(1).sqrt()  # (B,)
    mean = pl_mean.to(device).lerp(lengths.mean(), config.pl_decay)
    return (lengths - mean).square().mean(), mean.detach()


def _backward_and_step(
    loss: Tensor,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    world_size: int,
) -> None:
    """Gradients of ``loss``, averaged over the processes, and one optimiser step (through ``scaler``, if any).

    With a scaler the averaged gradients are the scaled ones: averaging commutes with the scale, and an
    inf on one rank reaches every rank through the all-reduce, so all of them skip the same steps.
    """
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        _average_gradients(module, world_size)
        optimizer.step()
        return
    scaler.scale(loss).backward()
    _average_gradients(module, world_size)
    scaler.step(optimizer)  # skipped when a gradient is inf or NaN (the fused Adam checks on the device)
    scaler.update()


Forwards = tuple[torch.nn.Module | CompiledModule, torch.nn.Module | CompiledModule]  # (G.synthesis, D) to call


def train_step(
    state: TrainingState,
    config: TrainConfig,
    reals_uint8: Tensor,
    dist_info: Distributed,
    compiled: Forwards | None = None,
) -> dict[str, Tensor]:
    """One G step, one D step and the EMA update; returns the losses of this step.

    The losses are detached 0-dim tensors on the training device (float32), so that the step never waits
    for the device to report a number; ``float()`` them when they are shown.

    Args:
        reals_uint8: (B/world, C, H, W) uint8 real images of this rank, on any device (pinned host
            memory from ``real_batches`` on CUDA, copied without blocking).
        compiled: what to call for ``state.G.synthesis`` and ``state.D`` in the passes that are
            differentiated once (``compile_module``'s wrappers, or the modules themselves); None = the
            modules. R1 and path length always call the eager modules.
    """
    G, D, G_ema, rng = state.G, state.D, state.G_ema, state.rng
    synthesis, D_forward = compiled if compiled is not None else (G.synthesis, D)
    policy = parse_policy(config.augment)
    device = next(G.parameters()).device
    precision = config.precision
    reals = to_device(reals_uint8, device).to(torch.float32) / 127.5 - 1  # moved as uint8: a quarter of the bytes
    reals = reals.contiguous(memory_format=torch.channels_last)  # (B, C, H, W)
    batch = reals.shape[0]
    stats: dict[str, Tensor] = {}

    # 1. Generator: non-saturating loss, lazy path-length regularisation. The codes of the global
    #    batch come from (seed, step), this rank keeps its rows; noise and augmentation use its own rng.
    #    The latents are float32; synthesis and D run under the precision's autocast. The noise maps are
    #    drawn before the synthesis pass (the numbers it would draw itself), so that a compiled pass
    #    takes them as inputs.
    D.requires_grad_(False)
    codes_rng = latent_generator(config.seed, state.step, rng.device)
    rows = slice(dist_info.rank * batch, (dist_info.rank + 1) * batch)
    ws = _mixed_ws(G, batch * dist_info.world_size, config.style_mixing, codes_rng, update_emas=True, rows=rows)
    noise = G.synthesis.draw_noise(ws.shape[0], rng, device)  # (B, 1, R, R) per convolution
    with autocast(precision, device):
        fakes = synthesis(ws, noise_mode="random", noise=noise)
        logits_gen = D_forward(augment(fakes, policy, rng))
    loss_G = F.softplus(-logits_gen.float()).mean()
    _finite("generator loss", loss_G, state.step, dist_info)
    stats["loss_G"] = loss_G.detach()
    total_G = loss_G
    if config.pl_weight > 0 and state.step % config.pl_interval == 0:
        # Path length in float32, outside autocast: it differentiates the images with respect to ws and
        # then differentiates the length of that gradient again (double backward). The gradient is small
        # (the images are projected on noise scaled by 1/resolution) and is squared, which float16
        # underflows and bfloat16 (3 digits) makes noisy; the running mean it is compared with needs more
        # digits than bfloat16 has. It runs every pl_interval steps on half the batch: float32 costs little.
        # Eager G: a compiled backward cannot be differentiated again.
        penalty, state.pl_mean = path_length_penalty(G, max(1, batch // 2), config, rng, state.pl_mean)
        stats["pl_penalty"] = penalty.detach()
        total_G = total_G + penalty * config.pl_weight * config.pl_interval
    _backward_and_step(total_G, G, state.opt_G, state.scalers.get("G"), dist_info.world_size)
    D.requires_grad_(True)

    # 2. Discriminator: logistic loss on reused fakes and reals, lazy R1 on the reals.
    do_r1 = state.step % config.r1_interval == 0
    reals_in = reals.detach().requires_grad_(do_r1)
    reals_aug = augment(reals_in, policy, rng)
    # In fp32 an R1 step's real pass is R1's pass too (its pixel gradients are differentiated again), so it
    # runs on the eager D; under autocast R1 takes its own float32 pass (below) and this one needs no
    # pixel gradients.
    real_forward = D if do_r1 and precision == "fp32" else D_forward
    with autocast(precision, device):
        logits_real = real_forward(reals_aug if precision == "fp32" else reals_aug.detach())
        logits_fake = D_forward(augment(fakes.detach(), policy, rng))
    logits_real, logits_fake = logits_real.float(), logits_fake.float()
    loss_D = F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()
    _finite("discriminator loss", loss_D, state.step, dist_info)
    stats["loss_D"] = loss_D.detach()
    stats["score_real"] = logits_real.detach().mean()
    stats["score_fake"] = logits_fake.detach().mean()
    total_D = loss_D
    if do_r1:
        # R1 in float32, outside autocast: the gradient of D's logits with respect to the pixels is
        # differentiated again (double backward). Those pixel gradients are small and are squared, so in
        # float16 they underflow and in bfloat16 the penalty is noisy. In fp32 the loss pass above serves;
        # otherwise D runs once more on the same augmented reals, every r1_interval steps only. Eager D
        # either way: a compiled backward cannot be differentiated again.
        logits_r1 = logits_real if precision == "fp32" else D(reals_aug)
        (r1_grads,) = torch.autograd.grad(logits_r1.sum(), reals_in, create_graph=True)
        r1 = r1_grads.square().sum(dim=(1, 2, 3)).mean()
        _finite("R1 penalty", r1, state.step, dist_info)
        stats["r1_penalty"] = r1.detach()
        total_D = total_D + r1 * (config.resolved_r1_gamma / 2) * config.r1_interval
    _backward_and_step(total_D, D, state.opt_D, state.scalers.get("D"), dist_info.world_size)

    # 3. EMA of the generator weights with ramp-up.
    state.nimg += batch * dist_info.world_size
    state.step += 1
    ema_nimg = config.resolved_ema_kimg * 1000
    if config.ema_rampup is not None:
        ema_nimg = min(ema_nimg, state.nimg * config.ema_rampup)
    beta = 0.5 ** (batch * dist_info.world_size / max(ema_nimg, 1e-8))
    with torch.no_grad():
        for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
            b_ema.copy_(b)
    return stats


# -- snapshots -----------------------------------------------------------------------------------


GRID_BATCH = 32  # codes per forward pass of a snapshot grid


def grid_codes(G: Generator, config: TrainConfig) -> Tensor:
    """The fixed codes of every snapshot grid, from ``grid_seed``."""
    return G.sample_codes(config.grid_size**2, torch.Generator().manual_seed(config.grid_seed))


def _append_metrics(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()


def _truncate_metrics(path: Path, nimg: int) -> None:
    """On resume, drop metric rows written after the checkpoint (they will be produced again)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
        if row.get("nimg", 0) <= nimg:
            keep.append(line)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in keep))


# -- the run -------------------------------------------------------------------------------------


def _format_eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def run_config(out: str | Path) -> TrainConfig:
    """The config of the run in ``out``, as its checkpoint holds it (the one a resume continues from).

    Raises:
        UserError: ``out`` holds no checkpoint.
        CheckpointError: the checkpoint is unreadable.
    """
    ckpt_path = Path(out) / CHECKPOINT_NAME
    if not ckpt_path.is_file():
        raise UserError(f"nothing to resume: {ckpt_path} does not exist")
    return TrainConfig.from_dict(checkpoint_metadata(ckpt_path)["config"])


def train(
    config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    device: str | torch.device = "cpu",
    dist_info: Distributed | None = None,
    workers: int | None = None,
    compile_networks: bool = False,
    log_interval_s: float = 10.0,
    max_steps: int | None = None,
    init_from: str | Path | None = None,
    stop: threading.Event | None = None,
    health: HealthMonitor | None = None,
    keep_snapshots: bool = False,
) -> Path:
    """Train (or resume) a run in ``out``; returns the path of the final checkpoint.

    Interrupting never loses more than the step in progress: when ``stop`` is set, the step in progress
    is finished; on KeyboardInterrupt (Ctrl-C without a handler, or a second one) it is undone. Either
    way the checkpoint of that step boundary is written (atomically, by rank 0) and TrainingInterrupted
    is raised; resuming from it gives the same weights as a run that was never interrupted.

    Args:
        config: the run's configuration. On resume, the run's saved config is used except for the
            ``RESUMABLE_FIELDS``, which come from ``config``: build it with
            ``resume_config(run_config(out), requested, given)`` so that fields the user did not give
            keep the run's values.
        out: run directory: config.json, checkpoint.safetensors, grids/, metrics.jsonl.
        resume: continue from ``out/checkpoint.safetensors``.
        device: torch device.
        dist_info: rank and world size when launched by torchrun (process group already initialised).
        workers: DataLoader worker processes for decoding images; None = ``auto_workers(device)``
            (``min(4, CPUs - 1)`` on CUDA, 0 on the CPU). The batches do not depend on it.
        compile_networks: run G's synthesis and D's forward passes through ``torch.compile``
            (``genomekit.compile``; R1 and path length stay eager). The first steps are slow while it
            compiles; where it cannot run, a warning and eager passes. Not part of the run's config: a
            run may be resumed with or without it.
        log_interval_s: seconds between progress lines.
        max_steps: stop after this many steps in this call (tests; the schedule still follows the config).
        init_from: a checkpoint whose G_ema and D start a new run (a fine-tune); ignored on resume.
        stop: checked between steps; once set (e.g. by a SIGINT handler), training checkpoints and stops.
            With several processes all of them stop at the same step as soon as one sees it set.
        health: adds the run's health (genome shares, FD on classifier features, frequency gap,
            diversity: ``genomekit.training.health``) to every snapshot's metrics row (rank 0).
        keep_snapshots: also keep every snapshot's generator and D as a compact float16 inference
            checkpoint, ``snapshots/network-NNNNNNNNN.safetensors`` (NNN: images shown).

    Raises:
        TrainingInterrupted: stopped by ``stop`` or KeyboardInterrupt, after writing the checkpoint.
        TrainingDiverged: a loss became NaN or infinite (the last snapshot's checkpoint is kept).
        UserError: bad data, nothing to resume, or a run already in ``out`` without ``resume``.
    """
    dist_info = dist_info or Distributed()
    out = Path(out)
    device = torch.device(device)
    ckpt_path = out / CHECKPOINT_NAME
    if resume:
        saved = run_config(out)
        config = saved.replace(**{name: getattr(config, name) for name in RESUMABLE_FIELDS})
        changes = [
            f"{name} {getattr(saved, name)} -> {getattr(config, name)}"
            for name in sorted(RESUMABLE_FIELDS)
            if getattr(saved, name) != getattr(config, name)
        ]
        if dist_info.is_main and changes:
            logger.info("resuming with %s", ", ".join(changes))
    elif ckpt_path.exists():
        raise UserError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
    check_precision(config.precision, device)  # fp16 needs CUDA (a resumed fp16 run too)

    # 1. Data and networks.
    dataset = open_dataset(config.data, resolution=config.generator.resolution)
    _check_dataset(dataset, config, dist_info)
    state = build_state(config, device, dist_info)
    if init_from is not None and not resume:
        load_initial_weights(init_from, state)
    if not resume:  # the same start on every rank, whatever each one's device did with the seed
        for module in (state.G, state.G_ema, state.D):
            broadcast_module(module, dist_info)
    if resume:
        load_training_state(ckpt_path, state)
        if dist_info.world_size > 1:  # rank-specific generators were saved by rank 0 only
            state.rng.manual_seed(config.seed * 1000 + dist_info.rank + state.step * 7919)
    compiled = (compile_module(state.G.synthesis, compile_networks), compile_module(state.D, compile_networks))
    metrics_path = out / "metrics.jsonl"
    codes = grid_codes(state.G_ema, config)
    if dist_info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", config.to_dict())
        if health is not None:
            health.prepare(dataset, out)
        if resume:
            _truncate_metrics(metrics_path, state.nimg)
        else:
            reals = torch.stack([dataset[i] for i in range(min(len(dataset), config.grid_size**2))])
            save_grid(reals.float() / 127.5 - 1, out / "grids" / "reals.png", config.grid_size)
            save_grid(render(state.G_ema, codes, GRID_BATCH), out / "grids" / f"fakes-{0:09d}.png", config.grid_size)
        logger.info(
            "%s %s: G %.2fM params (latent %s), D %.2fM params, %d images at %d px, batch %d on %s",
            "resuming" if resume else "training",
            out,
            sum(p.numel() for p in state.G.parameters()) / 1e6,
            config.generator.latent,
            sum(p.numel() for p in state.D.parameters()) / 1e6,
            len(dataset),
            dataset.resolution,
            config.batch_size,
            device,
        )

    # 2. The loop. An iteration is a step and, on the snapshot grid, its snapshot; ``in_step`` marks
    #    that the state may be half-way through one, so an interrupt must roll it back first.
    total_nimg = int(config.total_kimg * 1000)
    snapshot_nimg = max(1, int(config.snapshot_kimg * 1000))
    batches = real_batches(dataset, config, state.step, dist_info, workers, device)
    next_snapshot = (state.nimg // snapshot_nimg + 1) * snapshot_nimg
    start_time = last_log = time.perf_counter()
    start_nimg = state.nimg
    steps_this_call = 0
    guard, scaler_guard = _StepGuard(state), _ScalerGuard(state)
    in_step = requested = killed = False
    try:
        while state.nimg < total_nimg and (max_steps is None or steps_this_call < max_steps):
            requested = _stop_requested(stop, dist_info, device)
            if requested:
                break
            guard.save()
            scaler_guard.save()
            in_step = True
            step_stats = train_step(state, config, next(batches), dist_info, compiled)
            steps_this_call += 1
            state.metric_count += 1
            for k, v in step_stats.items():  # float64 sums on the device, as Python's floats summed them
                state.metric_sums[k] = state.metric_sums.get(k, 0.0) + v.double()
            now = time.perf_counter()
            done = state.nimg >= total_nimg
            if dist_info.is_main and (now - last_log >= log_interval_s or done):
                rate = (state.nimg - start_nimg) / max(now - start_time, 1e-9)
                logger.info(
                    "kimg %.2f/%g  %.0f img/s  %.1f sec/kimg  G %.3f  D %.3f  ETA %s",
                    state.nimg / 1000,
                    config.total_kimg,
                    rate,
                    1000 / max(rate, 1e-9),
                    float(step_stats["loss_G"]),  # the only host syncs of a logged step
                    float(step_stats["loss_D"]),
                    _format_eta((total_nimg - state.nimg) / max(rate, 1e-9)),
                )
                last_log = now
            if state.nimg >= next_snapshot or done:
                next_snapshot = (state.nimg // snapshot_nimg + 1) * snapshot_nimg
                elapsed = now - start_time
                row = {
                    "kimg": state.nimg / 1000,
                    "nimg": state.nimg,
                    "step": state.step,
                    **{k: float(v) / state.metric_count for k, v in state.metric_sums.items()},
                    "img_per_s": (state.nimg - start_nimg) / max(elapsed, 1e-9),
                    "sec_per_kimg": elapsed * 1000 / max(state.nimg - start_nimg, 1),
                    "time": time.time(),
                }
                state.metric_sums, state.metric_count = {}, 0
                if dist_info.is_main:
                    # Metrics and grid first, checkpoint last: after a kill, every row up to the checkpoint
                    # exists, and rows past it are dropped on resume and written again.
                    if health is not None:
                        row.update(health(state.G_ema))
                    _append_metrics(metrics_path, row)
                    if keep_snapshots:
                        snapshot = out / "snapshots" / f"network-{state.nimg:09d}.safetensors"
                        snapshot.parent.mkdir(exist_ok=True)
                        save_inference_checkpoint(snapshot, state.G_ema, state.D, half=True)
                    grid = render(state.G_ema, codes, GRID_BATCH)
                    save_grid(grid, out / "grids" / f"fakes-{state.nimg:09d}.png", config.grid_size)
                    save_training_checkpoint(ckpt_path, state)
                if dist_info.world_size > 1:
                    _check_in_sync(state, dist_info)
            in_step = False
    except KeyboardInterrupt:
        if in_step:
            guard.restore()
            scaler_guard.restore()
        killed = True
    if requested or killed:
        _save_interrupted(ckpt_path, state, dist_info, synchronise=requested)
    if dist_info.is_main and steps_this_call and not ckpt_path.exists():
        save_training_checkpoint(ckpt_path, state)
    if dist_info.multi:  # every rank returns once the final checkpoint exists
        dist.barrier()
    return ckpt_path


class _ScalerGuard:
    """The fp16 loss scalers' scale and growth tracker at the start of a step, for ``_StepGuard``'s rollback.

    Copied on the device (``clone``, no host sync), from GradScaler's own tensors: its ``state_dict``
    would read them to the host every step. Nothing to do without scalers (fp32, bf16).
    """

    def __init__(self, state: TrainingState) -> None:
        self.state = state
        self._saved: dict[str, tuple[Tensor, Tensor] | None] = {}

    def save(self) -> None:
        self._saved = {
            name: None if scaler._scale is None else (scaler._scale.clone(), scaler._growth_tracker.clone())
            for name, scaler in self.state.scalers.items()
        }

    def restore(self) -> None:
        for name, saved in self._saved.items():
            scaler = self.state.scalers[name]
            if saved is None:  # not used yet when the step began: as new
                scaler._scale = scaler._growth_tracker = None
            else:
                scaler._scale.copy_(saved[0])
                scaler._growth_tracker.copy_(saved[1])
            scaler._per_optimizer_states.clear()  # a step cut between scaler.step and scaler.update


def _stop_requested(stop: threading.Event | None, dist_info: Distributed, device: torch.device) -> bool:
    """Whether to stop before the next step: ``stop`` is set here or, with several processes, on any rank."""
    return any_rank(stop is not None and stop.is_set(), dist_info, device)


def _save_interrupted(ckpt_path: Path, state: TrainingState, dist_info: Distributed, synchronise: bool) -> None:
    """Write the checkpoint of an interrupted run (rank 0) and raise TrainingInterrupted on every rank.

    After a requested stop every rank is at the same step, so the others wait until the checkpoint exists;
    after a KeyboardInterrupt the ranks may be anywhere and nobody waits.
    """
    try:
        if dist_info.is_main:
            save_training_checkpoint(ckpt_path, state)
            logger.info(
                "interrupted at %g kimg (step %d); checkpoint saved to %s", state.nimg / 1000, state.step, ckpt_path
            )
    finally:
        if synchronise and dist_info.world_size > 1:
            dist.barrier()
    raise TrainingInterrupted(ckpt_path, state.nimg)
