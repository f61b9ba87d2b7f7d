"""Conditional sampling from an unconditionally trained Genome (StyleGenes eq. 6 with temperature), and
interpolation between gene sequences.

Eq. 6 with the paper's temperature: genes are sampled independently, variant ``j`` of gene ``i`` with

    p(k_i = j | a_1..a_L)  ∝  Π_l p(a_l | k_i = j)^(1/T)

using ``1 - p`` for an attribute asked to be absent. Everything is computed in log space, so 40
attributes over 256 variants cannot underflow; variants never seen in the statistics are excluded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from genomekit.genome import Genome

_NEGATION_PREFIXES = ("no-", "no_", "no ", "not-", "not_", "not ", "!", "~")
_TRUE = {"1", "yes", "true", "y", "t", "on"}
_FALSE = {"0", "no", "false", "n", "f", "off"}


@dataclass(frozen=True)
class Condition:
    """One requested attribute value."""

    attribute: str  # canonical attribute name
    index: int  # its column in the statistics
    present: bool  # True: the attribute should be there; False: absent (uses 1 - p)

    def __str__(self) -> str:
        return self.attribute if self.present else f"no-{self.attribute}"


def parse_condition(spec: str, attribute_names: Sequence[str], resolve: Callable[[str], str]) -> Condition:
    """Parse one ``--attr`` value: ``smiling``, ``no-smiling``, ``not smiling``, ``!smiling``, ``smiling=0``.

    A name that is itself an attribute wins over the negation reading ("No_Beard" is the attribute
    No_Beard, "no-no-beard" its negation).

    Args:
        spec: what the user typed.
        attribute_names: the statistics' attribute names, in column order.
        resolve: maps a typed name to a canonical one or raises a user error with close matches.
    """
    text = spec.strip()
    if "=" in text:
        name, value = (part.strip() for part in text.split("=", 1))
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError(f"cannot read {spec!r}: the value after '=' must be 1/0, yes/no or true/false")
        canonical = resolve(name)
        return Condition(canonical, list(attribute_names).index(canonical), value.lower() in _TRUE)
    lowered = text.lower()
    for prefix in _NEGATION_PREFIXES:
        if lowered.startswith(prefix) and len(text) > len(prefix):
            try:
                canonical = resolve(text)  # e.g. "no-beard" is the attribute No_Beard
                return Condition(canonical, list(attribute_names).index(canonical), True)
            except (KeyError, ValueError, LookupError):
                pass
            canonical = resolve(text[len(prefix) :])
            return Condition(canonical, list(attribute_names).index(canonical), False)
    canonical = resolve(text)
    return Condition(canonical, list(attribute_names).index(canonical), True)


def parse_conditions(
    specs: Sequence[str], attribute_names: Sequence[str], resolve: Callable[[str], str]
) -> list[Condition]:
    """Parse several ``--attr`` values (combined with AND); contradictions are refused."""
    conditions = [parse_condition(s, attribute_names, resolve) for s in specs]
    wanted: dict[str, bool] = {}
    for c in conditions:
        if wanted.get(c.attribute, c.present) != c.present:
            raise ValueError(f"{c.attribute} is asked to be both present and absent")
        wanted[c.attribute] = c.present
    unique = {c.attribute: c for c in conditions}
    return list(unique.values())


def conditional_logits(
    p_attr: Tensor, conditions: Sequence[Condition], temperature: float, eps: float = 1e-6
) -> Tensor:
    """Per-gene log-probabilities (up to a constant) of eq. 6 with temperature.

    Args:
        p_attr: (G, V, A) ``p(a | k_i = j)``; NaN for variants never seen (excluded).
        conditions: attribute values combined with AND.
        temperature: T > 0; lower T concentrates on the variants most associated with the attributes.
        eps: probabilities are clamped to [eps, 1] before the log.
    Returns:
        (G, V) float64 logits; ``-inf`` for excluded variants.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if p_attr.ndim != 3:
        raise ValueError(f"p_attr must have shape (G, V, A), got {tuple(p_attr.shape)}")
    p = p_attr.to(torch.float64)
    logits = torch.zeros(p.shape[:2], dtype=torch.float64)  # (G, V)
    for c in conditions:
        q = p[..., c.index] if c.present else 1 - p[..., c.index]  # (G, V)
        logits = logits + torch.log(q.clamp(min=eps, max=1.0)) / temperature  # NaN stays NaN
    unseen = torch.isnan(p).any(dim=2)  # (G, V)
    logits = torch.where(unseen | torch.isnan(logits), -torch.inf, logits)
    empty = torch.isinf(logits).all(dim=1)  # a gene with no statistics at all: keep it uniform
    logits[empty] = 0.0
    return logits


def conditional_probabilities(p_attr: Tensor, conditions: Sequence[Condition], temperature: float) -> Tensor:
    """(G, V) float64 ``p(k_i = j | conditions)``, each row summing to one."""
    return torch.softmax(conditional_logits(p_attr, conditions, temperature), dim=1)


