"""Off-policy estimators: hand-computed formulas, rejected bad logs, unbiasedness and CI coverage on
simulator logs with known truth, and the real-log check on the Open Bandit Dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents.baselines import LoggingPolicy
from agents.evaluation import ope
from agents.evaluation.obd import LogValidationError, agreement, random_policy_click_rate, validate_log
from agents.evaluation.simulated_logs import (
    POSITION_BASED_OVERRIDES,
    SlateLog,
    SlotRewardModel,
    log_first_requests,
    on_policy_value,
    target_propensities,
)
from envs import env_config_for
from simulators import SessionSimulator

OBD = Path(__file__).resolve().parents[2] / "shared" / "data" / "open_bandit_dataset"
ONE_STEP = {"simulator.catalog.num_items": 600, "simulator.catalog.num_artists": 120,
            "simulator.candidates.num_candidates": 6, "simulator.slate_size": 2, "simulator.max_steps": 2}
REPLICATIONS, ROWS = 80, 1000


def test_estimators_match_hand_computed_values() -> None:
    r, p, p0 = np.array([1.0, 0.0, 2.0]), np.array([0.5, 0.2, 0.1]), np.array([0.25, 0.4, 0.2])
    w = p / p0  # 2, 0.5, 0.5
    assert ope.ips(r, p, p0).value == pytest.approx((2 + 0 + 1) / 3)
    assert ope.snips(r, p, p0).value == pytest.approx(3 / 3)
    q_logged, q_target = np.array([0.5, 0.5, 0.5]), np.array([1.0, 1.0, 1.0])
    assert ope.direct_method(q_target).value == pytest.approx(1.0)
    dr = 1.0 + np.mean(w * (r - q_logged))
    assert ope.doubly_robust(r, p, p0, q_logged, q_target).value == pytest.approx(dr)
    slot_r = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert ope.independent_ips(slot_r, np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([[0.25, 1.0], [1.0, 0.25]])
                               ).value == pytest.approx((2 + 2) / 2)
    prefix_t, prefix_0 = np.array([[0.5, 0.25], [0.5, 0.1]]), np.array([[0.25, 0.25], [0.5, 0.05]])
    assert ope.reward_interaction_ips(slot_r, prefix_t, prefix_0).value == pytest.approx((2 * 1 + 2 * 1) / 2)
    clipped = ope.ips(r, p, np.array([0.25, 0.4, 1e-5]), min_propensity=0.01)
    assert clipped.clipped == 1 and clipped.value == pytest.approx((2 + 0 + 2 * 0.1 / 0.01) / 3)
    e = ope.ips(np.random.default_rng(0).random(500), np.full(500, 0.5), np.full(500, 0.5))
    assert e.low < e.value < e.high


@pytest.mark.parametrize("bad", [np.nan, 0.0, -0.1, 1.5])
def test_estimators_reject_bad_propensities_by_position(bad: float) -> None:
    p0 = np.array([0.5, 0.5, bad, 0.5])
    with pytest.raises(ValueError, match=r"logging propensity: 1 value\(s\).* at 2"):
        ope.ips(np.ones(4), np.full(4, 0.5), p0)


def _obd_frame() -> pd.DataFrame:
    return pd.DataFrame({"item_id": [0, 1, 2, 3], "position": [1, 2, 3, 1], "click": [0, 1, 0, 0],
                         "propensity_score": [0.1, 0.2, 0.3, 0.4]})


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("propensity_score", np.nan, r"column 'propensity_score': rows \[2\] \(1 rows\) are missing"),
        ("propensity_score", 0.0, r"column 'propensity_score': rows \[2\] \(1 rows\) are <= 0 or > 1"),
        ("propensity_score", 1.2, r"column 'propensity_score': rows \[2\] \(1 rows\) are <= 0 or > 1"),
        ("item_id", 9, r"column 'item_id': rows \[2\] \(1 rows\) are unknown items"),
        ("click", np.nan, r"column 'click': rows \[2\] \(1 rows\) are missing"),
    ],
)
def test_bad_logs_are_rejected_naming_rows_and_columns(column: str, value: float, message: str) -> None:
    frame = _obd_frame()
    frame.loc[2, column] = value
    with pytest.raises(LogValidationError, match=message):
        validate_log(frame, n_items=4, source="test.csv")


def test_missing_propensity_column_is_rejected() -> None:
    with pytest.raises(LogValidationError, match=r"missing column\(s\) \['propensity_score'\]"):
        validate_log(_obd_frame().drop(columns="propensity_score"), n_items=4, source="test.csv")


def _replicated_estimates(overrides: dict) -> tuple[float, dict[str, np.ndarray]]:
    """Truth and (value, low, high) of every estimator in REPLICATIONS independent logs: float[R, 3]."""
    env_config = env_config_for("segue/MusicQueue-v0", overrides={**ONE_STEP, **overrides})
    simulator = SessionSimulator(env_config.simulator)
    weights = np.asarray(env_config.weight_vector(), np.float32)
    target = LoggingPolicy(simulator, weights, temperature=0.3, seed=1)
    truth = on_policy_value(env_config, target, 200_000, seed=10**7)
    log = log_first_requests(env_config, LoggingPolicy(simulator, weights, temperature=1.0, seed=2),
                             REPLICATIONS * ROWS, seed=0)
    prefix, shown, marginals = target_propensities(target, log.observation, log.slate)
    found: dict[str, list] = {}
    for rep in range(REPLICATIONS):
        s = slice(rep * ROWS, (rep + 1) * ROWS)
        sub = SlateLog({k: v[s] for k, v in log.observation.items()}, log.slate[s], log.reward[s],
                       log.prefix_propensity[s], log.position_propensity[s])
        q = SlotRewardModel(simulator.catalog.embedding_dim).fit(sub).predict(sub.observation, 2)
        q_logged = np.take_along_axis(q, sub.slate[:, :, None], axis=2)[:, :, 0].sum(axis=1)
        q_target = (q * marginals[s]).sum(axis=(1, 2))
        total = sub.reward.sum(axis=1)
        kw = {"seed": rep, "resamples": 1000}
        for e in (
            ope.ips(total, prefix[s, -1], sub.slate_propensity, **kw),
            ope.snips(total, prefix[s, -1], sub.slate_propensity, **kw),
            ope.doubly_robust(total, prefix[s, -1], sub.slate_propensity, q_logged, q_target, **kw),
            ope.independent_ips(sub.reward, shown[s], sub.position_propensity, **kw),
            ope.reward_interaction_ips(sub.reward, prefix[s], sub.prefix_propensity, **kw),
        ):
            found.setdefault(e.estimator, []).append((e.value, e.low, e.high))
    return truth, {name: np.array(rows) for name, rows in found.items()}


@pytest.fixture(scope="module")
def position_based() -> tuple[float, dict[str, np.ndarray]]:
    return _replicated_estimates(POSITION_BASED_OVERRIDES)


def _bias_in_standard_errors(truth: float, rows: np.ndarray) -> float:
    return abs(rows[:, 0].mean() - truth) / (rows[:, 0].std(ddof=1) / np.sqrt(len(rows)))


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["ips", "snips", "doubly_robust", "independent_ips", "reward_interaction_ips"])
def test_estimates_are_unbiased_with_near_nominal_coverage(position_based: tuple, estimator: str) -> None:
    truth, estimates = position_based
    rows = estimates[estimator]
    assert _bias_in_standard_errors(truth, rows) < 3.5
    coverage = np.mean((rows[:, 1] <= truth) & (truth <= rows[:, 2]))
    assert 0.85 <= coverage <= 1.0, f"{estimator}: 95% CI covered the truth in {coverage:.0%} of logs"


@pytest.mark.slow
def test_reward_interactions_bias_iips_but_not_rips() -> None:
    # Strong couplings: slot 2 is heard only if the user stays, and suffers slot 1's genre exposure.
    truth, estimates = _replicated_estimates({"simulator.leave.base_logit": -1.0,
                                              "simulator.response.genre_fatigue_weight": 2.0})
    assert _bias_in_standard_errors(truth, estimates["reward_interaction_ips"]) < 3.5
    assert _bias_in_standard_errors(truth, estimates["independent_ips"]) > 3.5


@pytest.mark.skipif(not OBD.is_dir(), reason=f"Open Bandit Dataset not found at {OBD}")
def test_random_policy_click_rate_from_thompson_logs_matches_on_policy() -> None:
    result = random_policy_click_rate(OBD, "all", min_propensity=1e-3)
    assert result["bts_rows"] > 5000 and result["clipped_rows"] > 0
    for name, e in result["estimates"].items():
        assert 0 < e["low"] <= e["value"] <= e["high"] < 0.05, name
    assert agreement(result, "ips") and agreement(result, "doubly_robust")
