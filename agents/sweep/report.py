"""The sweep report: learned front vs boosted-greedy front, hypervolumes, non-dominated policies.

`write_sweep_report` writes to the sweep's `--out` folder:

    sweep.json     machine-readable, schema below
    sweep.md       tables, linking plots/pareto.png
    sweep.html     self-contained (the plot embedded)
    plots/pareto.png
    tb/sweep/      TensorBoard: the Pareto plot as an image, hypervolumes as scalars

sweep.json ("segue-sweep/1"): settings {objectives, weights, seeds, boost_weights, scales,
evaluation_sessions, evaluation_seed, reference, reference_source}; trials [{name, weights,
seed, objectives {<objective>: {mean, low, high}}, train_seconds}]; learned [{weights, seeds,
point [per sweep objective, mean over seeds], non_dominated}]; boosted_greedy [{boost, point,
non_dominated}]; hypervolume {learned, boosted_greedy, ratio (learned / boosted_greedy)};
random {<objective>: {mean, low, high}}; seconds {trials, total}.

The learned front uses each weight vector's mean over its seeds (evaluated on the same users),
not the best seed, so a lucky seed cannot inflate it. Hypervolumes share one reference point:
by default the random ranker's per-session means, the floor below which a policy is worse
than serving at random; a point contributes only where it beats the reference everywhere.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from agents.evaluation.report import Table, format_ci, render_html, render_markdown  # noqa: E402
from agents.export import atomic_write_bytes, atomic_write_json  # noqa: E402
from agents.sweep.config import SweepConfig  # noqa: E402
from agents.sweep.fronts import hypervolume, non_dominated  # noqa: E402

SCHEMA = "segue-sweep/1"


@dataclass(frozen=True)
class TrialPoint:
    """One evaluated policy: a trial (weights, seed) or a baseline (weights = [boost])."""

    name: str
    weights: list[float]
    seed: int
    objectives: dict[str, dict[str, float]]
    train_seconds: float

    def point(self, objectives: list[str]) -> np.ndarray:
        return np.array([self.objectives[name]["mean"] for name in objectives])


@dataclass(frozen=True)
class SweepResult:
    """Everything the report shows."""

    sweep: SweepConfig
    trials: list[TrialPoint]
    boosted_greedy: list[TrialPoint]
    random: dict[str, dict[str, float]]
    trial_seconds: float
    total_seconds: float


def learned_front(result: SweepResult) -> list[dict[str, Any]]:
    """Per weight vector: the mean point over its seeds, and whether it is non-dominated."""
    objectives = result.sweep.objectives
    rows = []
    for weights in result.sweep.weights:
        runs = [t for t in result.trials if t.weights == list(weights)]
        if runs:
            point = np.mean([t.point(objectives) for t in runs], axis=0)
            rows.append({"weights": list(weights), "seeds": [t.seed for t in runs], "point": point.tolist()})
    mask = non_dominated(np.array([r["point"] for r in rows])) if rows else []
    for row, keep in zip(rows, mask, strict=True):
        row["non_dominated"] = bool(keep)
    return rows


def greedy_front(result: SweepResult) -> list[dict[str, Any]]:
    objectives = result.sweep.objectives
    points = np.array([g.point(objectives) for g in result.boosted_greedy])
    mask = non_dominated(points)
    return [
        {"boost": g.weights[0], "point": p.tolist(), "non_dominated": bool(m)}
        for g, p, m in zip(result.boosted_greedy, points, mask, strict=True)
    ]


def reference_point(result: SweepResult) -> tuple[np.ndarray, str]:
    if isinstance(result.sweep.reference, list):
        return np.asarray(result.sweep.reference, dtype=np.float64), "explicit (sweep config)"
    return np.array([result.random[n]["mean"] for n in result.sweep.objectives]), "random ranker means"


def sweep_summary(result: SweepResult) -> dict[str, Any]:
    sweep = result.sweep
    learned, greedy = learned_front(result), greedy_front(result)
    reference, source = reference_point(result)
    hv_learned = hypervolume(np.array([r["point"] for r in learned]), reference)
    hv_greedy = hypervolume(np.array([g["point"] for g in greedy]), reference)
    return {
        "schema": SCHEMA,
        "settings": {
            "objectives": sweep.objectives,
            "weights": sweep.weights,
            "seeds": sweep.seeds,
            "boost_weights": sweep.boost_weights,
            "scales": sweep.scales,
            "evaluation_sessions": sweep.evaluation_sessions,
            "evaluation_seed": sweep.evaluation_seed,
            "reference": reference.tolist(),
            "reference_source": source,
        },
        "trials": [
            {"name": t.name, "weights": t.weights, "seed": t.seed, "objectives": t.objectives,
             "train_seconds": t.train_seconds}
            for t in result.trials
        ],
        "learned": learned,
        "boosted_greedy": greedy,
        "hypervolume": {
            "learned": hv_learned,
            "boosted_greedy": hv_greedy,
            "ratio": hv_learned / hv_greedy if hv_greedy > 0 else None,
        },
        "random": result.random,
        "seconds": {"trials": round(result.trial_seconds, 1), "total": round(result.total_seconds, 1)},
    }


def pareto_plot(summary: dict[str, Any]) -> bytes:
    """Learned front (per-weight means, trials faint) beside the boosted-greedy front; PNG bytes."""
    objectives = summary["settings"]["objectives"]
    pairs = [(0, 1)] if len(objectives) == 2 else [(0, 1), (0, 2), (1, 2)]
    figure, axes = plt.subplots(1, len(pairs), figsize=(6.2 * len(pairs), 4.8), squeeze=False)
    trials = np.array([[t["objectives"][n]["mean"] for n in objectives] for t in summary["trials"]])
    learned = np.array([r["point"] for r in summary["learned"]])
    greedy = np.array([g["point"] for g in summary["boosted_greedy"]])
    reference = np.array(summary["settings"]["reference"])
    for ax, (i, j) in zip(axes[0], pairs, strict=True):
        if len(trials):
            ax.scatter(trials[:, i], trials[:, j], s=14, color="tab:blue", alpha=0.3, label="trial (one seed)")
        order = np.argsort(learned[:, i])
        ax.plot(learned[order, i], learned[order, j], "o-", color="tab:blue", label="learned (mean over seeds)")
        order = np.argsort(greedy[:, i])
        ax.plot(greedy[order, i], greedy[order, j], "s--", color="tab:orange", label="boosted greedy (boost swept)")
        for g in summary["boosted_greedy"]:
            ax.annotate(f"{g['boost']:g}", (g["point"][i], g["point"][j]), fontsize=7, color="tab:orange",
                        xytext=(3, 3), textcoords="offset points")
        ax.scatter([reference[i]], [reference[j]], marker="x", color="black", label="HV reference")
        ax.set_xlabel(f"{objectives[i]} per session")
        ax.set_ylabel(f"{objectives[j]} per session")
        ax.grid(alpha=0.3)
    hv = summary["hypervolume"]
    ratio = "n/a" if hv["ratio"] is None else f"{hv['ratio']:.2f}"
    axes[0][0].set_title(f"Hypervolume learned {hv['learned']:.3g} vs boosted greedy {hv['boosted_greedy']:.3g} "
                         f"(ratio {ratio})", fontsize=9)
    axes[0][0].legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _tables(summary: dict[str, Any]) -> list[Table]:
    objectives = summary["settings"]["objectives"]
    by_weights = {tuple(r["weights"]): r for r in summary["learned"]}
    front = [t for t in summary["trials"] if by_weights.get(tuple(t["weights"]), {}).get("non_dominated")]
    return [
        ("Non-dominated learned policies (by their weight vector's mean over seeds): mean [95% CI] per session",
         ["trial", *objectives],
         [[t["name"], *(format_ci(t["objectives"][n]) for n in objectives)] for t in front]),
        ("Learned front: weight vector -> mean over seeds",
         ["weights", "seeds", *objectives, "non-dominated"],
         [[str(r["weights"]), str(r["seeds"]), *(f"{v:.2f}" for v in r["point"]), "yes" if r["non_dominated"] else ""]
          for r in summary["learned"]]),
        ("Boosted-greedy front: promoted boost -> per-session means",
         ["boost", *objectives, "non-dominated"],
         [[f"{g['boost']:g}", *(f"{v:.2f}" for v in g["point"]), "yes" if g["non_dominated"] else ""]
          for g in summary["boosted_greedy"]]),
        ("All trials", ["trial", "train seconds", *objectives],
         [[t["name"], f"{t['train_seconds']:.0f}", *(format_ci(t["objectives"][n]) for n in objectives)]
          for t in summary["trials"]]),
    ]


def _notes(summary: dict[str, Any]) -> list[str]:
    s, hv = summary["settings"], summary["hypervolume"]
    ratio = "n/a" if hv["ratio"] is None else f"{hv['ratio']:.3f}"
    return [
        f"Objectives: {', '.join(s['objectives'])} (maximised; skips enter as negative counts). "
        f"{len(s['weights'])} weight vectors x {len(s['seeds'])} seeds, weights in '{s['scales']}' units.",
        f"Every policy is evaluated on the same {s['evaluation_sessions']} simulated users (seed "
        f"{s['evaluation_seed']}).",
        f"Hypervolume (exact) above the reference {np.round(s['reference'], 3).tolist()} ({s['reference_source']}): "
        f"learned {hv['learned']:.4g}, boosted greedy {hv['boosted_greedy']:.4g}, ratio {ratio}.",
        f"Wall time: trials {summary['seconds']['trials']:.0f} s, whole sweep {summary['seconds']['total']:.0f} s.",
    ]


def write_sweep_report(result: SweepResult, out: Path) -> dict[str, Any]:
    """Write sweep.json/.md/.html, plots/pareto.png and the TensorBoard image to `out`."""
    out = Path(out)
    summary = sweep_summary(result)
    png = pareto_plot(summary)
    figures = {"pareto": ("Learned Pareto front vs the boosted-greedy front", png)}
    title = f"Segue Pareto sweep: {result.sweep.name}"
    notes, tables = _notes(summary), _tables(summary)
    atomic_write_bytes(out / "plots" / "pareto.png", png)
    atomic_write_json(out / "sweep.json", summary)
    atomic_write_bytes(out / "sweep.md", render_markdown(title, notes, tables, figures).encode())
    atomic_write_bytes(out / "sweep.html", render_html(title, notes, tables, figures).encode())
    _tensorboard(out / "tb" / "sweep", png, summary)
    return summary


def _tensorboard(folder: Path, png: bytes, summary: dict[str, Any]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    image = plt.imread(io.BytesIO(png), format="png")
    with SummaryWriter(str(folder)) as writer:
        writer.add_image("sweep/pareto_front", image[..., :3], dataformats="HWC")
        writer.add_scalar("sweep/hypervolume_learned", summary["hypervolume"]["learned"])
        writer.add_scalar("sweep/hypervolume_boosted_greedy", summary["hypervolume"]["boosted_greedy"])
