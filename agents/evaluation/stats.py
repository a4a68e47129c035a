"""Means with bootstrap confidence intervals, paired differences, and the Pareto front.

`summarize` turns per-session outcomes into the ``policies`` / ``paired_differences`` /
``pareto_front`` part of `evaluation.json` and `report.json` (schema in
`agents.evaluation.report`). Every interval is a 95% percentile bootstrap over sessions
(scipy.stats.bootstrap); differences are paired per session, which common random numbers make
meaningful: session i of every policy is the same user with the same random streams.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from agents.evaluation.rollout import SessionOutcomes
from simulators import OBJECTIVE_NAMES

TOTAL = "total"
#: Objective groups that span the objective-space plot: satisfaction vs business.
SATISFACTION = ("listening_minutes", "completions", "skips")
BUSINESS = ("promoted_streams", "discovery", "revenue")
#: Skip rates are reported at positions with at least this many plays (else null).
MIN_PLAYS_FOR_SKIP_RATE = 50


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


def group_returns(returns: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted satisfaction and business returns per session: float[S] each."""
    index = {name: i for i, name in enumerate(OBJECTIVE_NAMES)}
    return {
        group: returns[:, [index[n] for n in names]] @ weights[[index[n] for n in names]]
        for group, names in (("satisfaction", SATISFACTION), ("business", BUSINESS))
    }


def skip_rate_by_position(outcome: SessionOutcomes) -> list[float | None]:
    """Early-skip share of tracks started at each session position (null where plays are too few)."""
    plays, skips = outcome.plays_by_position, outcome.early_skips_by_position
    last = int(np.max(np.nonzero(plays >= MIN_PLAYS_FOR_SKIP_RATE)[0], initial=-1)) + 1
    pairs = zip(skips[:last], plays[:last], strict=True)
    return [float(s / p) if p >= MIN_PLAYS_FOR_SKIP_RATE else None for s, p in pairs]


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names of the non-dominated points when both coordinates are maximised."""
    front = []
    for name, (x, y) in points.items():
        dominated = any(
            (ox >= x and oy >= y) and (ox > x or oy > y) for other, (ox, oy) in points.items() if other != name
        )
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: points[n][0])


def summarize(
    outcomes: dict[str, SessionOutcomes],
    weights: np.ndarray,
    reference: str,
    seed: int = 0,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Per-policy metrics with CIs, paired differences `reference - other`, and the Pareto front."""
    weights = np.asarray(weights, dtype=np.float64)
    summary: dict[str, Any] = {"policies": {}, "paired_differences": {}}
    ref = outcomes[reference].returns
    ref_columns = {**per_objective(ref, weights), **group_returns(ref, weights)}
    for name, outcome in outcomes.items():
        columns = {**per_objective(outcome.returns, weights), **group_returns(outcome.returns, weights)}
        row: dict[str, Any] = {"label": (labels or {}).get(name, name)}
        row.update({key: mean_ci(value, seed) for key, value in columns.items()})
        row["session_length"] = mean_ci(outcome.lengths, seed)
        row["tracks"] = mean_ci(outcome.tracks, seed)
        row["artist_diversity"] = mean_ci(outcome.artist_diversity[outcome.tracks > 0], seed)
        row["catalog_coverage"] = float(np.mean(outcome.items_played > 0))
        row["skip_rate_by_position"] = skip_rate_by_position(outcome)
        summary["policies"][name] = row
        if name != reference:
            summary["paired_differences"][name] = {
                key: mean_ci(ref_columns[key] - value, seed) for key, value in columns.items()
            }
    points = {n: (p["satisfaction"]["mean"], p["business"]["mean"]) for n, p in summary["policies"].items()}
    summary["pareto_front"] = pareto_front(points)
    return summary


def share_ci(numerator: np.ndarray, tracks: np.ndarray, seed: int = 0, resamples: int = 2000) -> dict[str, float]:
    """Ratio sum(numerator) / sum(tracks) over sessions with a paired percentile-bootstrap CI."""
    numerator, tracks = np.asarray(numerator, np.float64), np.asarray(tracks, np.float64)
    mean = float(numerator.sum() / max(tracks.sum(), 1.0))
    if numerator.size < 2:
        return {"mean": mean, "low": mean, "high": mean}
    result = stats.bootstrap(
        (numerator, tracks),
        lambda a, b, axis=-1: a.sum(axis=axis) / np.maximum(b.sum(axis=axis), 1.0),
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return {"mean": mean, "low": float(interval.low), "high": float(interval.high)}


def constraint_summary(
    outcomes: dict[str, SessionOutcomes], objective: str, floor: float, reference: str, seed: int = 0
) -> dict[str, Any]:
    """Per-track share of `objective` per ranker with CIs, and whether `reference` meets `floor`.

    The verdict is "holds" when the whole 95% CI is at or above the floor, "violated" when it is
    below, and "not distinguishable" when the CI straddles it.
    """
    index = OBJECTIVE_NAMES.index(objective)
    shares = {name: share_ci(o.returns[:, index], o.tracks, seed) for name, o in outcomes.items()}
    ref = shares[reference]
    holds = "holds" if ref["low"] >= floor else ("violated" if ref["high"] < floor else "not distinguishable")
    return {"objective": objective, "floor": floor, "per": "track started", "shares": shares, "verdict": holds}


def verdict(difference: dict[str, float]) -> str:
    """'better' / 'worse' when the CI of a paired difference excludes 0, else 'not distinguishable'."""
    if difference["low"] > 0:
        return "better"
    return "worse" if difference["high"] < 0 else "not distinguishable"


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
        lines.append(
            f"{reference} - {name}: total {t['mean']:+.2f} (95% CI {t['low']:+.2f} .. {t['high']:+.2f}), {verdict(t)}"
        )
    return "\n".join(lines)
