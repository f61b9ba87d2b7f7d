"""Disentanglement probes (StyleGenes Table 2 and section 4.2) and the latent-space metrics beside them.

(Over 500 lines on purpose: Table 2's protocol end to end -- sampling, labelling, the split, the MLP
and one-hot probes, the report -- read as one description of the measurement; the metrics
themselves are in ``genomekit.metrics``.)

Table 2 measures disentanglement by how well an attribute's presence in a generated image can be
predicted from the latent code. ``probe_models`` does that for a genome model and a mapping model:

1. sample N codes from each model (the same seed and count), generate images with constant noise,
   label them with the classifier set (probabilities binarised at 0.5), keep ``w`` (genome: the
   concatenated variants; mapping: the mapping network's output) and, for the genome, the gene
   sequence;
2. split the N samples into train/val/test (one seeded permutation, the same sizes for both models);
3. fit, per attribute, an MLP on standardised ``w`` (one hidden ReLU layer), and for the genome a
   logistic model on the one-hot gene sequence (G*V inputs); all attributes train at once as
   independent networks (parallel weights; each attribute's loss only reaches its own weights) with
   early stopping per attribute on validation accuracy;
4. report test accuracy per attribute beside the majority-class baseline (an attribute present in 95%
   of samples gives 95% for free) and balanced accuracy;
5. optionally the latent-space metrics on the same samples: StyleGAN's linear separability, MIG, SAP
   and DCI (``genomekit.metrics``), on ``w`` for both models and on the genes for the genome.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from genomekit.errors import UserError
from genomekit.fileio import atomic_path, atomic_write, write_json
from genomekit.markdown import markdown_table
from genomekit.metrics import disentanglement as dis
from genomekit.metrics.classification import balanced_accuracy
from genomekit.metrics.generate import module_device, sample_codes
from genomekit.metrics.separability import linear_separability
from genomekit.precision import PRECISIONS, autocast

log = logging.getLogger(__name__)

__all__ = [
    "ProbeConfig",
    "ProbeReport",
    "ProbeSamples",
    "ProbeScores",
    "collect_probe_samples",
    "fit_probes",
    "latent_metrics",
    "probe_models",
    "split_indices",
    "write_probe_report",
]


# -- configuration ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeConfig:
    samples: int = 50_000  # N per model for the probes (the paper's Table 2 used 50k)
    val_fraction: float = 0.1  # share of the N samples for early stopping
    test_fraction: float = 0.1  # share reported on
    hidden: int = 256  # hidden units of each attribute's MLP on w
    epochs: int = 40  # at most this many passes over the training part
    patience: int = 5  # stop an attribute after this many epochs without a better val accuracy
    batch_size: int = 256  # probe training batch
    learning_rate: float = 1e-3  # Adam, MLP probes on w
    one_hot_learning_rate: float = 0.03  # Adam, one-hot logistic probes (a table entry sees 1/V of the batches)
    weight_decay: float = 1e-4  # L2 on the probes' weights
    latent_metrics: bool = False  # also linear separability, MIG, SAP and DCI
    separability_samples: int | None = None  # N for separability (StyleGAN: 200k); None: `samples`
    metric_train: int = 10_000  # SAP/DCI training samples (disentanglement_lib's default)
    metric_test: int = 5_000  # SAP/DCI test samples
    dci_method: str = "linear"  # "linear" or "forest" importances
    generate_batch: int = 128  # images per generator forward; does not change the result
    seed: int = 0  # codes, split and probe initialisation
    precision: str = "fp32"  # generation and labelling (genomekit.precision); the probes train in float32

    def __post_init__(self) -> None:
        if self.samples < 20:
            raise UserError(f"--samples must be at least 20 for a train/val/test split, got {self.samples}")
        if not (
            0 < self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1
        ):
            raise UserError("val and test fractions must be in (0, 1) and sum to less than 1")
        for name in ("hidden", "epochs", "patience", "batch_size", "generate_batch", "metric_train", "metric_test"):
            if getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate <= 0 or self.one_hot_learning_rate <= 0 or self.weight_decay < 0:
            raise UserError("the learning rate must be positive and the weight decay non-negative")
        if self.separability_samples is not None and self.separability_samples < 20:
            raise UserError(f"--separability-samples must be at least 20, got {self.separability_samples}")
        if self.dci_method not in ("linear", "forest"):
            raise UserError(f"--dci-method must be 'linear' or 'forest', got {self.dci_method!r}")
        if self.seed < 0:
            raise UserError(f"--seed must be non-negative, got {self.seed}")
        if self.precision not in PRECISIONS:
            raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def samples_needed(self) -> int:
        extra = self.separability_samples if self.latent_metrics and self.separability_samples else 0
        return max(self.samples, extra)


# -- samples ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProbeSamples:
    """Codes and classifier labels of N generated images from one model.

    Attributes:
        kind: "genome" or "mapping".
        w: (N, w_dim) float32 latent fed to the synthesis network.
        probabilities: (N, A) float32 classifier probabilities.
        sequences: (N, G) int64 gene sequences (genome only).
        num_variants: V (genome only).
        attribute_names: the A attribute names.
    """

    kind: str
    w: np.ndarray
    probabilities: np.ndarray
    sequences: np.ndarray | None
    num_variants: int | None
    attribute_names: tuple[str, ...]

    @property
    def labels(self) -> np.ndarray:
        """(N, A) int64 presence labels: probability > 0.5."""
        return (self.probabilities > 0.5).astype(np.int64)

    def __len__(self) -> int:
        return len(self.w)


@torch.inference_mode()
def collect_probe_samples(
    generator_model: nn.Module,
    classifier: nn.Module,
    *,
    num: int,
    seed: int,
    batch_size: int = 128,
    columns: Sequence[int] | None = None,
    progress: Callable[[int], None] = lambda n: None,
    precision: str = "fp32",
) -> ProbeSamples:
    """Sample ``num`` codes (the seed's stream), generate with constant noise and score with ``classifier``.

    Args:
        generator_model: a genomekit Generator (genome or mapping latent).
        classifier: a ClassifierSet (images in [-1, 1] -> probabilities (B, A)).
        columns: the attribute columns to keep (all when None).
        precision: "fp32", or "bf16" / "fp16" to autocast synthesis and classifier (``genomekit.precision``);
            ``w`` comes from the float32 mapping either way, and the probabilities are float32.
    """
    names = tuple(classifier.attribute_names)
    columns = list(range(len(names))) if columns is None else list(columns)
    device = module_device(generator_model)
    ws, probabilities, sequences = [], [], []
    for codes in sample_codes(generator_model, num, seed, batch_size):
        latents = generator_model.mapping(codes)  # (B, num_ws, w_dim)
        with autocast(precision, device):
            images = generator_model.synthesis(latents, noise_mode="const").clamp(-1, 1)  # (B, 3, R, R)
            scores = classifier(images)[:, columns].float()  # (B, A)
        ws.append(latents[:, 0].float().cpu())
        probabilities.append(scores.cpu())
        if generator_model.latent_kind == "genome":
            sequences.append(codes.cpu())
        progress(len(codes))
    genome = generator_model.latent_kind == "genome"
    return ProbeSamples(
        kind=generator_model.latent_kind,
        w=torch.cat(ws).numpy(),
        probabilities=torch.cat(probabilities).numpy(),
        sequences=torch.cat(sequences).numpy().astype(np.int64) if genome else None,
        num_variants=generator_model.latent.num_variants if genome else None,
        attribute_names=tuple(names[c] for c in columns),
    )


def split_indices(num: int, val_fraction: float, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """A seeded permutation of range(num) cut into (train, val, test) index arrays."""
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).permutation(num)
    num_test = max(1, round(num * test_fraction))
    num_val = max(1, round(num * val_fraction))
    return order[num_test + num_val :], order[num_test : num_test + num_val], order[:num_test]


# -- probes ----------------------------------------------------------------------------------------


class _ParallelMLP(nn.Module):
    """A independent one-hidden-layer MLPs on the same input: x (B, K) -> logits (B, A).

    Parameters carry the attribute axis (``attribute_axis``) so early stopping can keep each
    attribute's best weights.
    """

    attribute_axis = {"w1": 1, "b1": 0, "w2": 0, "b2": 0}

    def __init__(self, in_features: int, hidden: int, num_attributes: int, generator: torch.Generator) -> None:
        super().__init__()
        bound1, bound2 = 1 / in_features**0.5, 1 / hidden**0.5
        uniform = lambda shape, bound: (torch.rand(shape, generator=generator) * 2 - 1) * bound  # noqa: E731
        self.w1 = nn.Parameter(uniform((in_features, num_attributes, hidden), bound1))  # (K, A, H)
        self.b1 = nn.Parameter(uniform((num_attributes, hidden), bound1))  # (A, H)
        self.w2 = nn.Parameter(uniform((num_attributes, hidden), bound2))  # (A, H)
        self.b2 = nn.Parameter(torch.zeros(num_attributes))  # (A,)

    def forward(self, x: Tensor) -> Tensor:
        k, a, h = self.w1.shape
        hidden = torch.relu((x @ self.w1.reshape(k, a * h)).reshape(-1, a, h) + self.b1)  # (B, A, H)
        return (hidden * self.w2).sum(-1) + self.b2  # (B, A)


class _OneHotLogistic(nn.Module):
    """A independent logistic models on one-hot gene sequences: seq (B, G) -> logits (B, A).

    ``logit_a = b_a + sum_i E[i, seq_i, a]``: the linear model on the (G*V) one-hot encoding.
    """

    attribute_axis = {"table": 2, "bias": 0}

    def __init__(self, num_genes: int, num_variants: int, num_attributes: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(num_genes, num_variants, num_attributes))  # (G, V, A)
        self.bias = nn.Parameter(torch.zeros(num_attributes))  # (A,)
        self.register_buffer("gene_index", torch.arange(num_genes), persistent=False)

    def forward(self, sequences: Tensor) -> Tensor:
        return self.table[self.gene_index, sequences].sum(1) + self.bias  # (B, A)


@dataclasses.dataclass(frozen=True)
class ProbeScores:
    """Test-set results of one probe on one model, per attribute (A,)."""

    accuracy: np.ndarray
    balanced_accuracy: np.ndarray
    majority: np.ndarray  # accuracy of always predicting the training part's majority class
    positive_rate: np.ndarray  # share of test samples with the attribute
    epochs: np.ndarray  # epoch of the kept (best validation) weights
    seconds: float


def fit_probes(
    inputs: np.ndarray,
    labels: np.ndarray,
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: ProbeConfig,
    *,
    one_hot_variants: int | None = None,
) -> ProbeScores:
    """Train one probe per attribute and score it on the test part.

    Args:
        inputs: (N, K) float codes (standardised with the training part's statistics), or (N, G)
            int64 gene sequences with ``one_hot_variants=V`` (the one-hot logistic probe).
        labels: (N, A) binary labels.
        split: (train, val, test) index arrays.
        config: probe hyper-parameters and seed.
    """
    start = time.perf_counter()
    train, val, test = split
    labels_t = torch.as_tensor(labels, dtype=torch.float32)  # (N, A)
    num_attributes = labels.shape[1]
    generator = torch.Generator().manual_seed(
        int(np.random.SeedSequence(config.seed, spawn_key=(2,)).generate_state(1)[0])
    )
    if one_hot_variants is not None:
        x = torch.as_tensor(inputs, dtype=torch.int64)  # (N, G)
        model: nn.Module = _OneHotLogistic(x.shape[1], one_hot_variants, num_attributes)
    else:
        x = torch.as_tensor(inputs, dtype=torch.float32)  # (N, K)
        mean, std = x[train].mean(0), x[train].std(0).clamp_min(1e-6)
        x = (x - mean) / std
        model = _ParallelMLP(x.shape[1], config.hidden, num_attributes, generator)
    learning_rate = config.learning_rate if one_hot_variants is None else config.one_hot_learning_rate
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=config.weight_decay)
    best = {name: p.detach().clone() for name, p in model.named_parameters()}
    best_val = np.full(num_attributes, -1.0)
    best_epoch = np.zeros(num_attributes, dtype=np.int64)
    stale = np.zeros(num_attributes, dtype=np.int64)
    train_t = torch.as_tensor(train)

    def predict(index: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([model(x[index[i : i + 4096]]) > 0 for i in range(0, len(index), 4096)]).numpy()

    for epoch in range(1, config.epochs + 1):
        model.train()
        for batch in train_t[torch.randperm(len(train_t), generator=generator)].split(config.batch_size):
            loss = nn.functional.binary_cross_entropy_with_logits(model(x[batch]), labels_t[batch], reduction="none")
            optimizer.zero_grad(set_to_none=True)
            loss.mean(0).sum().backward()  # each attribute's mean loss reaches only its own weights
            optimizer.step()
        val_accuracy = (predict(val) == labels[val]).mean(0)  # (A,)
        improved = val_accuracy > best_val
        best_val = np.where(improved, val_accuracy, best_val)
        best_epoch = np.where(improved, epoch, best_epoch)
        stale = np.where(improved, 0, stale + 1)
        if improved.any():
            index = torch.as_tensor(np.flatnonzero(improved))
            with torch.no_grad():
                for name, p in model.named_parameters():
                    axis = model.attribute_axis[name]
                    best[name].index_copy_(axis, index, p.detach().index_select(axis, index))
        if (stale >= config.patience).all():
            break
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(best[name])
    prediction = predict(test)  # (N_test, A)
    majority_class = (labels[train].mean(0) >= 0.5).astype(np.int64)  # (A,)
    return ProbeScores(
        accuracy=(prediction == labels[test]).mean(0),
        balanced_accuracy=balanced_accuracy(prediction, labels[test]),
        majority=(labels[test] == majority_class).mean(0),
        positive_rate=labels[test].mean(0),
        epochs=best_epoch,
        seconds=time.perf_counter() - start,
    )


# -- latent-space metrics --------------------------------------------------------------------------


def latent_metrics(
    samples: ProbeSamples, split: tuple[np.ndarray, ...], config: ProbeConfig
) -> dict[str, dict[str, float]]:
    """Linear separability, MIG, SAP and DCI of one model's samples.

    Separability uses the first ``separability_samples`` (default ``samples``); MIG the first
    ``samples``; SAP and DCI fit on at most ``metric_train`` samples of the probes' training part and
    score on at most ``metric_test`` of their test part (disentanglement_lib's 10000 / 5000).

    Returns:
        {code space: {metric: value}}, code spaces "w" (both models) and "genes" (genome).
    """
    train, _, test = split
    train, test = train[: config.metric_train], test[: config.metric_test]
    labels = samples.labels
    num_sep = len(samples) if config.separability_samples is None else min(config.separability_samples, len(samples))
    spaces: dict[str, tuple[np.ndarray, bool]] = {"w": (samples.w, False)}
    if samples.sequences is not None:
        spaces["genes"] = (samples.sequences, True)
    results: dict[str, dict[str, float]] = {}
    for space, (codes, discrete) in spaces.items():
        row: dict[str, float] = {}
        start = time.perf_counter()
        if not discrete:
            row["separability"] = linear_separability(codes[:num_sep], samples.probabilities[:num_sep]).score
        row["MIG"] = dis.mig(codes[: config.samples], labels[: config.samples], discrete_codes=discrete)[0]
        row["SAP"] = dis.sap(codes[train], labels[train], codes[test], labels[test], discrete_codes=discrete)[0]
        result = dis.dci(
            codes[train],
            labels[train],
            codes[test],
            labels[test],
            discrete_codes=discrete,
            num_variants=samples.num_variants,
            method=config.dci_method,
            seed=config.seed,
        )
        row["DCI disentanglement"] = result.disentanglement
        row["DCI completeness"] = result.completeness
        row["DCI informativeness"] = result.informativeness
        row["seconds"] = time.perf_counter() - start
        results[space] = row
    return results


# -- the whole comparison --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProbeReport:
    attribute_names: tuple[str, ...]
    scores: dict[str, ProbeScores]  # "genome w", "genome one-hot", "mapping w" (those probed)
    metrics: dict[str, dict[str, float]]  # "genome w", "genome genes", "mapping w" -> metric -> value
    num_samples: int
    split_sizes: tuple[int, int, int]
    config: ProbeConfig
    seconds: dict[str, float]  # timings: "sampling <kind>", "probes <column>", "metrics <column>"

    def table(self) -> pd.DataFrame:
        """One row per attribute (and a final "mean" row): accuracies, baselines and balanced accuracies."""
        data: dict[str, Any] = {"attribute": list(self.attribute_names)}
        for column, s in self.scores.items():
            data[f"{column} acc"] = s.accuracy
        for kind in ("genome", "mapping"):
            s = self.scores.get(f"{kind} w")
            if s is not None:
                data[f"{kind} majority"] = s.majority
                data[f"{kind} positive rate"] = s.positive_rate
        for column, s in self.scores.items():
            data[f"{column} balanced acc"] = s.balanced_accuracy
        frame = pd.DataFrame(data)
        mean = frame.drop(columns="attribute").mean(axis=0)
        return pd.concat([frame, pd.DataFrame([{"attribute": "mean", **mean.to_dict()}])], ignore_index=True)

    def metrics_table(self) -> pd.DataFrame:
        """Rows: separability, MIG, SAP, DCI; columns: the code spaces."""
        order = ["separability", "MIG", "SAP", "DCI disentanglement", "DCI completeness", "DCI informativeness"]
        frame = pd.DataFrame({column: pd.Series(row).reindex(order) for column, row in self.metrics.items()})
        frame.index.name = "metric"
        return frame.reset_index()

    def markdown(self) -> str:
        table = self.table()
        accuracy_columns = [f"{c} acc" for c in self.scores]
        baseline_columns = [c for c in table.columns if c.endswith("majority")]
        lines = [
            f"Attribute presence predicted from the latent code: test accuracy (%), {self.split_sizes[2]} test samples "
            f"of {self.num_samples} per model (train/val/test {'/'.join(map(str, self.split_sizes))}). "
            "'majority' is the accuracy of always answering the commoner class.",
            "",
            _markdown(table[["attribute", *accuracy_columns, *baseline_columns]], percent=True),
            "",
            "Balanced accuracy (%) (mean of the per-class accuracies; 50 = chance whatever the attribute's frequency):",
            "",
            _markdown(table[["attribute", *[f"{c} balanced acc" for c in self.scores]]], percent=True),
        ]
        if self.metrics:
            lines += [
                "",
                "Latent-space metrics on classifier pseudo-labels (separability: lower is better, 1 = perfect; "
                "MIG, SAP, DCI: higher is better):",
                "",
                _markdown(self.metrics_table(), percent=False),
            ]
        return "\n".join(lines) + "\n"


def _markdown(frame: pd.DataFrame, *, percent: bool) -> str:
    """The first column as it is, the others right-aligned: percentages (2 decimals) or 4-decimal numbers."""

    def number(value: float) -> str:
        return "" if pd.isna(value) else (f"{100 * value:.2f}" if percent else f"{value:.4f}")

    cells = frame.copy()
    for column in frame.columns[1:]:
        cells[column] = frame[column].map(number)
    return markdown_table(cells, right=frame.columns[1:])


def probe_models(
    models: dict[str, nn.Module],
    classifier: nn.Module,
    config: ProbeConfig,
    *,
    columns: Sequence[int] | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> ProbeReport:
    """Table 2: probe each model's codes for each attribute, side by side.

    Args:
        models: {"genome": Generator with a Genome latent, "mapping": Generator with a mapping
            network}; either may be absent.
        classifier: the ClassifierSet labelling the images.
        columns: attribute columns of the classifier set to probe (all when None).
        progress: ``progress(description, total)`` returns a callback taking sample counts.
    """
    if not models:
        raise UserError("give at least one model to probe (--genome and/or --mapping)")
    for kind, model in models.items():
        if model.latent_kind != kind:
            raise UserError(f"the --{kind} model has a {model.latent_kind} latent; pass it as --{model.latent_kind}")
    num = config.samples_needed
    split = split_indices(config.samples, config.val_fraction, config.test_fraction, config.seed)
    scores: dict[str, ProbeScores] = {}
    metrics: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    names: tuple[str, ...] = ()
    for kind, model in models.items():
        start = time.perf_counter()
        callback = progress(f"sampling {kind}", num) if progress else (lambda n: None)
        samples = collect_probe_samples(
            model,
            classifier,
            num=num,
            seed=config.seed,
            batch_size=config.generate_batch,
            columns=columns,
            progress=callback,
            precision=config.precision,
        )
        seconds[f"sampling {kind}"] = time.perf_counter() - start
        names = samples.attribute_names
        labels = samples.labels[: config.samples]
        scores[f"{kind} w"] = fit_probes(samples.w[: config.samples], labels, split, config)
        seconds[f"probes {kind} w"] = scores[f"{kind} w"].seconds
        if samples.sequences is not None:
            scores[f"{kind} one-hot"] = fit_probes(
                samples.sequences[: config.samples], labels, split, config, one_hot_variants=samples.num_variants
            )
            seconds[f"probes {kind} one-hot"] = scores[f"{kind} one-hot"].seconds
        if config.latent_metrics:
            for space, row in latent_metrics(samples, split, config).items():
                metrics[f"{kind} {space}"] = row
                seconds[f"metrics {kind} {space}"] = row["seconds"]
        log.info("probed %s in %.1f s", kind, time.perf_counter() - start)
    order = ["genome w", "genome one-hot", "mapping w"]
    return ProbeReport(
        attribute_names=names,
        scores={k: scores[k] for k in order if k in scores},
        metrics=metrics,
        num_samples=config.samples,
        split_sizes=(len(split[0]), len(split[1]), len(split[2])),
        config=config,
        seconds=seconds,
    )


# -- outputs ---------------------------------------------------------------------------------------


def plot_probes(report: ProbeReport):
    """A grouped bar plot of test accuracy per attribute with the majority baselines as ticks."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = report.table()
    num = len(table)
    columns = list(report.scores)
    width = 0.8 / len(columns)
    figure = Figure(figsize=(max(6.0, 0.7 * num + 2), 4.0))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = np.arange(num)
    label = "majority baseline"
    for i, column in enumerate(columns):
        x = positions + (i - (len(columns) - 1) / 2) * width
        axes.bar(x, 100 * table[f"{column} acc"], width, label=column)
        baseline = f"{column.split()[0]} majority"  # each model's own baseline, over its bars
        if baseline in table:
            axes.scatter(x, 100 * table[baseline], marker="_", color="black", s=300 * width, zorder=3, label=label)
            label = None
    axes.set_xticks(positions, table["attribute"], rotation=45, ha="right")
    axes.set_ylabel("test accuracy (%)")
    low = 100 * min(table[[f"{c} acc" for c in columns]].min().min(), 0.5)
    axes.set_ylim(max(0.0, low - 5), 101)
    axes.set_title("Attribute presence predicted from the latent code")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    return figure


def write_probe_report(report: ProbeReport, out: str | Path) -> list[Path]:
    """Write probes.csv, probes.md, probes.png, probes.json (and disentanglement.csv) to ``out``, atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with atomic_write(out / "probes.csv", "w") as f:
        report.table().to_csv(f, index=False, float_format="%.6f")
    written.append(out / "probes.csv")
    with atomic_write(out / "probes.md", "w") as f:
        f.write(report.markdown())
    written.append(out / "probes.md")
    buffer = io.BytesIO()
    plot_probes(report).savefig(buffer, format="png", dpi=120)
    with atomic_path(out / "probes.png") as tmp:
        tmp.write_bytes(buffer.getvalue())
    written.append(out / "probes.png")
    if report.metrics:
        with atomic_write(out / "disentanglement.csv", "w") as f:
            report.metrics_table().to_csv(f, index=False, float_format="%.6f")
        written.append(out / "disentanglement.csv")
    write_json(
        out / "probes.json",
        {
            "config": dataclasses.asdict(report.config),
            "attribute_names": list(report.attribute_names),
            "num_samples": report.num_samples,
            "split_sizes": list(report.split_sizes),
            "scores": {
                k: {f: np.asarray(v).tolist() for f, v in dataclasses.asdict(s).items()}
                for k, s in report.scores.items()
            },
            "metrics": {
                k: {m: (None if np.isnan(v) else v) for m, v in row.items()} for k, row in report.metrics.items()
            },
            "seconds": report.seconds,
        },
    )
    written.append(out / "probes.json")
    return written
