"""Held-out scoring of a response model against simple baselines, the numbers the gates read.

The protocol is strong generalization: users the model has not seen are folded in on the
first share of their events by time, and every metric is computed on the rest. Baselines see
only the training log (they have no per-user parameters to fold in), which is what "better
than what a team would do without a model" means here:

- `global`: the training rate;
- `item`: per-item rate shrunk to the global rate with `item_prior_strength` pseudo-events;
- `duration_bucket`: rate per decile of log duration;
- `position`: rate per session position (only when both logs have a `position` column).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simulators.calibration import metrics
from simulators.calibration.likelihood import ResponseModel, fold_in, split_by_time, with_user_events

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Baselines:
    """Rates of every scored event from a training log, for the four baselines.

    Attributes:
        global_rate: float[E]; item_ids: int64[I]; item_rate: float[I, E];
        duration_edges: float[9] log-duration decile edges; duration_rate: float[10, E];
        position_rate: float[P, E] or None (row p-1 = position p, last row for >= P).
    """

    global_rate: np.ndarray
    item_ids: np.ndarray
    item_rate: np.ndarray
    duration_edges: np.ndarray
    duration_rate: np.ndarray
    position_rate: np.ndarray | None

    @classmethod
    def fit(cls, frame: pd.DataFrame, outcomes: np.ndarray, item_prior_strength: float = 5.0) -> Baselines:
        """`outcomes`: int8[R, E] scored events of the training log `frame`."""
        y = outcomes.astype(np.float64)
        rate = y.mean(axis=0)
        item_ids, item = np.unique(frame["item_id"].to_numpy(), return_inverse=True)
        sums = np.stack([np.bincount(item, y[:, e], len(item_ids)) for e in range(y.shape[1])], axis=1)
        counts = np.bincount(item, minlength=len(item_ids))[:, None]
        item_rate = (sums + item_prior_strength * rate) / (counts + item_prior_strength)
        log_d = np.log(frame["item_duration_s"].to_numpy())
        edges = np.quantile(log_d, np.linspace(0, 1, 11)[1:-1])
        bucket = np.searchsorted(edges, log_d)
        duration_rate = _group_rates(bucket, y, 10, rate)
        position_rate = None
        if "position" in frame.columns:
            position = np.minimum(frame["position"].to_numpy(), 50) - 1
            position_rate = _group_rates(position, y, int(position.max()) + 1, rate)
        return cls(rate, item_ids, item_rate, edges, duration_rate, position_rate)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for an NPZ file (keys prefixed `baseline_`; no pickles)."""
        out = {
            f"baseline_{k}": getattr(self, k)
            for k in ("global_rate", "item_ids", "item_rate", "duration_edges", "duration_rate")
        }
        if self.position_rate is not None:
            out["baseline_position_rate"] = self.position_rate
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> Baselines:
        get = {
            k: np.asarray(arrays[f"baseline_{k}"])
            for k in ("global_rate", "item_ids", "item_rate", "duration_edges", "duration_rate")
        }
        files = getattr(arrays, "files", list(arrays))
        position = np.asarray(arrays["baseline_position_rate"]) if "baseline_position_rate" in files else None
        return cls(position_rate=position, **get)

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Baseline name -> float[R, E] predictions for `frame`."""
        r = len(frame)
        items = frame["item_id"].to_numpy()
        index = np.minimum(np.searchsorted(self.item_ids, items), len(self.item_ids) - 1)
        known = self.item_ids[index] == items
        out = {
            "global": np.tile(self.global_rate, (r, 1)),
            "item": np.where(known[:, None], self.item_rate[index], self.global_rate),
            "duration_bucket": self.duration_rate[
                np.searchsorted(self.duration_edges, np.log(frame["item_duration_s"].to_numpy()))
            ],
        }
        if self.position_rate is not None and "position" in frame.columns:
            position = np.minimum(frame["position"].to_numpy(), len(self.position_rate)) - 1
            out["position"] = self.position_rate[position]
        return out


def _group_rates(group: np.ndarray, y: np.ndarray, groups: int, prior: np.ndarray, strength: float = 1.0) -> np.ndarray:
    counts = np.bincount(group, minlength=groups)[:, None]
    sums = np.stack([np.bincount(group, y[:, e], groups) for e in range(y.shape[1])], axis=1)
    return (sums + strength * prior) / (counts + strength)


@dataclass(frozen=True)
class ScoredEvents:
    """Predictions on the evaluated events (after fold-in).

    Attributes:
        frame: the evaluated rows; outcomes: int8[R, E]; model: float[R, E];
        baselines: name -> float[R, E]; user_id: int64[R] (bootstrap clusters).
    """

    frame: Any
    outcomes: np.ndarray
    model: np.ndarray
    baselines: dict[str, np.ndarray]
    user_id: np.ndarray


def predict_held_out(
    model: ResponseModel, baselines: Baselines, frame: pd.DataFrame, fold_in_share: float
) -> ScoredEvents:
    """Fold unseen users in on their first events, then predict the rest (known users: all rows)."""
    frame = with_user_events(frame)
    seen = np.isin(frame["user_id"].to_numpy(), model.user_ids)
    first, rest = split_by_time(frame, fold_in_share)
    folded = fold_in(model, frame[~seen & first])
    evaluated = frame[seen | rest]
    new_rows = evaluated[~np.isin(evaluated["user_id"].to_numpy(), model.user_ids)]
    old_rows = evaluated[np.isin(evaluated["user_id"].to_numpy(), model.user_ids)]
    parts = []
    for part, which in ((old_rows, model), (new_rows, folded)):
        if len(part):
            data = which.arrays(part)
            parts.append((part, data.outcomes, which.predict(data)))
    import pandas as pd

    frame_out = pd.concat([p[0] for p in parts])
    return ScoredEvents(
        frame=frame_out,
        outcomes=np.concatenate([p[1] for p in parts]),
        model=np.concatenate([p[2] for p in parts]),
        baselines=baselines.predict(frame_out),
        user_id=frame_out["user_id"].to_numpy(),
    )


def score_report(
    scored: ScoredEvents, event_names: tuple[str, ...], draws: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The per-response JSON block: model metrics, each baseline's, and the paired gain.

    `log_loss_gain` is the best baseline's log-loss minus the model's (positive = model
    better), with a 95 % user-bootstrap CI; the best baseline is the one with the lowest
    log-loss on these very events, which favours the baselines.
    """
    out: dict[str, Any] = {}
    for e, name in enumerate(event_names):
        y, p = scored.outcomes[:, e], scored.model[:, e]
        block: dict[str, Any] = metrics.binary_metrics(y, p, scored.user_id, seed=seed)
        block["baselines"] = {
            base: metrics.binary_metrics(y, q[:, e], scored.user_id, draws=50, seed=seed)
            for base, q in scored.baselines.items()
        }
        best = min(block["baselines"], key=lambda b: block["baselines"][b]["log_loss"])
        diff = metrics.pointwise_log_loss(y, scored.baselines[best][:, e]) - metrics.pointwise_log_loss(y, p)
        block["best_baseline"] = best
        block["log_loss_gain"] = float(diff.mean())
        block["log_loss_gain_ci"] = list(metrics.cluster_bootstrap_ci(diff, scored.user_id, draws, seed=seed))
        block["reliability"] = metrics.reliability_curve(y, p)
        out[name] = block
    return out
