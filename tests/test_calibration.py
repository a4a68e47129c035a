"""Likelihood fit, metrics and moments fit: recovery of known parameters and hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from simulators import SessionSimulator
from simulators.calibration import metrics
from simulators.calibration.config import LikelihoodConfig, MomentsConfig
from simulators.calibration.likelihood import ResponseModel, fit_response_model, fold_in, with_user_events
from simulators.calibration.moments import fit_moments, simulate_sessions
from simulators.calibration.world import world_from_model
from simulators.random import UserStreams
from simulators.response import outcome_probabilities, track_utility
from tests.conftest import small_config

TRUE = {"alpha_click": -1.0, "beta_click": 0.5, "c1": 1.0, "gap": 1.5, "beta_watch": -0.8, "user_sd": 0.5}


def synthetic_log(users: int = 400, events: int = 40, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Events from the model's own form with known parameters (no item or context effects).

    Returns the log and the true per-user biases float[users, 2] (click, watch).
    """
    rng = np.random.default_rng(seed)
    n = users * events
    user = np.repeat(np.arange(users), events)
    duration = np.exp(rng.normal(np.log(60), 0.8, n)) + 20
    z = (np.log(duration) - np.log(duration).mean()) / np.log(duration).std()
    bias = TRUE["user_sd"] * rng.standard_normal((users, 2))
    click = rng.random(n) < expit(TRUE["alpha_click"] + TRUE["beta_click"] * z + bias[user, 0])
    eta = TRUE["beta_watch"] * z + bias[user, 1]
    u = rng.random(n)
    watch = (u < expit(eta - TRUE["c1"])).astype(int) + (u < expit(eta - TRUE["c1"] - TRUE["gap"]))
    ratio = np.choose(watch, [0.1, 0.5, 1.2])
    log = pd.DataFrame(
        {
            "user_id": user,
            "item_id": rng.integers(0, 50, n),
            "timestamp": np.tile(np.arange(events), users),
            "item_duration_s": duration,
            "play_time_s": ratio * duration,
            "click": click.astype(int),
        }
    )
    return log, bias


def test_metrics_match_hand_computed_values() -> None:
    y, p = np.array([1, 0, 1, 0]), np.array([0.8, 0.4, 0.4, 0.2])
    assert metrics.log_loss(y, p) == pytest.approx(-(np.log(0.8) + np.log(0.6) + np.log(0.4) + np.log(0.8)) / 4)
    assert metrics.brier(y, p) == pytest.approx((0.04 + 0.16 + 0.36 + 0.04) / 4)
    # Pairs (pos, neg): (0.8, 0.4) win, (0.8, 0.2) win, (0.4, 0.4) tie, (0.4, 0.2) win -> 3.5 / 4.
    assert metrics.auc(y, p) == pytest.approx(0.875)
    # Two equal-count bins: {0.2, 0.4(neg)} -> |0 - 0.3|, {0.4(pos), 0.8} -> |1 - 0.6|; sorted stably.
    assert metrics.ece(y, p, num_bins=2) == pytest.approx(0.5 * 0.3 + 0.5 * 0.4)
    low, high = metrics.cluster_bootstrap_ci(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 0, 1, 1]), draws=200)
    assert 1.5 <= low <= 2.5 <= high <= 3.5


def test_ece_null_is_small_for_a_perfect_model_and_large_ece_detected() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.5, 4000)
    y = rng.random(4000) < p
    null = metrics.ece_null_quantile(p)
    assert 0.005 < null < 0.03
    assert metrics.ece(y, p) < null * 1.5
    assert metrics.ece(y, np.clip(p + 0.1, 0, 1)) > null


def test_likelihood_fit_recovers_known_parameters() -> None:
    log, bias = synthetic_log()
    config = LikelihoodConfig(num_factors=0, l2_user_bias=1 / TRUE["user_sd"] ** 2, l2_item_bias=1e4, duration_knots=0)
    model = fit_response_model(log, config)
    p = model.params
    c1, gap = p["cuts"][0], np.exp(p["cuts"][1])
    assert c1 == pytest.approx(TRUE["c1"], rel=0.1)
    assert gap == pytest.approx(TRUE["gap"], rel=0.1)
    assert p["alpha"][0] == pytest.approx(TRUE["alpha_click"], rel=0.1)
    assert p["beta"][0, 0] == pytest.approx(TRUE["beta_click"], rel=0.1)
    assert p["beta"][1, 0] == pytest.approx(TRUE["beta_watch"], rel=0.1)
    assert np.corrcoef(p["user_bias"][:, 1], bias[:, 1])[0, 1] > 0.5


