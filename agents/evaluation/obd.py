"""Off-policy estimates on real logs: the Open Bandit Dataset (ZOZOTOWN, Saito et al. 2021).

OBD logged the same widget under two policies, uniform random and Bernoulli Thompson sampling
(BTS), with the true propensity of every shown (item, position). That makes a real-data check
of the estimators: estimate the *uniform-random* policy's click rate from the BTS logs
(off-policy) and compare it with the click rate the random logs measured on-policy.

Each row is one slot impression (there are no session or slate ids in the sample), so the
estimators run per (item, position) round: the target probability of the shown item at its
position is 1 / n_items, the logging one is `propensity_score`. Summed over the three slots this
is independent IPS; per slot it is plain IPS/SNIPS/DR. BTS propensities go down to 8e-5, so
they are clipped from below at `min_propensity` (default 1e-3, i.e. weights of at most
1 / (1e-3 n_items)) before weighting, as the dataset README advises; the number of clipped rows
is reported. The direct method's reward model is the smoothed click rate per (item, position),
refitted inside every bootstrap resample so that its CI includes the model's own uncertainty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.evaluation import ope

CAMPAIGNS = ("all", "men", "women")
LOG_COLUMNS = ("item_id", "position", "click", "propensity_score")
POSITIONS = 3
#: Pseudo-impressions at the overall click rate added to every (item, position) cell of the DM model.
PRIOR_IMPRESSIONS = 200.0


class LogValidationError(ValueError):
    """A log violates its schema; the message names the file, the columns and the rows."""


def _rows(index: pd.Index, limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in index[:limit])
    return f"rows [{shown}{', ...' if len(index) > limit else ''}] ({len(index)} rows)"


def validate_log(frame: pd.DataFrame, n_items: int, source: str) -> pd.DataFrame:
    """Check an OBD-style log; returns it, or raises LogValidationError listing every problem.

    Rejects missing columns, NaNs, propensities <= 0 or > 1, clicks other than 0/1, positions
    outside 1..3 and item ids unknown to the campaign's item context (outside 0..n_items-1).
    """
    missing = [c for c in LOG_COLUMNS if c not in frame.columns]
    if missing:
        raise LogValidationError(f"{source}: missing column(s) {missing}; a log needs {list(LOG_COLUMNS)}")
    problems = []
    for column in LOG_COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce")
        nan = frame.index[values.isna()]
        if len(nan):
            problems.append(f"column '{column}': {_rows(nan)} are missing or not numbers")
    p = pd.to_numeric(frame["propensity_score"], errors="coerce")
    checks = {
        "propensity_score": (p <= 0) | (p > 1),
        "click": ~frame["click"].isin([0, 1]) & frame["click"].notna(),
        "position": ~frame["position"].isin(range(1, POSITIONS + 1)) & frame["position"].notna(),
        "item_id": ~frame["item_id"].isin(range(n_items)) & frame["item_id"].notna(),
    }
    rules = {
        "propensity_score": "are <= 0 or > 1 (propensities must lie in (0, 1])",
        "click": "are not 0 or 1",
        "position": f"are outside 1..{POSITIONS}",
        "item_id": f"are unknown items (the item context has ids 0..{n_items - 1})",
    }
    for column, bad in checks.items():
        rows = frame.index[bad.fillna(False).to_numpy(bool)]
        if len(rows):
            problems.append(f"column '{column}': {_rows(rows)} {rules[column]}")
    if problems:
        raise LogValidationError(f"{source}: invalid log\n  " + "\n  ".join(problems))
    return frame


def load_log(data_dir: Path, policy: str, campaign: str) -> tuple[pd.DataFrame, int]:
    """One validated OBD log and its campaign's item count."""
    items = pd.read_csv(data_dir / f"{policy}_{campaign}_item_context.csv")
    path = data_dir / f"{policy}_{campaign}.csv.gz"
    frame = pd.read_csv(path, usecols=lambda c: c in LOG_COLUMNS)
    return validate_log(frame, len(items), path.name), len(items)


