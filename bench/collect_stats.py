"""Benchmark of `genomekit collect-stats`: pipeline vs bare forward passes, aggregation speed, memory.

Prints figures measured side by side in one run (issue "collect-stats", item 6):

1. Throughput: the full pipeline (sampling, generation, classifier + discriminator scoring, Parquet
   writing, checksums, accumulation, manifest) against the bare forward passes on the same batches of
   the same gene sequences, alternated ``--repeats`` times; the best time of each is kept. Two
   baselines: G + classifiers + D (every forward pass the pipeline must make) and G + classifiers.
2. Aggregation: the per-(gene, variant) totals of 500k samples x 64 genes x 40 attributes (+ realness)
   from scratch in memory, and recomputed from Parquet shards on disk.
3. Memory: peak RSS of the pipeline for N and 4N samples (a tiny model, in subprocesses).

Without --model/--classifiers it builds an untrained model of the lead's small 32-px configuration
(32 genes x 256 variants x 8, channel_base 1024, channel_max 128) and a 40-attribute multi-head
classifier at 32 px; the speed of a forward pass does not depend on the weights.

    .venv/bin/python bench/collect_stats.py                      # defaults: 8192 samples, batch 256
    .venv/bin/python bench/collect_stats.py --model run/checkpoint.safetensors --classifiers clf/
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CELEBA_40 = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()


def build_artefacts(root: Path, *, resolution: int, channel_base: int, channel_max: int, num_genes: int, num_variants: int,
                    attributes: tuple[str, ...], classifier_resolution: int, classifier_channels: tuple[int, ...]) -> tuple[Path, Path]:  # fmt: skip
    """An untrained checkpoint and classifier set (weights do not change the speed)."""
    from classifiers import MultiHeadClassifierSet, MultiHeadConfig, save_classifier_set
    from genomekit.networks import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
    from genomekit.training.checkpoint import TrainingState, save_training_checkpoint

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(GeneratorConfig(num_genes=num_genes, num_variants=num_variants, gene_length=8, resolution=resolution,
                                      channel_base=channel_base, channel_max=channel_max))  # fmt: skip
        D = Discriminator(
            DiscriminatorConfig(resolution=resolution, channel_base=channel_base, channel_max=channel_max)
        )
        C = MultiHeadClassifierSet(
            list(attributes), MultiHeadConfig(resolution=classifier_resolution, channels=classifier_channels)
        )
    state = TrainingState(config={}, G=G, G_ema=copy.deepcopy(G), D=D, opt_G=torch.optim.Adam(G.parameters()),
                          opt_D=torch.optim.Adam(D.parameters()), rng=torch.Generator())  # fmt: skip
    save_training_checkpoint(root / "model.safetensors", state)
    save_classifier_set(C, root / "classifiers")
    return root / "model.safetensors", root / "classifiers"


class Clock:
    """Wall time and this process's CPU time (all threads) since creation.

    On a machine shared with other jobs the wall time is noisy; with one torch thread the CPU time
    is the work done, so it is reported beside it.
    """

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def load(model: Path, classifiers: Path):
    from classifiers import load_classifier_set
    from genomekit.training.checkpoint import load_discriminator, load_generator, model_identity

    return dict(
        generator=load_generator(model),
        classifiers=load_classifier_set(classifiers),
        discriminator=load_discriminator(model),
        model_identity=model_identity(model),
    )


@torch.inference_mode()
def bare(models: dict, samples: int, batch: int, chunk_size: int, seed: int, with_discriminator: bool) -> float:
    """Seconds for the forward passes alone on the pipeline's batches (sequences drawn up front)."""
    from genomekit.stats import store
    from genomekit.stats.collect import chunk_sequences, mbstd_group_size

    G, C, D = models["generator"], models["classifiers"], models["discriminator"]
    batch = -(-batch // mbstd_group_size(D)) * mbstd_group_size(D)
    chunks = [
        chunk_sequences(G.latent, seed, c, chunk_size, store.expected_rows(c, samples, chunk_size))
        for c in range(store.num_chunks(samples, chunk_size))
    ]
    start = Clock()
    for sequences in chunks:
        for s in range(0, len(sequences), batch):
            images = G(sequences[s : s + batch], noise_mode="const")
            C(images.clamp(-1, 1))
            if with_discriminator:
                D(images)
    return start.elapsed()


def pipeline(models: dict, samples: int, batch: int, chunk_size: int, seed: int) -> float:
    from genomekit.stats.collect import CollectConfig, collect_stats

    with tempfile.TemporaryDirectory() as tmp:
        config = CollectConfig(
            out=Path(tmp) / "stats", samples=samples, batch_size=batch, chunk_size=chunk_size, seed=seed
        )
        start = Clock()
        collect_stats(config, **models, progress=False)
        return start.elapsed()


def aggregation(num_samples: int, num_genes: int, num_variants: int, num_attributes: int, chunk_size: int) -> dict:
    from genomekit.stats import store
    from genomekit.stats.store import RunIdentity, VariantTotals

    g = torch.Generator().manual_seed(0)
    genes = torch.randint(num_variants, (num_samples, num_genes), generator=g)
    scores = torch.rand(num_samples, num_attributes, generator=g)
    realness = torch.randn(num_samples, generator=g)
    times = []
    for _ in range(3):
        start = Clock()
        totals = VariantTotals.of_samples(genes, scores, realness, num_variants)
        times.append(start.elapsed())
    attributes = tuple(f"attr_{a:02d}" for a in range(num_attributes))
    identity = RunIdentity(model="bench", classifiers="bench", attributes=attributes,
                           genome_shape=(num_genes, num_variants, 8), seed=0, chunk_size=chunk_size)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        manifest = store.new_manifest(identity, num_samples)
        for c in range(store.num_chunks(num_samples, chunk_size)):
            rows = slice(c * chunk_size, (c + 1) * chunk_size)
            manifest["shards"].append(
                store.write_shard(out, c, c * chunk_size, genes[rows], scores[rows], realness[rows], attributes)
            )
        start = Clock()
        recomputed = store.recompute_sums_from_shards(out, manifest)
        from_shards = start.elapsed()
        shard_bytes = sum(e["bytes"] for e in manifest["shards"])
    torch.testing.assert_close(recomputed.sums, totals.sums)
    return dict(in_memory=min(times), from_shards=from_shards, shard_mb=shard_bytes / 1e6)


def memory_probe(samples: int) -> None:
    """Child process: tiny model, run the pipeline, print peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model, classifiers = build_artefacts(root, resolution=8, channel_base=128, channel_max=16, num_genes=64, num_variants=256,
                                             attributes=tuple(CELEBA_40), classifier_resolution=8, classifier_channels=(8,))  # fmt: skip
        models = load(model, classifiers)
        before = peak_rss_mib()
        pipeline(models, samples, 256, 4096, 0)
        after = peak_rss_mib()
    print(json.dumps({"samples": samples, "rss_before_mib": before, "peak_rss_mib": after}))


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="checkpoint; default: an untrained 32-px genome GAN")
    parser.add_argument("--classifiers", type=Path, help="classifier set; default: an untrained 40-attribute set")
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--chunk-size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--aggregate-samples", type=int, default=500_000)
    parser.add_argument("--memory-samples", type=int, default=16_384, help="N for the memory check (and 4N)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["throughput", "aggregation", "memory"])
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    if "throughput" not in args.skip:
        with tempfile.TemporaryDirectory() as tmp:
            if args.model is None or args.classifiers is None:
                model, classifiers = build_artefacts(Path(tmp), resolution=32, channel_base=1024, channel_max=128, num_genes=32,
                                                     num_variants=256, attributes=tuple(CELEBA_40), classifier_resolution=32,
                                                     classifier_channels=(32, 64, 128, 192))  # fmt: skip
            else:
                model, classifiers = args.model, args.classifiers
            models = load(model, classifiers)
            shape = models["generator"].genome_shape
            print(
                f"model genome {shape}, {models['generator'].img_resolution} px; {len(models['classifiers'].attribute_names)} attributes"
            )
            print(
                f"{args.samples} samples, batch {args.batch}, chunk {args.chunk_size}, best of {args.repeats} alternated runs"
            )
            bare(models, min(args.samples, 2 * args.batch), args.batch, args.chunk_size, 1, True)  # warm-up
            runs: dict[str, list[tuple[float, float]]] = {"G+C+D": [], "pipeline": [], "G+C": []}
            for _ in range(args.repeats):
                runs["G+C+D"].append(bare(models, args.samples, args.batch, args.chunk_size, 0, True))
                runs["pipeline"].append(pipeline(models, args.samples, args.batch, args.chunk_size, 0))
                runs["G+C"].append(bare(models, args.samples, args.batch, args.chunk_size, 0, False))
            wall = {name: min(w for w, _ in times) for name, times in runs.items()}
            cpu = {name: min(c for _, c in times) for name, times in runs.items()}
            for name in runs:
                print(
                    f"  {name:<9} wall {wall[name]:7.2f} s = {args.samples / wall[name]:7.1f} samples/s;"
                    f"  cpu {cpu[name]:7.2f} s = {args.samples / cpu[name]:7.1f} samples/cpu-s"
                )
            for base in ("G+C+D", "G+C"):
                print(
                    f"  pipeline / bare {base:<5} throughput: wall {wall[base] / wall['pipeline']:.3f}, "
                    f"cpu {cpu[base] / cpu['pipeline']:.3f}"
                )

    if "aggregation" not in args.skip:
        n = args.aggregate_samples
        result = aggregation(n, 64, 256, 40, args.chunk_size)
        print(f"aggregation of {n} samples x 64 genes x 256 variants x (40 attributes + realness):")
        wall, cpu = result["in_memory"]
        print(f"  in memory, from scratch: wall {wall:.2f} s, cpu {cpu:.2f} s (best of 3)")
        wall, cpu = result["from_shards"]
        print(f"  recomputed from {result['shard_mb']:.0f} MB of Parquet shards: wall {wall:.2f} s, cpu {cpu:.2f} s")

    if "memory" not in args.skip:
        print("peak RSS of the pipeline (tiny 8-px model, 64 genes x 256 variants, 40 attributes, chunk 4096):")
        for n in (args.memory_samples, 4 * args.memory_samples):
            out = subprocess.run([sys.executable, __file__, "--memory-probe", str(n), "--threads", str(args.threads or 1)],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            probe = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"  {n:>7} samples: peak {probe['peak_rss_mib']:.0f} MiB (after loading: {probe['rss_before_mib']:.0f} MiB)"
            )


if __name__ == "__main__":
    main()
