"""Response models against hand-computed probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulators.config import LeaveConfig, ResponseConfig, ShelfConfig
from simulators.response import (
    leave_probability,
    listen_fraction,
    outcome_probabilities,
    sample_choice,
    sample_outcomes,
    shelf_choice_probabilities,
)


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_mnl_matches_hand_computation() -> None:
    config = ShelfConfig(choice_model="mnl", no_choice_utility=0.5, position_bias=0.2)
    utility = np.array([[1.0, 0.0, 2.0]], dtype=np.float32)
    p = shelf_choice_probabilities(config, utility, np.ones((1, 3), bool))[0]
    v = [1.0, 0.0 - 0.2, 2.0 - 0.4, 0.5]
    expected = np.exp(v) / np.exp(v).sum()
    np.testing.assert_allclose(p, expected, rtol=1e-6)


def test_mnl_never_chooses_hidden_slots() -> None:
    config = ShelfConfig(choice_model="mnl")
    p = shelf_choice_probabilities(config, np.array([[5.0, 1.0]], np.float32), np.array([[False, True]]))[0]
    assert p[0] == 0.0 and p.sum() == pytest.approx(1.0)


def test_cascade_matches_hand_computation() -> None:
    config = ShelfConfig(choice_model="cascade", cascade_threshold=1.0, position_bias=0.5)
    utility = np.array([[1.0, 2.0]], dtype=np.float32)
    p = shelf_choice_probabilities(config, utility, np.ones((1, 2), bool))[0]
    t0, t1 = _sig(1.0 - 1.0), _sig(2.0 - 0.5 - 1.0)
    np.testing.assert_allclose(p, [t0, (1 - t0) * t1, (1 - t0) * (1 - t1)], rtol=1e-6)


def test_ordered_logit_matches_hand_computation_and_sums_to_one() -> None:
    config = ResponseConfig(early_skip_threshold=0.3, completion_gap=1.2)
    u = np.array([[-1.0, 0.3, 2.0]], dtype=np.float32)
    p = outcome_probabilities(config, u)[0]
    for row, value in zip(p, u[0]):
        expected = [1 - _sig(value - 0.3), _sig(value - 0.3) - _sig(value - 1.5), _sig(value - 1.5)]
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-7)
    many = outcome_probabilities(config, np.linspace(-8, 8, 101, dtype=np.float32)[None])
    np.testing.assert_allclose(many.sum(axis=-1), 1.0, atol=1e-6)
    assert (many >= 0).all()


def test_sampled_outcomes_follow_the_probabilities() -> None:
    config = ResponseConfig()
    utility = np.full((1, 200_000), 0.8, dtype=np.float32)
    draw = np.random.default_rng(0).random(utility.shape, dtype=np.float32)
    outcome = sample_outcomes(config, utility, draw)[0]
    expected = outcome_probabilities(config, utility[:, :1])[0, 0]
    observed = np.bincount(outcome, minlength=3) / outcome.size
    se = np.sqrt(expected * (1 - expected) / outcome.size)
    assert np.all(np.abs(observed - expected) < 4 * se)


def test_listen_fraction_ranges() -> None:
    config = ResponseConfig(early_skip_max_fraction=0.25)
    draw = np.random.default_rng(1).random((3, 1000), dtype=np.float32)
    outcome = np.repeat(np.array([[0], [1], [2]], dtype=np.int8), 1000, axis=1)
    fraction = listen_fraction(config, outcome, draw)
    assert fraction[0].max() < 0.25 and fraction[0].min() >= 0
    assert fraction[1].min() >= 0.25 and fraction[1].max() < 1
    assert (fraction[2] == 1).all()


def test_leave_probability_hand_computed() -> None:
    config = LeaveConfig(base_logit=-3.0, after_early_skip=0.5, after_completion=-0.2, fatigue_effect=0.4)
    outcome = np.array([[0, 1, 2]], dtype=np.int8)
    p = leave_probability(config, outcome, np.array([1.0], np.float32), np.array([0.3], np.float32))[0]
    base = -3.0 + 0.4 - 0.3
    np.testing.assert_allclose(p, [_sig(base + 0.5), _sig(base), _sig(base - 0.2)], rtol=1e-5)


def test_sample_choice_frequencies() -> None:
    probs = np.tile(np.array([[0.2, 0.5, 0.3]]), (100_000, 1))
    choice = sample_choice(probs, np.random.default_rng(2).random(100_000))
    freq = np.bincount(choice, minlength=3) / choice.size
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.006)