def _dm_dr(item: np.ndarray, position: np.ndarray, click: np.ndarray, w: np.ndarray, n_items: int,
           axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """DM and DR estimates with the (item, position) click model refitted on the given rows.

    Vectorised over leading resample axes: inputs float[..., n]; returns two float[...].
    """
    cell = (item * POSITIONS + position - 1).astype(np.int64)
    lead = cell.shape[:-1]
    flat = cell.reshape(-1, cell.shape[-1]) + (np.arange(int(np.prod(lead, dtype=np.int64)))[:, None]
                                               * n_items * POSITIONS)
    size = flat.shape[0] * n_items * POSITIONS
    shows = np.bincount(flat.ravel(), minlength=size).reshape(-1, n_items, POSITIONS)
    clicks = np.bincount(flat.ravel(), weights=click.reshape(-1, click.shape[-1]).ravel(), minlength=size)
    clicks = clicks.reshape(-1, n_items, POSITIONS)
    rate = clicks.sum(axis=(1, 2)) / shows.sum(axis=(1, 2))
    model = (clicks + PRIOR_IMPRESSIONS * rate[:, None, None]) / (shows + PRIOR_IMPRESSIONS)  # [R, items, 3]
    target_value = model.mean(axis=1)  # uniform over items, per position: [R, 3]
    rows = np.arange(flat.shape[0])[:, None]
    pos = (position.reshape(flat.shape) - 1).astype(np.int64)
    q_target = target_value[rows, pos]
    q_logged = model.reshape(flat.shape[0], -1)[rows, cell.reshape(flat.shape)]
    residual = w.reshape(flat.shape) * (click.reshape(flat.shape) - q_logged)
    dm, dr = q_target.mean(axis=1), (q_target + residual).mean(axis=1)
    return dm.reshape(lead), dr.reshape(lead)


def _model_estimate(
    name: str, index: int, columns: tuple[np.ndarray, ...], n_items: int, seed: int
) -> ope.Estimate:
    def statistic(*cols: np.ndarray, axis: int = -1) -> np.ndarray:
        return _dm_dr(*cols, n_items=n_items)[index]

    return ope.bootstrap(name, columns, statistic, seed, resamples=1000)


def random_policy_click_rate(
    data_dir: Path, campaign: str, min_propensity: float = 1e-3, seed: int = 0
) -> dict[str, Any]:
    """Uniform-random click rate of one campaign: on-policy from random logs, off-policy from BTS logs."""
    random_log, n_items = load_log(data_dir, "random", campaign)
    bts, n_bts_items = load_log(data_dir, "bts", campaign)
    if n_bts_items != n_items:
        raise LogValidationError(
            f"campaign {campaign}: random and bts item contexts differ ({n_items} vs {n_bts_items} items)"
        )
    click = bts["click"].to_numpy(np.float64)
    logging = bts["propensity_score"].to_numpy(np.float64)
    target = np.full_like(logging, 1.0 / n_items)
    w = target / np.maximum(logging, min_propensity)
    cols = (bts["item_id"].to_numpy(np.float64), bts["position"].to_numpy(np.float64), click, w)
    on_policy = ope.bootstrap("on_policy", (random_log["click"].to_numpy(np.float64),), ope._mean, seed)
    estimates = [
        ope.ips(click, target, logging, min_propensity, seed),
        ope.snips(click, target, logging, min_propensity, seed),
        _model_estimate("direct_method", 0, cols, n_items, seed),
        _model_estimate("doubly_robust", 1, cols, n_items, seed),
    ]
    return {
        "campaign": campaign,
        "items": n_items,
        "random_rows": len(random_log),
        "random_clicks": int(random_log["click"].sum()),
        "bts_rows": len(bts),
        "bts_clicks": int(click.sum()),
        "clipped_rows": int((logging < min_propensity).sum()),
        "on_policy": on_policy.to_dict(),
        "estimates": {e.estimator: e.to_dict() for e in estimates},
    }


def random_policy_report(data_dir: Path, min_propensity: float = 1e-3, seed: int = 0) -> dict[str, Any]:
    """The `off_policy` section of report.json: every campaign of `random_policy_click_rate`."""
    return {
        "data": "Open Bandit Dataset (ZOZOTOWN), shared sample",
        "target": "uniform random over the campaign's items, per position",
        "logging": "Bernoulli Thompson sampling (bts_* logs)",
        "truth": "on-policy click rate of the random_* logs",
        "min_propensity": min_propensity,
        "confidence": ope.CONFIDENCE,
        "campaigns": [random_policy_click_rate(data_dir, c, min_propensity, seed) for c in CAMPAIGNS],
    }


def agreement(result: dict[str, Any], estimator: str) -> bool:
    """Whether the off-policy CI of `estimator` overlaps the on-policy CI."""
    on, off = result["on_policy"], result["estimates"][estimator]
    return bool(off["low"] <= on["high"] and on["low"] <= off["high"])


__all__ = ["LogValidationError", "agreement", "load_log", "random_policy_click_rate", "random_policy_report",
           "validate_log"]