def sample_conditional(
    genome: Genome,
    p_attr: Tensor,
    conditions: Sequence[Condition],
    temperature: float,
    num_samples: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Gene sequences (N, G) drawn from eq. 6; with no conditions, uniform over seen variants."""
    if p_attr.shape[:2] != (genome.num_genes, genome.num_variants):
        raise ValueError(
            f"statistics are for a genome of {p_attr.shape[0]} genes x {p_attr.shape[1]} variants, "
            f"the model has {genome.num_genes} x {genome.num_variants}"
        )
    logits = conditional_logits(p_attr, conditions, temperature)
    return genome.sample_categorical(logits, num_samples, generator)


def refine_statistics(
    genome: Genome,
    p_attr: Tensor,
    conditions: Sequence[Condition],
    temperature: float,
    score: Callable[[Tensor], Tensor],
    *,
    rounds: int = 3,
    samples: int = 512,
    prior: float = 8.0,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Eq. 6's statistics re-estimated under the conditional distribution itself, ``rounds`` times.

    The collected ``p(a | k_i = j)`` average over uniformly drawn other genes; under eq. 6 the other
    genes are drawn conditionally, so a variant's effect there can differ. Each round draws
    ``samples`` sequences from eq. 6 with the current estimates, scores them (``score``: sequences
    (N, G) -> attribute probabilities (N, A), e.g. render and classify), and replaces each variant's
    estimate for the conditioned attributes by the mean score of the samples that carry it (``hard``:
    the share with p > 0.5, what a Table 4 grader counts), shrunk towards the previous estimate with
    ``prior`` pseudo-samples; variants drawn rarely keep about their old value.

    Returns:
        (G, V, A) float64 statistics: a copy of ``p_attr`` with the conditioned columns refined.
    """
    if rounds < 0 or samples < 1 or prior < 0:
        raise ValueError(f"need rounds >= 0, samples >= 1, prior >= 0; got {rounds}, {samples}, {prior}")
    table = p_attr.to(torch.float64).clone()
    columns = sorted({c.index for c in conditions})
    num_genes, num_variants = table.shape[:2]
    offset = (torch.arange(num_genes) * num_variants).unsqueeze(0)  # (1, G)
    for _ in range(rounds):
        logits = conditional_logits(table, conditions, temperature)
        sequences = genome.sample_categorical(logits, samples, generator).cpu()  # (N, G)
        scores = score(sequences).detach().to(torch.float64).cpu()[:, columns]  # (N, C)
        if hard:
            scores = (scores > 0.5).to(torch.float64)
        flat = (sequences + offset).reshape(-1)  # (N*G,) index of (gene, variant)
        counts = torch.bincount(flat, minlength=num_genes * num_variants).to(torch.float64)
        for k, column in enumerate(columns):
            values = scores[:, k].unsqueeze(1).expand(-1, num_genes).reshape(-1)
            sums = torch.bincount(flat, weights=values, minlength=num_genes * num_variants)
            old = table[:, :, column].reshape(-1)
            seen = ~torch.isnan(old)
            new = (sums + prior * torch.nan_to_num(old)) / (counts + prior).clamp(min=1e-12)
            table[:, :, column] = torch.where(seen, new, old).reshape(num_genes, num_variants)
    return table


# -- interpolation -------------------------------------------------------------------------------


def linear_ws(genome: Genome, start: Tensor, end: Tensor, steps: int) -> Tensor:
    """Latents on the straight line between two gene sequences' w (the paper's Figure 3).

    Args:
        start, end: (G,) gene sequences.
    Returns:
        (steps, num_ws, G*D) per-layer latents.
    """
    w = genome.lookup(torch.stack([start, end]))  # (2, G*D)
    t = torch.linspace(0, 1, steps, device=w.device, dtype=w.dtype).unsqueeze(1)  # (steps, 1)
    path = w[0] + t * (w[1] - w[0])  # (steps, G*D)
    return path.unsqueeze(1).expand(-1, genome.num_ws, -1)


def gene_substitution_path(start: Tensor, end: Tensor, steps: int, order: Sequence[int] | None = None) -> Tensor:
    """Gene sequences that switch from ``start`` to ``end`` a few genes at a time.

    Step ``s`` takes the first ``round(s * G / (steps - 1))`` genes of ``order`` (gene index order by
    default, e.g. importance order for a report) from ``end``; every step is a real genome sample.

    Returns:
        (steps, G) gene sequences; the first equals ``start``, the last ``end``.
    """
    num_genes = start.shape[0]
    order = list(range(num_genes)) if order is None else list(order)
    if sorted(order) != list(range(num_genes)):
        raise ValueError("order must be a permutation of the gene indices")
    if steps < 2:
        raise ValueError("steps must be at least 2")
    rows = []
    for s in range(steps):
        switched = order[: round(s * num_genes / (steps - 1))]
        row = start.clone()
        row[switched] = end[switched]
        rows.append(row)
    return torch.stack(rows)
