"""Baseline rankers: shared interface, what each one is for, and exact logging propensities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agents.baselines import (
    BASELINE_NAMES,
    DiversityReranker,
    GreedyRanker,
    LoggingPolicy,
    OracleRanker,
    StateAwareRanker,
    make_baselines,
    top_k,
)
from agents.evaluation.plackett_luce import position_marginals, prefix_log_probabilities, slate_log_probability
from agents.evaluation.rollout import rollout
from envs import env_config_for
from envs.core import SessionBatch
from simulators import SessionSimulator

SMALL = {"simulator.catalog.num_items": 600, "simulator.catalog.num_artists": 120,
         "simulator.candidates.num_candidates": 20, "simulator.slate_size": 5, "simulator.max_steps": 6}


@pytest.fixture(scope="module")
def world() -> tuple:
    env_config = env_config_for("segue/MusicQueue-v0", overrides=SMALL)
    simulator = SessionSimulator(env_config.simulator)
    batch = SessionBatch(env_config.simulator, 64, simulator)
    batch.seed(np.arange(64))
    return env_config, simulator, np.asarray(env_config.weight_vector(), np.float32), batch, batch.reset()


def test_every_baseline_scores_valid_slates(world: tuple) -> None:
    env_config, simulator, weights, batch, obs = world
    for ranker in make_baselines(BASELINE_NAMES, simulator, weights):
        if isinstance(ranker, StateAwareRanker):
            assert not hasattr(ranker, "score"), "the oracle must not pose as a deployable ranker"
            scores = ranker.score_state(batch.state, obs)
        else:
            scores = ranker.score(obs["user"], obs["items"], obs["mask"])
        assert scores.shape == obs["mask"].shape, ranker.name
        slate = top_k(scores, obs["mask"], simulator.slate_size)
        assert all(len(set(row)) == simulator.slate_size for row in slate), ranker.name


def test_unknown_baseline_is_named() -> None:
    with pytest.raises(ValueError, match="greedy_typo"):
        make_baselines(["greedy_typo"], None, np.zeros(6))  # type: ignore[arg-type]


def test_boost_trades_satisfaction_for_promoted_streams(world: tuple) -> None:
    env_config, simulator, weights, *_ = world
    greedy, boosted = make_baselines(["greedy", "boosted_greedy"], simulator, weights)
    plain = rollout(greedy, env_config, 400, 7, simulator)
    boost = rollout(boosted, env_config, 400, 7, simulator)
    assert boost.returns[:, 3].mean() > plain.returns[:, 3].mean() * 1.1  # promoted_streams
    # The price is paid in skips: promoted tracks that match the listener less get skipped more
    # often per track (in the calibrated world, skippers stay longer, so minutes need not fall).
    skip_rate = [-o.returns[:, 2].sum() / o.tracks.sum() for o in (plain, boost)]
    assert skip_rate[1] > skip_rate[0]


def test_mmr_diversifies_and_reduces_to_greedy(world: tuple) -> None:
    _, simulator, weights, _, obs = world
    d, k = simulator.catalog.embedding_dim, simulator.slate_size
    args = (obs["user"], obs["items"], obs["mask"])
    greedy = top_k(GreedyRanker(simulator, weights).score(*args), obs["mask"], k)
    assert np.array_equal(top_k(DiversityReranker(simulator, weights, 0.0).score(*args), obs["mask"], k), greedy)

    def mean_similarity(slate: np.ndarray) -> float:
        emb = np.take_along_axis(obs["items"][:, :, :d], slate[:, :, None], axis=1)
        sim = np.einsum("bkd,bjd->bkj", emb, emb)
        return float(sim[:, ~np.eye(k, dtype=bool)].mean())

    diverse = top_k(DiversityReranker(simulator, weights, 0.7).score(*args), obs["mask"], k)
    assert mean_similarity(diverse) < mean_similarity(greedy) - 0.05


def test_plackett_luce_slate_probabilities_are_exact() -> None:
    rng = np.random.default_rng(0)
    logits, mask = rng.normal(size=(3, 4)), np.array([[1, 1, 1, 1], [1, 1, 0, 1], [1, 1, 1, 1]], bool)
    slates = np.array(list(itertools.permutations(range(4), 2)))
    total = np.zeros(3)
    for slate in slates:
        total += np.exp(slate_log_probability(logits, mask, np.tile(slate, (3, 1))))
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    # Hand-computed: P(a=0 then b=1) = w0/Z * w1/(Z - w0).
    w = np.exp(logits[0])
    expected = w[0] / w.sum() * w[1] / (w.sum() - w[0])
    assert np.exp(prefix_log_probabilities(logits[:1], mask[:1], np.array([[0, 1]])))[0, 1] == pytest.approx(expected)
    marginals = position_marginals(logits, mask, 2)
    np.testing.assert_allclose(marginals.sum(axis=2), 1.0, rtol=1e-12)
    assert marginals[1, :, 2].max() == 0.0  # masked candidate never shown


def test_logging_policy_records_the_propensity_of_what_it_shows(world: tuple) -> None:
    _, simulator, weights, _, obs = world
    one = {key: np.repeat(value[:1], 20000, axis=0) for key, value in obs.items()}
    policy = LoggingPolicy(simulator, weights, temperature=0.5, seed=3)
    policy.score(one["user"], one["items"], one["mask"])
    first = policy.last_slate[:, 0]
    logits = policy.logits(one["user"][:1], one["items"][:1], one["mask"][:1])
    expected = np.exp(logits[0] - logits[0].max())
    expected /= expected.sum()
    empirical = np.bincount(first, minlength=expected.size) / first.size
    assert np.abs(empirical - expected).max() < 0.015
    recorded = policy.last_prefix_log_propensity[:, -1]
    np.testing.assert_allclose(recorded, slate_log_probability(logits.repeat(20000, 0), one["mask"], policy.last_slate))


def test_oracle_uses_hidden_state_and_beats_greedy(world: tuple) -> None:
    env_config, simulator, weights, batch, obs = world
    oracle = OracleRanker(simulator, weights)
    before = top_k(oracle.score_state(batch.state, obs), obs["mask"], simulator.slate_size)
    saved = batch.state.users.skip_propensity.copy()
    batch.state.users.skip_propensity[:] = np.linspace(-3, 3, saved.size)  # invisible to every other ranker
    try:
        assert isinstance(oracle, StateAwareRanker)
        after = top_k(oracle.score_state(batch.state, obs), obs["mask"], simulator.slate_size)
    finally:
        batch.state.users.skip_propensity[:] = saved
    assert not np.array_equal(before, after)
    greedy = GreedyRanker(simulator, weights)
    total = {r.name: (rollout(r, env_config, 400, 11, simulator).returns @ weights).mean() for r in (greedy, oracle)}
    assert total["oracle"] > total["greedy"]
