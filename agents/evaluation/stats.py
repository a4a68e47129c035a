"""Means with bootstrap confidence intervals, and paired differences between policies."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from agents.evaluation.rollout import SessionOutcomes
from simulators import OBJECTIVE_NAMES

TOTAL = "total"


def mean_ci(values: np.ndarray, seed: int = 0, confidence: float = 0.95, resamples: int = 2000) -> dict[str, float]:
    """Mean and percentile-bootstrap CI (scipy) of per-session values float[S]."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2 or np.all(values == values[0]):
        mean = float(values.mean()) if values.size else float("nan")
        return {"mean": mean, "low": mean, "high": mean}
    result = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
        vectorized=True,
    )
    interval = result.confidence_interval
    return {"mean": float(values.mean()), "low": float(interval.low), "high": float(interval.high)}


def per_objective(returns: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of a returns matrix float[S, M] by name, plus the scalarized total."""
    columns = {name: returns[:, i] for i, name in enumerate(OBJECTIVE_NAMES)}
    columns[TOTAL] = returns @ weights
    return columns


def summarize(
    outcomes: dict[str, SessionOutcomes], weights: np.ndarray, reference: str, seed: int = 0
) -> dict[str, Any]:
    """Per-policy means with CIs and the paired difference of `reference` to every other policy."""
    summary: dict[str, Any] = {"policies": {}, "paired_differences": {}}
    ref = per_objective(outcomes[reference].returns, weights)
    for name, outcome in outcomes.items():
        columns = per_objective(outcome.returns, weights)
        summary["policies"][name] = {key: mean_ci(value, seed) for key, value in columns.items()}
        summary["policies"][name]["session_length"] = mean_ci(outcome.lengths, seed)
        if name != reference:
            summary["paired_differences"][name] = {key: mean_ci(ref[key] - columns[key], seed) for key in columns}
    return summary


def format_table(summary: dict[str, Any], reference: str) -> str:
    """Plain-text table of the scalarized total and each objective, reference vs the rest."""
    keys = [TOTAL, *OBJECTIVE_NAMES]
    width = max(len(name) for name in summary["policies"]) + 2
    lines = [f"{'policy':<{width}}" + "".join(f"{key:>20}" for key in keys)]
    for name, row in summary["policies"].items():
        cells = "".join(f"{row[key]['mean']:>11.2f} ±{(row[key]['high'] - row[key]['low']) / 2:>7.2f}" for key in keys)
        lines.append(f"{name:<{width}}{cells}")
    for name, row in summary["paired_differences"].items():
        t = row[TOTAL]
        verdict = "better" if t["low"] > 0 else ("worse" if t["high"] < 0 else "not distinguishable")
        lines.append(
            f"{reference} - {name}: total {t['mean']:+.2f} (95% CI {t['low']:+.2f} .. {t['high']:+.2f}), {verdict}"
        )
    return "\n".join(lines)
