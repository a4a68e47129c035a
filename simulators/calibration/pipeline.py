"""Both calibrations end to end, returning the parameters and the report sections the gates read.

Event logs (`fit_event_log`): users are split at random into train and two held-out folds.
The factor model is fitted on train users; held-out users are folded in on their first events;
the calibration map that predicts the rest of one fold's events is fitted on the other fold
(cross-fitting, so every held-out event is scored and no map sees the events it scores), and
the shipped map is fitted on both. Baselines are fitted on the training users. No leave hazard
is fitted from KuaiRand: its rows are random insertions, far apart in each feed, so the log
holds no session ends.

Aggregates (`fit_mssd`): simulated method of moments, see `calibration.moments`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simulators.calibration.config import LikelihoodConfig, MomentsConfig
from simulators.calibration.evaluation import Baselines, ScoredEvents, score_report
from simulators.calibration.likelihood import (
    ResponseModel,
    fit_calibration,
    fit_response_model,
    fold_in,
    split_by_time,
    with_user_events,
)
from simulators.calibration.moments import MomentsFit, SessionStatistics, fit_moments, moment_residuals
from simulators.calibration.world import world_from_model
from simulators.config import SimulatorConfig
from simulators.fidelity import FidelityGates, mssd_gates, response_gates
from simulators.logs import EARLY_SKIP_RATIO


@dataclass(frozen=True)
class EventFit:
    """A fitted, calibrated response model and its report section."""

    model: ResponseModel
    baselines: Baselines
    section: dict[str, Any]


def split_users(user_ids: np.ndarray, config: LikelihoodConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint (train, validation, test) user id arrays, shuffled with `config.split_seed`."""
    users = np.random.default_rng(config.split_seed).permutation(np.unique(user_ids))
    a = int(round(config.train_share * len(users)))
    b = a + int(round(config.validation_share * len(users)))
    return np.sort(users[:a]), np.sort(users[a:b]), np.sort(users[b:])


def early_skip_shape(frame: pd.DataFrame, cut: float = EARLY_SKIP_RATIO) -> float:
    """MLE of the simulator's early-skip shape: fraction = cut * U**shape => shape = mean(-log(f / cut))."""
    ratio = frame["play_time_s"].to_numpy() / frame["item_duration_s"].to_numpy()
    early = ratio[(ratio > 0) & (ratio < cut)] / cut
    return float(np.mean(-np.log(early)))


def fit_event_log(
    frame: pd.DataFrame, config: LikelihoodConfig, gates: FidelityGates, log: Callable[[str], None] = print
) -> EventFit:
    """Fit, calibrate and score the response model on a validated log (see module docstring)."""
    users = frame["user_id"].to_numpy()
    train_ids, valid_ids, test_ids = split_users(users, config)
    train, valid, test = (with_user_events(frame[np.isin(users, ids)]) for ids in (train_ids, valid_ids, test_ids))
    log(f"likelihood fit: {len(train):,} events of {len(train_ids)} training users")
    model = fit_response_model(train, config)
    baselines = Baselines.fit(train, model.arrays(train).outcomes)
    held_out = pd.concat([valid, test])
    first, rest = split_by_time(held_out, config.fold_in)
    folded = fold_in(model, held_out[first])
    scored_frame = held_out[rest]
    data = folded.arrays(scored_frame)
    in_valid = np.isin(scored_frame["user_id"].to_numpy(), valid_ids)
    # Cross-fitting: each fold's events are predicted with the map fitted on the other fold.
    predictions = np.empty(data.outcomes.shape)
    for calibrate_on in (in_valid, ~in_valid):
        folded.params["temperature"], folded.params["shift"] = fit_calibration(folded, data.subset(calibrate_on))
        predictions[~calibrate_on] = folded.predict(data.subset(~calibrate_on))
    model.params["temperature"], model.params["shift"] = fit_calibration(folded, data)
    scored = ScoredEvents(
        scored_frame, data.outcomes, predictions, baselines.predict(scored_frame), scored_frame["user_id"].to_numpy()
    )
    responses = score_report(scored, model.event_names)
    log(f"scored {len(scored.outcomes):,} held-out events of {len(valid_ids) + len(test_ids)} users (cross-fitted)")
    world = world_from_model(model)
    fitted = {f"response.{k}": float(v) for k, v in world.response.items()}
    fitted["response.early_skip_max_fraction"] = EARLY_SKIP_RATIO
    fitted["response.early_skip_shape"] = early_skip_shape(train)
    section = {
        "description": "Likelihood fit of click, long view and watch outcome on KuaiRand-1K random exposures",
        "split": {
            "train_users": len(train_ids),
            "held_out_users": [len(valid_ids), len(test_ids)],
            "train_events": len(train),
            "fold_in_share": config.fold_in,
            "protocol": "held-out users folded in on their first events; the calibration map of each "
            "held-out fold is fitted on the other fold (cross-fitting); metrics on the rest",
        },
        "fitted_parameters": fitted,
        "calibration": {"temperature": model.params["temperature"].tolist(), "shift": model.params["shift"].tolist()},
        "leave_hazard": "not fitted: random-exposure rows are isolated insertions with no session ends",
        "responses": responses,
        "gates": [g.as_dict() for g in response_gates(responses, gates)],
    }
    return EventFit(model, baselines, section)


def fit_mssd(
    base: SimulatorConfig,
    observed: SessionStatistics,
    config: MomentsConfig,
    gates: FidelityGates,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[MomentsFit, dict[str, Any]]:
    """SMM fit of the queue simulator and its report section."""
    fit = fit_moments(base, observed, config, progress=progress)
    residuals = moment_residuals(fit.simulated, observed, config.rate_weight_se)
    block = {
        "observed": observed.as_dict(),
        "simulated": fit.simulated.as_dict(),
        "objective": fit.objective,
        "evaluations": fit.evaluations,
        "report_chi2": float(np.sum(residuals**2)),
        "num_moments": int(len(residuals)),
    }
    section = {
        "description": "Simulated method of moments of the music queue on MSSD mini aggregates",
        "logging_policy": "K tracks by Plackett-Luce (Gumbel top-K) over softmax(expected affinity / "
        f"{config.logging_temperature}), played in random order",
        "moments_config": config.model_dump(),
        "fitted_parameters": fit.parameters,
        "mssd": block,
        "gates": [g.as_dict() for g in mssd_gates(block, gates)],
    }
    return fit, section
