"""Eq. 5 without eq. 6's factorisation: Gibbs sampling over genes with a learned ``p(a | sequence)``.

StyleGenes conditions by ``p(k | a) ∝ p(a | k) p(k)`` (eq. 5) and approximates ``p(a | k)`` by the
product of single-gene statistics (eq. 6). This module keeps eq. 5 and replaces the product by a
*surrogate*: a small MLP on ``w`` (the concatenated variants, eq. 3) fitted to the rows that
`collect-stats` streams (gene sequences and their classifier probabilities). Sequences are then drawn
from ``p(k) p(a | k)^(1/T)`` by Gibbs sampling, one gene at a time over all its variants.

No network is retrained and no classifier runs at sampling time; the surrogate is only as good as its
fit, which ``fit_surrogate`` reports on held-out rows. docs/GENOME_HEALTH.md section 4c measures it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from genomekit.metrics.classification import balanced_accuracy
from genomekit.sampling import Condition
from genomekit.stats.store import Stats, read_shard

__all__ = ["SequenceSurrogate", "SurrogateFit", "fit_surrogate", "read_rows", "sample_gibbs"]


class SequenceSurrogate(nn.Module):
    """Logits of ``p(a | k)`` for gene sequences ``k``: an MLP with two hidden layers on ``w``.

    The first layer is linear in ``w``, so it splits into one term per gene; ``contributions`` gives
    those terms for every variant, which lets the Gibbs step score all V variants of a gene at once.
    """

    def __init__(self, genes: Tensor, num_attributes: int, hidden: int = 256) -> None:
        super().__init__()
        num_genes, num_variants, gene_length = genes.shape
        self.register_buffer("genes", genes.detach().to(torch.float32).clone())  # (G, V, D)
        self.register_buffer("gene_index", torch.arange(num_genes), persistent=False)
        self.first = nn.Linear(num_genes * gene_length, hidden)
        self.second = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, num_attributes)

    @property
    def num_genes(self) -> int:
        return self.genes.shape[0]

    @property
    def num_variants(self) -> int:
        return self.genes.shape[1]

    def first_layer(self, sequences: Tensor) -> Tensor:
        """(N, G) variant indices -> (N, H) pre-activations of the first layer."""
        w = self.genes[self.gene_index, sequences.long()]  # (N, G, D)
        return self.first(w.reshape(len(sequences), -1))

    def head(self, pre: Tensor) -> Tensor:
        """(..., H) first-layer pre-activations -> (..., A) logits."""
        return self.out(torch.relu(self.second(torch.relu(pre))))

    def forward(self, sequences: Tensor) -> Tensor:
        return self.head(self.first_layer(sequences))

    def contributions(self) -> Tensor:
        """(G, V, H): gene i's term of the first layer when it carries variant j (no bias)."""
        num_genes, _, gene_length = self.genes.shape
        weight = self.first.weight.reshape(-1, num_genes, gene_length)  # (H, G, D)
        return torch.einsum("hgd,gvd->gvh", weight, self.genes)


@dataclasses.dataclass(frozen=True)
class SurrogateFit:
    """How well a surrogate fits the held-out rows, per attribute (A,)."""

    attributes: tuple[str, ...]
    agreement: np.ndarray  # share of held-out rows where surrogate and classifier agree on p > 0.5
    balanced_agreement: np.ndarray  # the mean of that share over rows the classifier calls present and absent
    val_loss: float  # mean binary cross-entropy to the classifier probabilities, held-out rows
    epochs: int  # epoch of the kept weights
    rows: int  # rows fitted on (without the held-out part)


def read_rows(stats: Stats) -> tuple[Tensor, Tensor]:
    """Every collected row of a stats directory: sequences (N, G) int64 and probabilities (N, A)."""
    if stats.directory is None:
        raise ValueError("these statistics were not loaded from a directory; their rows cannot be read")
    num_genes = stats.genome_shape[0]
    parts = [read_shard(stats.directory / e["file"], num_genes, stats.attributes) for e in stats.manifest["shards"]]
    return torch.cat([p[1] for p in parts]), torch.cat([p[2] for p in parts])


