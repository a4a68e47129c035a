"""The slate scorer and the Plackett-Luce distribution."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from agents.baselines import BusinessBoostedGreedyRanker, GreedyRanker, top_k
from agents.distributions import PlackettLuceDistribution
from agents.networks import MASKED_SCORE, ItemScorer
from agents.policies import warm_start_at_ranker
from envs import env_config_for
from envs.core import SessionBatch
from simulators import SessionSimulator


def _all_slates(n: int, k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(n), k)))


def test_probabilities_of_all_ordered_slates_sum_to_one() -> None:
    torch.manual_seed(0)
    for n, k in ((4, 1), (5, 2), (5, 3), (6, 4)):
        logits = torch.randn(3, n)
        logits[1, 0] = MASKED_SCORE
        slates = _all_slates(n, k)
        dist = PlackettLuceDistribution(k).proba_distribution(logits.repeat_interleave(len(slates), 0))
        log_p = dist.log_prob(slates.repeat(3, 1)).reshape(3, -1)
        np.testing.assert_allclose(log_p.exp().sum(dim=1).numpy(), 1.0, atol=1e-5)
        assert log_p[1][(slates == 0).any(dim=1)].exp().max() < 1e-30  # masked never chosen


def test_log_prob_matches_hand_computation() -> None:
    logits = torch.tensor([[1.0, 0.0, 2.0]])
    log_p = PlackettLuceDistribution(2).proba_distribution(logits).log_prob(torch.tensor([[2, 0]]))
    e = [math.e**1, 1.0, math.e**2]
    expected = math.log(e[2] / sum(e)) + math.log(e[0] / (e[0] + e[1]))
    assert abs(float(log_p) - expected) < 1e-6


def test_samples_follow_the_distribution_and_mode_is_top_k() -> None:
    torch.manual_seed(1)
    logits = torch.tensor([[0.5, -1.0, 1.5, 0.0, MASKED_SCORE]])
    k, draws = 2, 40_000
    dist = PlackettLuceDistribution(k).proba_distribution(logits.expand(draws, -1))
    samples = dist.sample()
    assert (samples != 4).all() and (samples[:, 0] != samples[:, 1]).all()
    slates = _all_slates(5, k)
    exact = PlackettLuceDistribution(k).proba_distribution(logits.expand(len(slates), -1)).log_prob(slates).exp()
    codes = samples[:, 0] * 5 + samples[:, 1]
    counts = torch.bincount(codes, minlength=25).float() / draws
    observed = counts[slates[:, 0] * 5 + slates[:, 1]]
    se = (exact * (1 - exact) / draws).sqrt()
    assert ((observed - exact).abs() <= 4 * se + 1e-4).all()
    np.testing.assert_array_equal(PlackettLuceDistribution(k).proba_distribution(logits).mode()[0], [2, 0])


def test_entropy_estimate_is_unbiased() -> None:
    torch.manual_seed(2)
    logits = torch.tensor([[0.3, 1.2, -0.5, 0.8]])
    k = 2
    slates = _all_slates(4, k)
    p = PlackettLuceDistribution(k).proba_distribution(logits.expand(len(slates), -1)).log_prob(slates).exp()
    exact = float(-(p * p.log()).sum())
    estimate = PlackettLuceDistribution(k).proba_distribution(logits.expand(20_000, -1)).entropy()
    assert abs(float(estimate.mean()) - exact) < 0.01


def test_scorer_is_permutation_equivariant_for_any_n() -> None:
    torch.manual_seed(3)
    for attention in (False, True):
        scorer = ItemScorer(6, 5, hidden=16, attention=attention).eval()
        for n in (1, 7, 40):
            user, items = torch.randn(3, 6), torch.randn(3, n, 5)
            mask = torch.rand(3, n) > 0.2
            mask[:, 0] = True
            perm = torch.randperm(n)
            with torch.no_grad():
                scores = scorer(user, items, mask)
                permuted = scorer(user, items[:, perm], mask[:, perm])
            assert scores.shape == (3, n)
            torch.testing.assert_close(permuted, scores[:, perm], atol=1e-5, rtol=1e-5)
            assert (scores[~mask] == MASKED_SCORE).all()


@pytest.mark.parametrize("ranker", [GreedyRanker, BusinessBoostedGreedyRanker])
def test_warm_start_scores_are_the_rankers_at_the_requested_sharpness(ranker: type[GreedyRanker]) -> None:
    env_config = env_config_for("segue/MusicQueue-v0", overrides={"simulator.candidates.num_candidates": 30})
    simulator = SessionSimulator(env_config.simulator)
    batch = SessionBatch(env_config.simulator, 128, simulator)
    batch.seed(np.arange(128))
    obs = batch.reset()
    weights = np.asarray(env_config.weight_vector(), np.float32)
    torch.manual_seed(0)
    scorer = ItemScorer(obs["user"].shape[1], obs["items"].shape[2], hidden=8, attention=True)
    baseline = ranker(simulator, weights)
    beta = warm_start_at_ranker(scorer, obs, baseline.item_weights(obs["items"].shape[2]), sharpness=4.0)
    with torch.no_grad():
        scorer.head.weight.zero_()
        scorer.head.bias.zero_()  # the deep part off: what is left is the warm start itself
        scores = scorer(*(torch.from_numpy(obs[key]) for key in ("user", "items", "mask"))).numpy()
    greedy = baseline.score(obs["user"], obs["items"], obs["mask"])
    np.testing.assert_allclose(scores, beta * greedy, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(top_k(scores, obs["mask"], 10), top_k(greedy, obs["mask"], 10))
    assert abs(scores.std(axis=1).mean() - 4.0) < 1e-3


def test_warm_start_without_a_signal_says_how_to_turn_it_off() -> None:
    scorer = ItemScorer(3, 8, hidden=4)
    obs = {"user": np.zeros((2, 3), np.float32), "items": np.zeros((2, 5, 8), np.float32), "mask": np.ones((2, 5))}
    with pytest.raises(ValueError, match="policy.warm_start: null"):
        warm_start_at_ranker(scorer, obs, np.zeros(8, np.float32), sharpness=3.0)
