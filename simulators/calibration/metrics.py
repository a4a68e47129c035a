"""Scores of probabilistic predictions of binary outcomes, and their uncertainty.

All functions take `y: int/bool[n]` outcomes and `p: float[n]` predicted probabilities. ECE
uses equal-count bins (15 by default), so every bin has the same statistical weight; its noise
floor is measured by `ece_null_quantile`, the ECE of outcomes drawn from the model's own
probabilities, because even a perfect model has an ECE of 0.01-0.02 on a few thousand events.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

EPS = 1e-12


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood in nats."""
    return float(np.mean(pointwise_log_loss(y, p)))


def pointwise_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-event negative log-likelihood: float[n]."""
    p = np.clip(p, EPS, 1 - EPS)
    return -np.where(np.asarray(y) > 0, np.log(p), np.log1p(-p))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probabilities."""
    return float(np.mean((np.asarray(p) - np.asarray(y)) ** 2))


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); NaN if one class."""
    y = np.asarray(y) > 0
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def equal_count_bins(p: np.ndarray, num_bins: int = 15) -> list[np.ndarray]:
    """Indices of `num_bins` bins of (nearly) equal size after sorting by `p`."""
    return np.array_split(np.argsort(p, kind="stable"), min(num_bins, len(p)))


def ece(y: np.ndarray, p: np.ndarray, num_bins: int = 15) -> float:
    """Expected calibration error: sum over bins of (n_b / n) * |mean y_b - mean p_b|."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    return float(sum(len(b) * abs(y[b].mean() - p[b].mean()) for b in equal_count_bins(p, num_bins)) / len(p))


def ece_null_quantile(
    p: np.ndarray, num_bins: int = 15, quantile: float = 0.95, draws: int = 1000, seed: int = 0
) -> float:
    """Quantile of the ECE when outcomes are Bernoulli(p): miscalibration not detectable below it."""
    p = np.asarray(p, dtype=np.float64)
    rng = np.random.default_rng(seed)
    bins = equal_count_bins(p, num_bins)
    samples = rng.random((draws, len(p))) < p
    values = np.zeros(draws)
    for b in bins:
        values += len(b) * np.abs(samples[:, b].mean(axis=1) - p[b].mean())
    return float(np.quantile(values / len(p), quantile))


def reliability_curve(y: np.ndarray, p: np.ndarray, num_bins: int = 15) -> dict[str, list[float]]:
    """Per equal-count bin: mean prediction, observed rate and its binomial SE (for plots)."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    bins = equal_count_bins(p, num_bins)
    observed = [float(y[b].mean()) for b in bins]
    return {
        "mean_pred": [float(p[b].mean()) for b in bins],
        "observed": observed,
        "se": [float(np.sqrt(max(o * (1 - o), 1e-12) / len(b))) for o, b in zip(observed, bins)],
        "count": [int(len(b)) for b in bins],
    }


def cluster_bootstrap_ci(
    values: np.ndarray, groups: np.ndarray, draws: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile CI of the mean of `values` (float[n]), resampling whole groups (e.g. users).

    Events of one user are correlated, so resampling events would understate the uncertainty.
    """
    _, group_index = np.unique(groups, return_inverse=True)
    sums = np.bincount(group_index, weights=values)
    counts = np.bincount(group_index).astype(np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(draws, len(sums)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def binary_metrics(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray, num_bins: int = 15, draws: int = 200, seed: int = 0
) -> dict[str, float | list[float] | int]:
    """The per-response metric block of the fidelity report, with user-bootstrap CIs.

    Returns n, log_loss (+ _ci), brier (+ _ci), auc (+ _ci), ece, ece_null_p95, mean_pred,
    mean_obs and mean_se: the user-clustered (sandwich) SE of mean_obs - mean_pred, because a
    user's events share that user's propensity and a binomial SE would be several times too small.
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    _, group_index = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(seed)
    members = np.split(np.argsort(group_index, kind="stable"), np.cumsum(np.bincount(group_index))[:-1])
    boot: dict[str, list[float]] = {"log_loss": [], "brier": [], "auc": []}
    for _ in range(draws):
        rows = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
        boot["log_loss"].append(log_loss(y[rows], p[rows]))
        boot["brier"].append(brier(y[rows], p[rows]))
        boot["auc"].append(auc(y[rows], p[rows]))
    mean_obs = float(y.mean())
    residual_by_user = np.bincount(group_index, weights=y - p)
    out: dict[str, float | list[float] | int] = {
        "n": int(len(y)),
        "log_loss": log_loss(y, p),
        "brier": brier(y, p),
        "auc": auc(y, p),
        "ece": ece(y, p, num_bins),
        "ece_null_p95": ece_null_quantile(p, num_bins, seed=seed),
        "mean_pred": float(p.mean()),
        "mean_obs": mean_obs,
        "mean_se": float(np.sqrt(np.sum(residual_by_user**2)) / len(y)),
    }
    for name, values in boot.items():
        out[f"{name}_ci"] = [float(np.nanquantile(values, 0.025)), float(np.nanquantile(values, 0.975))]
    return out
