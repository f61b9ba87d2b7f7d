"""Per-attribute Platt scaling: p = sigmoid(scale * logit + shift), fitted by BCE on held-out images.

A network trained with augmentation and early stopping is often under-confident on rare attributes
(ranking right, probabilities too close to the base rate). Fitting one scale and one shift per
attribute on the validation split fixes the calibration without touching the ranking (AUC); for the
multi-head CNN the pair folds into the linear head, so the saved architecture does not change.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def fit_platt(logits: Tensor, labels: Tensor, *, steps: int = 200, ridge: float = 1e-3) -> tuple[Tensor, Tensor]:
    """Scale and shift (A,) minimising BCE(sigmoid(scale * logit + shift), labels), per attribute.

    A small ridge penalty ``ridge * ((scale - 1)^2 + shift^2)`` keeps the fit finite when held-out
    images are perfectly separated (plain maximum likelihood would then push the scale to infinity).

    Args:
        logits: (N, A) held-out logits.
        labels: (N, A) in {0, 1}.
    Returns:
        scale (A,) and shift (A,); an attribute with one class only keeps (1, 0).
    """
    logits, labels = logits.detach().double(), labels.detach().double()
    scale = torch.ones(logits.shape[1], dtype=torch.float64, requires_grad=True)
    shift = torch.zeros(logits.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([scale, shift], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(logits * scale + shift, labels, reduction="none").mean(0).sum()
        loss = loss + ridge * ((scale - 1).square().sum() + shift.square().sum())
        loss.backward()
        return loss

    optimizer.step(closure)
    both_classes = (labels.min(0).values == 0) & (labels.max(0).values == 1)
    scale = torch.where(both_classes, scale.detach(), torch.ones_like(scale.detach()))
    shift = torch.where(both_classes, shift.detach(), torch.zeros_like(shift.detach()))
    return scale.float(), shift.float()


@torch.no_grad()
def fold_into_linear(layer: torch.nn.Linear, scale: Tensor, shift: Tensor) -> None:
    """Make ``layer(x)`` return ``scale * old_layer(x) + shift`` (per output)."""
    layer.weight.mul_(scale[:, None].to(layer.weight))
    layer.bias.mul_(scale.to(layer.bias)).add_(shift.to(layer.bias))
