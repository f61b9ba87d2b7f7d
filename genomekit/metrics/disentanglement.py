"""Supervised disentanglement scores on classifier pseudo-labels: MIG, SAP and DCI.

The factors are attribute labels (N, A) in {0, 1} (binarised classifier probabilities); the codes are
either continuous (N, K) (the entries of w) or categorical (N, G) (a genome's gene sequences, each gene
one code with V values). Definitions follow disentanglement_lib (Locatello et al. 2019):

* **MIG** (Chen et al. 2018): codes discretised into 20 equal-width bins per dimension (a gene is
  already discrete); ``m[k, a] = I(code_k; factor_a)``; per factor the gap between the two largest
  ``m[:, a]`` divided by ``H(factor_a)``; averaged over factors.
* **SAP** (Kumar et al. 2018): ``s[k, a]`` = how well code ``k`` alone predicts factor ``a`` on held-out
  samples; per factor the gap between the two best codes; averaged. disentanglement_lib fits a
  ``LinearSVC`` per (code, factor) pair, which on one dimension is a threshold; here the threshold is
  found exactly (the one with the best balanced accuracy on the training part) and scored by balanced
  accuracy on the test part, so an attribute present in 95% of samples does not give every code 95%.
  For a gene the predictor is the best per-variant rule (predict 1 for variants whose positive rate
  exceeds the overall rate).
* **DCI** (Eastwood & Williams 2018): an importance matrix ``R`` (K, A) from per-factor predictors;
  disentanglement = importance-weighted ``1 - H_A(R[k] / sum)``; completeness = importance-weighted
  ``1 - H_K(R[:, a] / sum)``; informativeness = the predictors' test accuracy. disentanglement_lib
  uses gradient-boosted trees, too slow on hundreds of dimensions on a CPU; ``method="linear"``
  (default) uses |coefficients| of an L2 logistic regression on standardised codes (on one-hot genes:
  the mean absolute centred coefficient of a gene's variants), ``method="forest"`` the impurity
  importances of a random forest (the same kind of importance as boosted trees).

All functions are pure: arrays in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genomekit.metrics.classification import balanced_accuracy

__all__ = [
    "DCIResult",
    "dci",
    "discretize",
    "entropy",
    "mig",
    "mutual_information_matrix",
    "sap",
    "sap_score_matrix",
]


def discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Equal-width histogram bins per column, as disentanglement_lib's ``_histogram_discretize``.

    Args:
        codes: (N, K) continuous codes.
    Returns:
        (N, K) int64 bin indices in [1, num_bins].
    """
    codes = np.asarray(codes, dtype=np.float64)
    out = np.empty(codes.shape, dtype=np.int64)
    for k in range(codes.shape[1]):
        edges = np.histogram(codes[:, k], num_bins)[1]
        out[:, k] = np.digitize(codes[:, k], edges[:-1])
    return out


def _relabel(columns: np.ndarray) -> tuple[np.ndarray, int]:
    """Map each column's values to 0..L_k-1; returns (N, K) labels and max L."""
    labels = np.empty(columns.shape, dtype=np.int64)
    levels = 1
    for k in range(columns.shape[1]):
        _, labels[:, k] = np.unique(columns[:, k], return_inverse=True)
        levels = max(levels, int(labels[:, k].max()) + 1)
    return labels, levels


def mutual_information_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Mutual information (nats) between every discrete code column and every factor column.

    Equals ``sklearn.metrics.mutual_info_score(factors[:, a], codes[:, k])`` for each pair.

    Args:
        codes: (N, K) discrete codes (any integers).
        factors: (N, A) discrete factors.
    Returns:
        (K, A) float64.
    """
    codes, factors = np.asarray(codes), np.asarray(factors)
    n, num_codes = codes.shape
    code_labels, code_levels = _relabel(codes)
    result = np.zeros((num_codes, factors.shape[1]))
    offsets = np.arange(num_codes) * code_levels  # (K,)
    for a in range(factors.shape[1]):
        _, f = np.unique(factors[:, a], return_inverse=True)
        levels = int(f.max()) + 1
        index = ((code_labels + offsets) * levels + f[:, None]).ravel()  # (N*K,)
        joint = np.bincount(index, minlength=num_codes * code_levels * levels).reshape(num_codes, code_levels, levels)
        p_xy = joint / n  # (K, L, F)
        p_x = p_xy.sum(2, keepdims=True)
        p_y = p_xy.sum(1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p_xy > 0, p_xy * np.log(p_xy / (p_x * p_y)), 0.0)
        result[:, a] = np.clip(terms.sum((1, 2)), 0, None)
    return result


def entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each discrete column of ``factors`` (N, A) -> (A,)."""
    factors = np.asarray(factors)
    out = np.zeros(factors.shape[1])
    for a in range(factors.shape[1]):
        p = np.unique(factors[:, a], return_counts=True)[1] / len(factors)
        out[a] = -(p * np.log(p)).sum()
    return out