def fit_surrogate(
    genes: Tensor,
    sequences: Tensor,
    probabilities: Tensor,
    attributes: Sequence[str],
    *,
    hidden: int = 256,
    epochs: int = 25,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    val_fraction: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[SequenceSurrogate, SurrogateFit]:
    """Fit a ``SequenceSurrogate`` to (sequences, classifier probabilities) by binary cross-entropy.

    A ``val_fraction`` of the rows is held out; the weights of the epoch with the lowest held-out loss
    are kept. Deterministic for a given ``generator`` (initialisation, split and batch order).
    """
    if len(sequences) != len(probabilities) or len(sequences) < 10:
        raise ValueError(f"need at least 10 rows of sequences and probabilities, got {len(sequences)}")
    if probabilities.shape[1] != len(attributes):
        raise ValueError(f"{probabilities.shape[1]} probability columns but {len(attributes)} attribute names")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        model = SequenceSurrogate(genes, probabilities.shape[1], hidden)
    x, y = sequences.long(), probabilities.to(torch.float32)
    order = torch.randperm(len(x), generator=generator)
    held = max(1, int(len(x) * val_fraction))
    val, train = order[:held], order[held:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    best_loss, best_state, best_epoch = float("inf"), copy.deepcopy(model.state_dict()), 0
    for epoch in range(1, epochs + 1):
        for batch in train[torch.randperm(len(train), generator=generator)].split(batch_size):
            loss = loss_fn(model(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val_loss = float(loss_fn(model(x[val]), y[val]))
        if val_loss < best_loss:
            best_loss, best_state, best_epoch = val_loss, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        said, truth = (model(x[val]) > 0).numpy(), (y[val] > 0.5).numpy()
    balanced = balanced_accuracy(said, truth)
    fit = SurrogateFit(tuple(attributes), (said == truth).mean(0), balanced, best_loss, best_epoch, len(train))
    return model, fit


@torch.no_grad()
def sample_gibbs(
    surrogate: SequenceSurrogate,
    conditions: Sequence[Condition],
    temperature: float,
    num_samples: int,
    *,
    sweeps: int = 8,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Gene sequences (N, G) drawn from ``p(k) prod_c p(c | k)^(1/T)`` by Gibbs sampling.

    ``p(k)`` is uniform (how the genome is sampled) and ``p(c | k)`` the surrogate's probability of
    each condition (AND). Each chain starts from a uniform draw; a sweep visits every gene once, in a
    random order, and redraws it from its exact conditional over all V variants.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if num_samples < 1 or sweeps < 0:
        raise ValueError(f"need num_samples >= 1 and sweeps >= 0, got {num_samples}, {sweeps}")
    num_genes, num_variants = surrogate.num_genes, surrogate.num_variants
    terms = surrogate.contributions()  # (G, V, H)
    signs = torch.tensor([1.0 if c.present else -1.0 for c in conditions])  # (C,)
    columns = [c.index for c in conditions]
    k = torch.randint(0, num_variants, (num_samples, num_genes), generator=generator)
    rows = torch.arange(num_samples)
    for _ in range(sweeps if conditions else 0):
        pre = surrogate.first_layer(k)  # (N, H), recomputed each sweep so no rounding accumulates
        for gene in torch.randperm(num_genes, generator=generator).tolist():
            base = pre - terms[gene, k[:, gene]]  # (N, H) without gene's term
            logits = surrogate.head(base.unsqueeze(1) + terms[gene].unsqueeze(0))[..., columns]  # (N, V, C)
            log_target = nn.functional.logsigmoid(logits * signs).sum(-1) / temperature  # (N, V)
            choice = torch.multinomial(torch.softmax(log_target.double(), dim=1), 1, generator=generator)
            k[rows, gene] = choice.squeeze(1)
            pre = base + terms[gene, k[:, gene]]
    return k
