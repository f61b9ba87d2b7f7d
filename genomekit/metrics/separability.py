"""StyleGAN's linear separability (Karras et al. 2019, section 4.2; seed 003).

For each attribute: keep the half of the samples the classifier is most confident about, fit a linear
SVM that predicts the classifier's label from the latent code, and measure the conditional entropy
``H(Y | X)`` (bits) of the label Y given the SVM's side of the hyperplane X, on those same samples.
The score is ``exp(sum over attributes of H(Y | X))``: 1 for perfectly separable latents, larger is
worse. StyleGAN used 200k samples and its 40 CelebA attributes; its code mixes log2 entropies with a
natural exp, and so does this one so the numbers compare.

Deviation: inputs are standardised and the SVM is solved in the primal (``LinearSVC(dual=False)``),
which converges where the default dual solver stalls on 100k samples; the separating hyperplane's
quality is what is measured, not the solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SeparabilityResult:
    score: float  # exp(sum of conditional entropies)
    entropies: np.ndarray  # (A,) H(Y | X) in bits per attribute
    svm_accuracy: np.ndarray  # (A,) agreement of the SVM with the labels on the kept samples
    num_kept: int  # samples kept per attribute


def conditional_entropy(joint: np.ndarray) -> float:
    """H(Y | X) in bits for a joint count or probability table ``joint[x, y]``."""
    p = np.asarray(joint, np.float64)
    p = p / p.sum()
    p_x = p.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p / p_x), 0.0)
    return float(max(terms.sum(), 0.0))


def linear_separability(
    codes: np.ndarray, probabilities: np.ndarray, *, keep_fraction: float = 0.5, svm_c: float = 1.0
) -> SeparabilityResult:
    """Linear separability of attributes in a latent space.

    Args:
        codes: (N, K) latent codes (w).
        probabilities: (N, A) classifier probabilities that each attribute is present.
        keep_fraction: share of the most confident samples kept per attribute (StyleGAN: 0.5).
        svm_c: the SVM's regularisation constant (scikit-learn's default 1).
    Returns:
        The score, per-attribute conditional entropies and SVM agreement.
    """
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    codes = np.asarray(codes, np.float64)
    probabilities = np.asarray(probabilities, np.float64)
    if codes.ndim != 2 or probabilities.ndim != 2 or len(codes) != len(probabilities):
        raise ValueError(
            f"codes (N, K) and probabilities (N, A) must share N, got {codes.shape} and {probabilities.shape}"
        )
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    num_keep = max(2, int(len(codes) * keep_fraction))
    entropies = np.zeros(probabilities.shape[1])
    agreement = np.ones(probabilities.shape[1])
    for a in range(probabilities.shape[1]):
        confidence = np.abs(probabilities[:, a] - 0.5)
        keep = np.argsort(-confidence, kind="stable")[:num_keep]
        x, y = codes[keep], (probabilities[keep, a] > 0.5).astype(np.int64)
        if y.min() == y.max():  # one class only: a constant predicts it, H(Y | X) = 0
            continue
        x = StandardScaler().fit_transform(x)
        side = LinearSVC(C=svm_c, dual=False).fit(x, y).predict(x)
        joint = np.array([[np.sum((side == s) & (y == t)) for t in (0, 1)] for s in (0, 1)])
        entropies[a] = conditional_entropy(joint)
        agreement[a] = float((side == y).mean())
    return SeparabilityResult(float(np.exp(entropies.sum())), entropies, agreement, num_keep)
