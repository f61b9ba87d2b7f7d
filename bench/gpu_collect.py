"""collect-stats throughput (samples/s) vs bare forward passes at 256 px, with achieved TFLOP/s, side by side.

The models are those of a full-size run (random weights: the speed of a forward pass does not depend
on them): a Genome generator (64 genes x 256 variants x 8, so w 512) on StyleGAN2's synthesis network
at 256 px, channel_base 32768, channel_max 512 (config F); the residual discriminator of the same size;
and 40 classifiers of StyleGAN's CelebA-HQ architecture (``classifiers.celebahq``, 256-px input, one
network per CelebA attribute). Three paths over the same gene sequences (chunks drawn as collect-stats
draws them), alternated ``--repeats`` times, best time of each kept:

1. bare: the forward passes alone, G -> classifiers -> D on every batch, codes already on the device;
2. score_chunk: ``genomekit.stats.collect.score_chunk``, the library's scoring loop (pinned codes copied
   per batch, minibatch-stddev grouping for D, one copy of the scores to the host per chunk);
3. collect_stats: the whole pipeline into a temporary directory (adds Parquet shards, checksums, the
   streamed totals and the manifest; its writer thread overlaps the next chunk).

The work per sample is counted once with ``torch.utils.flop_counter.FlopCounterMode`` (matrix products
and convolutions; counted on one minibatch-stddev group and divided by its size), so each path's
samples/s gives its achieved TFLOP/s and the fraction of ``--peak-tflops`` (default 989: H100 SXM dense
bf16; give your accelerator's figure for the precision you run).

    .venv/bin/python bench/gpu_collect.py --precision bf16                 # CUDA, 256 px
    .venv/bin/python bench/gpu_collect.py --tiny --device cpu              # seconds; not a benchmark
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import genomekit.precision  # noqa: E402
from classifiers import CelebAHQClassifierSet, CelebAHQConfig, CelebAHQNetwork  # noqa: E402
from classifiers.celebahq import CELEBAHQ_CLASSIFIERS  # noqa: E402
from genomekit.networks import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig  # noqa: E402
from genomekit.precision import autocast  # noqa: E402
from genomekit.stats import store  # noqa: E402
from genomekit.stats.collect import (  # noqa: E402
    CollectConfig,
    chunk_sequences,
    collect_stats,
    mbstd_group_size,
    score_chunk,
)

H100_SXM_BF16_DENSE_TFLOPS = 989.0


@dataclass(frozen=True, kw_only=True)
class Setting:
    resolution: int = 256  # generator output = discriminator and classifier input
    num_genes: int = 64  # G
    num_variants: int = 256  # V
    gene_length: int = 8  # D; w_dim = G * D
    channel_base: int = 32768  # generator and discriminator
    channel_max: int = 512
    num_fp16_res: int = 0  # generator and discriminator float16 blocks on CUDA (a NVlabs-style run: 4)
    conv_clamp: float | None = None  # with num_fp16_res, NVlabs uses 256
    classifier: CelebAHQConfig = CelebAHQConfig()  # StyleGAN's CelebA-HQ classifier, 256 px
    num_attributes: int = 40  # one classifier network each
    samples: int = 2048  # N per measurement
    batch: int = 256  # images per forward pass
    chunk_size: int = 1024  # samples per chunk (= per Parquet shard)


TINY = dict(
    resolution=16,
    num_genes=4,
    num_variants=16,
    channel_base=256,
    channel_max=32,
    classifier=CelebAHQConfig(resolution=16, fmap_base=64, fmap_max=16),
    samples=64,
    batch=16,
    chunk_size=32,
)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def configure_like_the_cli(device: torch.device, precision: str) -> None:
    """The backend flags ``genomekit collect-stats`` sets: exact float32 for fp32 (no TF32, no cuDNN
    autotuning), fast otherwise (``genomekit.precision.configure_backends``, where this genomekit has it)."""
    configure = getattr(genomekit.precision, "configure_backends", None)
    if configure is not None:
        configure(device, exact=precision == "fp32")


def build_models(s: Setting, device: torch.device, seed: int) -> dict:
    """Untrained G (Genome latent), classifier set and D, in eval mode on ``device``, as collect-stats gets them."""
    names = [name for _, name in CELEBAHQ_CLASSIFIERS[: s.num_attributes]]
    networks = dict(
        resolution=s.resolution,
        channel_base=s.channel_base,
        channel_max=s.channel_max,
        num_fp16_res=s.num_fp16_res,
        conv_clamp=s.conv_clamp,
    )
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.device(device):
        torch.manual_seed(seed)  # built on the device: 40 full-size classifiers initialise fast there
        G = Generator(
            GeneratorConfig(
                latent="genome",
                num_genes=s.num_genes,
                num_variants=s.num_variants,
                gene_length=s.gene_length,
                **networks,
            )
        )
        D = Discriminator(DiscriminatorConfig(**networks))
        C = CelebAHQClassifierSet(names, [CelebAHQNetwork(s.classifier) for _ in names])
    return dict(
        generator=G.eval().requires_grad_(False).to(device),
        classifiers=C.eval().requires_grad_(False).to(device),
        discriminator=D.eval().requires_grad_(False).to(device),
    )


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.inference_mode()
def flops_per_sample(models: dict, device: torch.device, seed: int) -> dict[str, float]:
    """FLOPs of one sample in G, the classifier set and D (one minibatch-stddev group, divided by its size)."""
    G, C, D = models["generator"], models["classifiers"], models["discriminator"]
    group = mbstd_group_size(D)
    codes = chunk_sequences(G.latent, seed, 0, group, group).to(device)  # (group, G)
    flops = {}
    with FlopCounterMode(display=False) as counter:
        images = G(codes, truncation_psi=1.0, noise_mode="const")
    flops["G"] = counter.get_total_flops() / group
    with FlopCounterMode(display=False) as counter:
        C(images.clamp(-1, 1))
    flops["classifiers"] = counter.get_total_flops() / group
    with FlopCounterMode(display=False) as counter:
        D(images)
    flops["D"] = counter.get_total_flops() / group
    return flops


def chunks_of(models: dict, s: Setting, seed: int) -> list[torch.Tensor]:
    """The gene sequences (rows, G) of every chunk, as collect-stats draws them (CPU)."""
    genome = models["generator"].latent
    return [
        chunk_sequences(genome, seed, c, s.chunk_size, store.expected_rows(c, s.samples, s.chunk_size))
        for c in range(store.num_chunks(s.samples, s.chunk_size))
    ]


@torch.inference_mode()
def bare(models: dict, chunks: list[torch.Tensor], s: Setting, device: torch.device, precision: str) -> float:
    """Seconds for the forward passes alone, G -> classifiers -> D, codes already on the device."""
    G, C, D = models["generator"], models["classifiers"], models["discriminator"]
    batch = -(-s.batch // mbstd_group_size(D)) * mbstd_group_size(D)
    on_device = [sequences.to(device) for sequences in chunks]
    synchronize(device)
    start = time.perf_counter()
    for sequences in on_device:
        for b in range(0, len(sequences), batch):
            with autocast(precision, device):
                images = G(sequences[b : b + batch], truncation_psi=1.0, noise_mode="const")
                C(images.clamp(-1, 1))
                D(images)
    synchronize(device)
    return time.perf_counter() - start


def scoring(models: dict, chunks: list[torch.Tensor], s: Setting, device: torch.device, precision: str) -> float:
    """Seconds for ``score_chunk`` over every chunk, codes pinned on the host as collect-stats passes them."""
    pinned = [sequences.pin_memory() if device.type == "cuda" else sequences for sequences in chunks]
    synchronize(device)
    start = time.perf_counter()
    for sequences in pinned:
        score_chunk(sequences, **models, batch_size=s.batch, device=device, precision=precision)
    synchronize(device)
    return time.perf_counter() - start


def pipeline(models: dict, s: Setting, device: torch.device, precision: str, seed: int) -> float:
    """Seconds of ``collect_stats``' generation loop (its own clock) for ``s.samples`` into a fresh directory."""
    with tempfile.TemporaryDirectory() as tmp:
        config = CollectConfig(
            out=Path(tmp) / "stats",
            samples=s.samples,
            batch_size=s.batch,
            chunk_size=s.chunk_size,
            seed=seed,
            precision=precision,
        )
        result = collect_stats(config, **models, model_identity="bench", device=device, progress=False)
        assert result.complete and result.samples_generated == s.samples
        return result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--samples", type=int, default=None, help="per measurement; default 2048 (tiny: 64)")
    parser.add_argument("--batch", type=int, default=None, help="default 256 (tiny: 16)")
    parser.add_argument("--chunk-size", type=int, default=None, help="default 1024 (tiny: 32)")
    parser.add_argument("--repeats", type=int, default=None, help="alternations, best kept; default 2 (tiny: 1)")
    parser.add_argument("--fp16-res", type=int, default=0, help="G and D float16 blocks (NVlabs-style run: 4)")
    parser.add_argument("--peak-tflops", type=float, default=H100_SXM_BF16_DENSE_TFLOPS,
                        help="the accelerator's peak for this precision; default H100 SXM bf16 dense (989)")  # fmt: skip
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run: tiny networks, seconds; not a benchmark")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads; default torch's (tiny: 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads or args.tiny:  # one thread: tiny ops on a shared CPU run far faster without contention
        torch.set_num_threads(args.threads or 1)
    device = torch.device(args.device)
    s = Setting(**(TINY if args.tiny else {}))
    changes = dict(samples=args.samples, batch=args.batch, chunk_size=args.chunk_size)
    s = replace(s, **{k: v for k, v in changes.items() if v is not None})
    if args.fp16_res:
        s = replace(s, num_fp16_res=args.fp16_res, conv_clamp=256)
    repeats = args.repeats if args.repeats is not None else (1 if args.tiny else 2)

    configure_like_the_cli(device, args.precision)
    models = build_models(s, device, args.seed)
    G, C, D = models["generator"], models["classifiers"], models["discriminator"]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    flags = ""
    if device.type == "cuda":
        flags = (
            f", cudnn.benchmark {torch.backends.cudnn.benchmark}, TF32 matmul "
            f"{torch.backends.cuda.matmul.allow_tf32} conv {torch.backends.cudnn.allow_tf32}"
        )
    print(f"torch {torch.__version__}, {device} ({name}), precision {args.precision}{flags}")
    print(
        f"{s.resolution} px: G {count(G) / 1e6:.1f}M parameters (genome {s.num_genes} x {s.num_variants} x "
        f"{s.gene_length}, channel_base {s.channel_base}, channel_max {s.channel_max}, num_fp16_res {s.num_fp16_res}), "
        f"{C.num_attributes} CelebA-HQ classifiers {count(C) / 1e6:.1f}M, D {count(D) / 1e6:.1f}M; batch {s.batch}, "
        f"chunk {s.chunk_size}, {s.samples} samples per measurement, best of {repeats}"
    )
    if args.tiny:
        print("tiny mode: a smoke run; these figures are not a measure of performance")
    flops = flops_per_sample(models, device, args.seed)
    total = sum(flops.values())
    print(
        "FLOPs per sample: "
        + ", ".join(f"{part} {value / 1e9:.3g} G" for part, value in flops.items())
        + f", total {total / 1e9:.4g} GFLOP (FlopCounterMode)"
    )
    start = time.perf_counter()
    C.identity  # noqa: B018 (hashes every weight once, as collect-stats does before its loop; not timed)
    print(f"classifier-set identity hashed in {time.perf_counter() - start:.1f} s (once per run, not timed)")

    chunks = chunks_of(models, s, args.seed)
    warm = replace(s, samples=min(s.samples, 2 * s.batch), chunk_size=s.chunk_size)
    warm_chunks = chunks_of(models, warm, args.seed)
    bare(models, warm_chunks, warm, device, args.precision)  # warm-up: kernels, allocator, autotuning
    scoring(models, warm_chunks, warm, device, args.precision)
    paths: dict[str, Callable[[], float]] = {
        "bare G + classifiers + D": lambda: bare(models, chunks, s, device, args.precision),
        "score_chunk (library scoring loop)": lambda: scoring(models, chunks, s, device, args.precision),
        "collect_stats (full pipeline)": lambda: pipeline(models, s, device, args.precision, args.seed),
    }
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(repeats):
        for label, run in paths.items():
            best[label] = min(best[label], run())

    print(f"{'path':<36} {'seconds':>8} {'samples/s':>10} {'TFLOP/s':>8} {'of peak':>8} {'vs bare':>8}")
    reference = best["bare G + classifiers + D"]
    for label, seconds in best.items():
        rate = s.samples / seconds
        tflops = rate * total / 1e12
        ratio = f"{reference / seconds:.2f}x"
        print(f"{label:<36} {seconds:>8.3f} {rate:>10.1f} {tflops:>8.3f} {tflops / args.peak_tflops:>8.2%} {ratio:>8}")
    print(f"peak {args.peak_tflops:g} TFLOP/s (--peak-tflops); 'vs bare' = bare seconds / path seconds")


if __name__ == "__main__":
    main()
