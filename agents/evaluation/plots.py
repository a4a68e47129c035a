"""Report figures as PNG bytes (matplotlib, Agg backend: no display needed).

Each function takes the evaluation summary (and, for distributions, per-session outcomes) and
returns one PNG, so the HTML report can embed it as base64 and the Markdown report can link it.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from agents.evaluation.rollout import SessionOutcomes  # noqa: E402
from agents.evaluation.stats import MIN_PLAYS_FOR_SKIP_RATE, TOTAL, per_objective  # noqa: E402
from simulators import OBJECTIVE_NAMES  # noqa: E402

DPI = 90


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _colors(names: list[str]) -> dict[str, Any]:
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def objective_comparison(summary: dict[str, Any]) -> bytes:
    """One panel per objective (and the total): mean and 95% CI of every policy."""
    policies = list(summary["policies"])
    keys = [TOTAL, *OBJECTIVE_NAMES]
    colors = _colors(policies)
    figure, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 0.45 * len(policies) + 1.6), sharey=True)
    y = np.arange(len(policies))
    for ax, key in zip(axes, keys, strict=False):
        rows = [summary["policies"][p][key] for p in policies]
        mean = np.array([r["mean"] for r in rows])
        err = np.array([[r["mean"] - r["low"] for r in rows], [r["high"] - r["mean"] for r in rows]])
        ax.barh(y, mean, xerr=err, color=[colors[p] for p in policies], capsize=3)
        ax.set_title(key.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.axvline(0, color="black", linewidth=0.6)
    axes[0].set_yticks(y, [summary["policies"][p]["label"] for p in policies])
    axes[0].invert_yaxis()
    figure.suptitle("Per-session return by objective (mean, 95% bootstrap CI)", fontsize=10)
    return _png(figure)


def paired_differences(summary: dict[str, Any], reference: str) -> bytes:
    """Forest plot of `reference - baseline` for the scalarized total, with 95% CIs."""
    names = list(summary["paired_differences"])
    rows = [summary["paired_differences"][n][TOTAL] for n in names]
    figure, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.4))
    y = np.arange(len(names))
    mean = np.array([r["mean"] for r in rows])
    err = np.array([[r["mean"] - r["low"] for r in rows], [r["high"] - r["mean"] for r in rows]])
    colors = ["tab:green" if r["low"] > 0 else "tab:red" if r["high"] < 0 else "tab:gray" for r in rows]
    for i, color in enumerate(colors):
        ax.errorbar(mean[i], y[i], xerr=err[:, i : i + 1], fmt="o", color=color, capsize=4)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [summary["policies"][n]["label"] for n in names])
    ax.invert_yaxis()
    ax.set_xlabel(f"{reference} - baseline, scalarized total per session (paired, 95% CI)")
    return _png(figure)


def return_distribution(outcomes: dict[str, SessionOutcomes], weights: np.ndarray, labels: dict[str, str]) -> bytes:
    """Violin plot of the scalarized per-session return of every policy."""
    names = list(outcomes)
    values = [per_objective(outcomes[n].returns, weights)[TOTAL] for n in names]
    figure, ax = plt.subplots(figsize=(max(7, 1.1 * len(names)), 3.8))
    parts = ax.violinplot(values, showmeans=True, showextrema=False)
    for body, color in zip(parts["bodies"], _colors(names).values(), strict=False):
        body.set_facecolor(color)
        body.set_alpha(0.6)
    ax.set_xticks(np.arange(1, len(names) + 1), [labels.get(n, n) for n in names], rotation=20, fontsize=8)
    pooled = np.concatenate(values)
    ax.set_ylim(np.percentile(pooled, 0.5), np.percentile(pooled, 99.5))
    ax.set_ylabel("scalarized return per session")
    ax.set_title("Distribution of session returns (bar: mean; y axis: pooled 0.5-99.5th percentile)", fontsize=10)
    return _png(figure)


def skip_by_position(summary: dict[str, Any]) -> bytes:
    """Early-skip rate by track position in the session, one curve per policy."""
    figure, ax = plt.subplots(figsize=(8, 3.8))
    colors = _colors(list(summary["policies"]))
    for name, row in summary["policies"].items():
        rates = np.array([np.nan if r is None else r for r in row["skip_rate_by_position"]], dtype=float)
        ax.plot(np.arange(1, rates.size + 1), rates, label=row["label"], color=colors[name], linewidth=1.4)
    ax.set_xlabel("track position in the session (1 = first)")
    ax.set_ylabel("early-skip rate")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(f"Skip rate by position (positions with at least {MIN_PLAYS_FOR_SKIP_RATE} plays)", fontsize=10)
    return _png(figure)


def objective_space(summary: dict[str, Any]) -> bytes:
    """Policies in (satisfaction, business) space with 95% CIs; the Pareto front is marked."""
    figure, ax = plt.subplots(figsize=(7, 5))
    colors = _colors(list(summary["policies"]))
    for name, row in summary["policies"].items():
        s, b = row["satisfaction"], row["business"]
        ax.errorbar(s["mean"], b["mean"], xerr=[[s["mean"] - s["low"]], [s["high"] - s["mean"]]],
                    yerr=[[b["mean"] - b["low"]], [b["high"] - b["mean"]]], fmt="o", color=colors[name],
                    capsize=3, label=row["label"])
    for key, style, text in (("pareto_front", "k--", "Pareto front (all)"),
                             ("pareto_front_deployable", "g:", "Pareto front (without oracle)")):
        front = summary.get(key) or []
        xs = [summary["policies"][n]["satisfaction"]["mean"] for n in front]
        ys = [summary["policies"][n]["business"]["mean"] for n in front]
        ax.plot(xs, ys, style, linewidth=1.2, label=text, marker="s", markerfacecolor="none", markersize=12)
    ax.set_xlabel("satisfaction (weighted minutes, completions, skips)")
    ax.set_ylabel("business (weighted promoted, discovery, revenue)")
    ax.legend(fontsize=7)
    ax.set_title("Policies in objective space (higher is better on both)", fontsize=10)
    return _png(figure)


def off_policy(section: dict[str, Any]) -> bytes:
    """Uniform-random click rate per campaign: on-policy truth vs off-policy estimates from BTS logs."""
    campaigns = section["campaigns"]
    estimators = ["on_policy", *campaigns[0]["estimates"]]
    figure, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / len(estimators)
    colors = _colors(estimators)
    for j, est in enumerate(estimators):
        for i, c in enumerate(campaigns):
            e = c["on_policy"] if est == "on_policy" else c["estimates"][est]
            x = i + (j - (len(estimators) - 1) / 2) * width
            ax.errorbar(x, 100 * e["value"], yerr=[[100 * (e["value"] - e["low"])], [100 * (e["high"] - e["value"])]],
                        fmt="o" if est == "on_policy" else "s", color=colors[est], capsize=3,
                        label=est.replace("_", " ") if i == 0 else None)
    ax.set_xticks(range(len(campaigns)), [c["campaign"] for c in campaigns])
    ax.set_ylabel("click rate (%)")
    ax.legend(fontsize=7, ncol=len(estimators))
    ax.set_title("Uniform-random policy on OBD: on-policy vs off-policy from BTS logs (95% CI)", fontsize=10)
    return _png(figure)