def mig(
    codes: np.ndarray, factors: np.ndarray, *, discrete_codes: bool = False, num_bins: int = 20
) -> tuple[float, np.ndarray]:
    """Mutual Information Gap.

    Args:
        codes: (N, K) continuous codes (discretised into ``num_bins``), or discrete codes with
            ``discrete_codes=True`` (gene sequences).
        factors: (N, A) discrete factors.
    Returns:
        The mean over factors with non-zero entropy, and the per-factor gaps (A,) (NaN for a
        constant factor).
    """
    codes = np.asarray(codes)
    discrete = codes if discrete_codes else discretize(codes, num_bins)
    m = mutual_information_matrix(discrete, factors)  # (K, A)
    h = entropy(factors)  # (A,)
    top = np.sort(m, axis=0)[::-1]  # (K, A), descending
    second = top[1] if len(top) > 1 else np.zeros(m.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(h > 0, (top[0] - second) / h, np.nan)
    return _nanmean(gaps), gaps


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def _threshold_scores(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """Per column: the best-balanced-accuracy threshold rule on train, scored on test -> (K,)."""
    n, num_codes = train.shape
    num_pos = y_train.sum()
    num_neg = n - num_pos
    if num_pos == 0 or num_neg == 0:
        return np.full(num_codes, np.nan)
    order = np.argsort(train, axis=0, kind="stable")  # (N, K)
    x_sorted = np.take_along_axis(train, order, 0)
    y_sorted = y_train[order]  # (N, K)
    # Rule "predict 1 above position j" (j samples below the threshold predicted 0), j = 0..N.
    neg_below = np.vstack([np.zeros((1, num_codes)), np.cumsum(1 - y_sorted, 0)])  # (N+1, K)
    pos_below = np.vstack([np.zeros((1, num_codes)), np.cumsum(y_sorted, 0)])
    balanced = 0.5 * (neg_below / num_neg + (num_pos - pos_below) / num_pos)  # (N+1, K)
    # A threshold can only fall between distinct values.
    valid = np.ones_like(balanced, dtype=bool)
    valid[1:-1] = x_sorted[1:] > x_sorted[:-1]
    quality = np.where(valid, np.maximum(balanced, 1 - balanced), -np.inf)
    j = (quality >= quality.max(0) - 1e-12).argmax(0)  # (K,) the lowest of (numerically) tied thresholds
    flip = balanced[j, np.arange(num_codes)] < 0.5
    padded = np.vstack([np.full((1, num_codes), -np.inf), x_sorted, np.full((1, num_codes), np.inf)])
    lower, upper = padded[j, np.arange(num_codes)], padded[j + 1, np.arange(num_codes)]
    with np.errstate(invalid="ignore"):
        threshold = np.where(
            np.isfinite(lower) & np.isfinite(upper), (lower + upper) / 2, np.where(np.isfinite(lower), lower, upper - 1)
        )
    prediction = (test > threshold).astype(np.int64)
    prediction = np.where(flip, 1 - prediction, prediction)
    return balanced_accuracy(prediction, y_test[:, None])


def _categorical_scores(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """Per discrete column: predict 1 for values whose train positive rate exceeds the overall rate."""
    num_codes = train.shape[1]
    if y_train.min() == y_train.max():
        return np.full(num_codes, np.nan)
    levels = int(max(train.max(), test.max())) + 1
    offsets = np.arange(num_codes) * levels
    counts = np.bincount((train + offsets).ravel(), minlength=num_codes * levels).reshape(num_codes, levels)
    positives = np.bincount(
        (train + offsets).ravel(), weights=np.repeat(y_train, num_codes), minlength=num_codes * levels
    )
    positives = positives.reshape(num_codes, levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        predict_one = positives / counts > y_train.mean()  # (K, L); unseen values (0/0) predict 0
    prediction = predict_one[np.arange(num_codes), test].astype(np.int64)  # (N_test, K)
    return balanced_accuracy(prediction, y_test[:, None])


def sap_score_matrix(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    *,
    discrete_codes: bool = False,
) -> np.ndarray:
    """s[k, a]: held-out balanced accuracy of predicting factor ``a`` from code ``k`` alone -> (K, A)."""
    train_codes, test_codes = np.asarray(train_codes), np.asarray(test_codes)
    train_factors, test_factors = np.asarray(train_factors, np.int64), np.asarray(test_factors, np.int64)
    score = _categorical_scores if discrete_codes else _threshold_scores
    if not discrete_codes:
        train_codes, test_codes = train_codes.astype(np.float64), test_codes.astype(np.float64)
    columns = [
        score(train_codes, train_factors[:, a], test_codes, test_factors[:, a]) for a in range(train_factors.shape[1])
    ]
    return np.stack(columns, 1)


def sap(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    *,
    discrete_codes: bool = False,
) -> tuple[float, np.ndarray]:
    """Separated Attribute Predictability: mean over factors of the gap between the two best codes.

    Returns:
        The mean, and the per-factor gaps (A,) (NaN for a factor constant in the training part).
    """
    s = sap_score_matrix(train_codes, train_factors, test_codes, test_factors, discrete_codes=discrete_codes)
    top = np.sort(s, axis=0)[::-1]
    gaps = top[0] - (top[1] if len(top) > 1 else 0.0)
    return _nanmean(gaps), gaps


@dataclass(frozen=True)
class DCIResult:
    disentanglement: float
    completeness: float
    informativeness: float  # mean test accuracy of the per-factor predictors
    importance: np.ndarray  # (K, A)


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy with log base ``base`` of each row of a non-negative matrix normalised to sum to 1."""
    total = p.sum(1, keepdims=True)
    q = np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(q > 0, q * np.log(q), 0.0).sum(1)
    return h / np.log(base)


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """(disentanglement, completeness) of an importance matrix (K codes, A factors)."""
    importance = np.abs(np.asarray(importance, np.float64))
    num_codes, num_factors = importance.shape
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    disentanglement = float("nan")
    if num_factors > 1:
        per_code = 1 - _entropy_rows(importance, num_factors)  # (K,)
        disentanglement = float((per_code * weights.sum(1) / weights.sum()).sum())
    completeness = float("nan")
    if num_codes > 1:
        per_factor = 1 - _entropy_rows(importance.T, num_codes)  # (A,)
        completeness = float((per_factor * weights.sum(0) / weights.sum()).sum())
    return disentanglement, completeness


def _one_hot(genes: np.ndarray, num_variants: int):
    import scipy.sparse

    n, num_genes = genes.shape
    columns = (genes + np.arange(num_genes) * num_variants).ravel()
    rows = np.repeat(np.arange(n), num_genes)
    return scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n, num_genes * num_variants))


def dci(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    *,
    discrete_codes: bool = False,
    num_variants: int | None = None,
    method: str = "linear",
    seed: int = 0,
) -> DCIResult:
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    Args:
        train_codes, test_codes: (N, K) continuous codes, or (N, G) gene sequences with
            ``discrete_codes=True`` (then ``num_variants`` V is needed for the one-hot encoding).
        train_factors, test_factors: (N, A) binary factors.
        method: "linear" (|L2 logistic regression coefficients|) or "forest" (random forest
            impurity importances; genes enter as integer features).
        seed: random state of the forest.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if method not in ("linear", "forest"):
        raise ValueError(f"method must be 'linear' or 'forest', got {method!r}")
    train_factors, test_factors = np.asarray(train_factors, np.int64), np.asarray(test_factors, np.int64)
    num_codes, num_factors = train_codes.shape[1], train_factors.shape[1]
    if discrete_codes and method == "linear":
        if num_variants is None:
            raise ValueError("num_variants is needed for one-hot gene codes")
        x_train, x_test = _one_hot(train_codes, num_variants), _one_hot(test_codes, num_variants)
    elif discrete_codes:
        x_train, x_test = np.asarray(train_codes, np.float64), np.asarray(test_codes, np.float64)
    else:
        scaler = StandardScaler().fit(train_codes)
        x_train, x_test = scaler.transform(train_codes), scaler.transform(test_codes)
    importance = np.zeros((num_codes, num_factors))
    accuracy = np.full(num_factors, np.nan)
    for a in range(num_factors):
        y_train, y_test = train_factors[:, a], test_factors[:, a]
        if y_train.min() == y_train.max():  # a constant factor: nothing to predict, no importance
            accuracy[a] = float((y_test == y_train[0]).mean())
            continue
        if method == "forest":
            model = RandomForestClassifier(n_estimators=50, min_samples_leaf=5, random_state=seed, n_jobs=1)
            model.fit(x_train, y_train)
            importance[:, a] = model.feature_importances_
        else:
            model = LogisticRegression(C=1.0, max_iter=1000)
            model.fit(x_train, y_train)
            coef = model.coef_[0]
            if discrete_codes:
                coef = coef.reshape(num_codes, num_variants)  # (G, V)
                importance[:, a] = np.abs(coef - coef.mean(1, keepdims=True)).mean(1)
            else:
                importance[:, a] = np.abs(coef)
        accuracy[a] = float(model.score(x_test, y_test))
    disentanglement, completeness = dci_from_importance(importance)
    return DCIResult(disentanglement, completeness, float(np.mean(accuracy)), importance)