def test_fold_in_and_save_load_round_trip(tmp_path) -> None:
    log, _ = synthetic_log(users=60, events=20)
    model = fit_response_model(log[log["user_id"] < 40], LikelihoodConfig(num_factors=2, max_iter=50))
    new = log[log["user_id"] >= 40]
    folded = fold_in(model, new)
    assert set(folded.user_ids) == set(range(40, 60))
    model.save(tmp_path / "m.npz", "{}")
    again = ResponseModel.load(tmp_path / "m.npz")
    data = again.arrays(with_user_events(log[log["user_id"] < 40]))
    np.testing.assert_allclose(
        again.predict(data),
        model.predict(model.arrays(with_user_events(log[log["user_id"] < 40]))),
        rtol=1e-4,
        atol=1e-6,
    )


def test_fitted_world_reproduces_the_watch_head_in_the_simulator() -> None:
    log, _ = synthetic_log(users=50, events=20)
    model = fit_response_model(log, LikelihoodConfig(num_factors=2, max_iter=60))
    model.params["temperature"][:] = 1.3
    model.params["shift"][:] = -0.2
    world = world_from_model(model)
    user, item = 7, 11
    frame = with_user_events(log)
    row = (
        frame[(frame["user_id"] == model.user_ids[user])]
        .iloc[[0]]
        .assign(item_id=model.item_ids[item], item_duration_s=model.item_duration_s[item])
    )
    expected = model.predict(model.arrays(row))[0, -2:]
    config = small_config(**{f"response.{k}": v for k, v in world.response.items()})
    affinity = np.array([[world.users.taste[user] @ world.catalog.embedding[item]]], np.float32)
    zeros = np.zeros((1, 1), np.float32)
    utility = track_utility(
        config.response,
        affinity,
        zeros,
        np.zeros(1, bool),
        world.users.skip_propensity[[user]],
        np.zeros(1, np.float32),
        zeros,
        np.zeros((1, 1), bool),
        np.full((1, 1), 1e6, np.float32),
    )
    probs = outcome_probabilities(config.response, utility.astype(np.float64))[0, 0]
    np.testing.assert_allclose([probs[1] + probs[2], probs[2]], expected, atol=2e-4)


def test_moments_fit_recovers_known_parameters() -> None:
    moments = MomentsConfig(sessions=1500, report_sessions=1500, max_evaluations=60, restarts=2)
    truth = small_config(**{"slate_size": 10, "response.early_skip_threshold": 0.6, "response.completion_gap": 1.6})
    target = simulate_sessions(truth, moments, 4000, seed=77)
    start = small_config(**{"slate_size": 10, "response.early_skip_threshold": 0.0, "response.completion_gap": 1.0})
    boxes = {"response.early_skip_threshold": (-2.0, 2.0), "response.completion_gap": (0.2, 4.0)}
    fit = fit_moments(start, target, moments.model_copy(update={"rate_weight_se": 0.005}), parameters=boxes)
    assert fit.parameters["response.early_skip_threshold"] == pytest.approx(0.6, abs=0.1)
    assert fit.parameters["response.completion_gap"] == pytest.approx(1.6, rel=0.1)


def test_user_table_population_draws_fitted_users() -> None:
    log, _ = synthetic_log(users=30, events=20)
    world = world_from_model(fit_response_model(log, LikelihoodConfig(num_factors=2, max_iter=30)))
    sim = SessionSimulator(small_config(), catalog=world.catalog)
    from simulators.users import UserPopulation

    sim.population = UserPopulation(world.catalog, sim.config.users, table=world.users)
    state = sim.reset(UserStreams(np.arange(64)))
    rows = [int(np.argmin(np.linalg.norm(world.users.taste - t, axis=1))) for t in state.users.taste]
    np.testing.assert_allclose(state.users.taste, world.users.taste[rows], atol=1e-6)
    np.testing.assert_allclose(state.users.skip_propensity, world.users.skip_propensity[rows], atol=1e-6)


def test_moments_fit_recovers_the_skip_propensity_spread() -> None:
    """The spread is identified by survivorship: skip-prone users leave less after skipping,
    so late positions skip more when the spread is larger."""
    moments = MomentsConfig(sessions=8000, report_sessions=1500, max_evaluations=40, restarts=2)
    leave = {"leave.after_early_skip": -1.5, "leave.base_logit": -1.8}
    truth = small_config(**{"slate_size": 10, "users.skip_propensity_sd": 1.2, **leave})
    target = simulate_sessions(truth, moments, 8000, seed=78)
    start = small_config(**{"slate_size": 10, "users.skip_propensity_sd": 0.3, **leave})
    boxes = {"users.skip_propensity_sd": (0.0, 3.0)}
    fit = fit_moments(start, target, moments, parameters=boxes)
    assert fit.parameters["users.skip_propensity_sd"] == pytest.approx(1.2, rel=0.1)
