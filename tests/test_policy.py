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
from agents.policies import SlateScoringPolicy, warm_start_at_ranker
from envs import env_config_for, make_vec_env
from envs.core import SessionBatch
from simulators import SessionSimulator

#: A small queue world whose candidate sets repeat artists often (40 artists, 30 candidates).
SMALL_QUEUE = {
    "simulator.catalog.num_items": 400,
    "simulator.catalog.num_artists": 40,
    "simulator.candidates.num_candidates": 30,
    "simulator.slate_size": 6,
}


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


# A queue context: candidates 0 and 2 share an artist, and so do 1 and 4.
KEYS = torch.tensor([[0.0, 1.0, 0.0, 2.0, 1.0]])
LAG_PENALTY = torch.tensor([1.5, 0.7])


def test_queue_context_probabilities_sum_to_one_and_samples_follow_them() -> None:
    torch.manual_seed(4)
    logits = torch.tensor([[0.5, -1.0, 1.5, 0.0, 0.3]])
    k, draws = 3, 60_000
    slates = _all_slates(5, k)
    exact = (
        PlackettLuceDistribution(k)
        .proba_distribution(logits.expand(len(slates), -1), KEYS.expand(len(slates), -1), LAG_PENALTY)
        .log_prob(slates)
        .exp()
    )
    assert abs(float(exact.sum()) - 1.0) < 1e-5
    samples = PlackettLuceDistribution(k).proba_distribution(
        logits.expand(draws, -1), KEYS.expand(draws, -1), LAG_PENALTY
    ).sample()
    codes = (samples * torch.tensor([25, 5, 1])).sum(dim=1)
    observed = (torch.bincount(codes, minlength=125).float() / draws)[(slates * torch.tensor([25, 5, 1])).sum(dim=1)]
    se = (exact * (1 - exact) / draws).sqrt()
    assert ((observed - exact).abs() <= 4 * se + 1e-4).all()


def test_queue_context_log_prob_matches_hand_computation() -> None:
    logits = torch.tensor([[1.0, 0.0, 2.0, 0.5, 0.2]])
    dist = PlackettLuceDistribution(3).proba_distribution(logits, KEYS, LAG_PENALTY)
    # Slot 1, one slot after candidate 2 (artist 0): candidate 0 (artist 0) loses 1.5. Slot 2: the
    # picks of artist 0 are both taken, so 1, 3 and 4 compete unpenalised.
    slot_log_p = dist.slot_log_prob(torch.tensor([[2, 0, 4]]))[0]
    e = [math.exp(x) for x in (1.0, 0.0, 2.0, 0.5, 0.2)]
    first = math.log(e[2] / sum(e))
    second = math.log(math.exp(1.0 - 1.5) / (math.exp(1.0 - 1.5) + e[1] + e[3] + e[4]))
    third = math.log(e[4] / (e[1] + e[3] + e[4]))
    np.testing.assert_allclose(slot_log_p.numpy(), [first, second, third], atol=1e-6)
    # The mode is the slot-by-slot argmax: 2; then 3 (0.5 beats 1.0 - 1.5); then 0 (1.0 - 0.7,
    # two slots after artist 0, beats 0.2 and 0.0).
    np.testing.assert_array_equal(dist.mode()[0], [2, 3, 0])


def test_queue_context_entropy_estimate_is_unbiased() -> None:
    torch.manual_seed(5)
    logits = torch.tensor([[0.3, 1.2, -0.5, 0.8, 0.0]])
    slates = _all_slates(5, 3)
    p = PlackettLuceDistribution(3).proba_distribution(
        logits.expand(len(slates), -1), KEYS.expand(len(slates), -1), LAG_PENALTY
    ).log_prob(slates).exp()
    estimate = PlackettLuceDistribution(3).proba_distribution(
        logits.expand(20_000, -1), KEYS.expand(20_000, -1), LAG_PENALTY
    ).entropy()
    assert abs(float(estimate.mean()) + float((p * p.log()).sum())) < 0.02


def test_queue_context_with_no_penalty_is_plain_plackett_luce() -> None:
    torch.manual_seed(6)
    logits, slates = torch.randn(1, 5), _all_slates(5, 3)
    plain = PlackettLuceDistribution(3).proba_distribution(logits.expand(len(slates), -1))
    context = PlackettLuceDistribution(3).proba_distribution(
        logits.expand(len(slates), -1), KEYS.expand(len(slates), -1), torch.zeros(2)
    )
    torch.testing.assert_close(context.log_prob(slates), plain.log_prob(slates))
    np.testing.assert_array_equal(context.mode(), plain.mode())


def test_a_queue_policy_spaces_an_artist_it_penalises() -> None:
    """With a large learned repeat penalty, sampled queues put no artist twice within the lags."""
    env = make_vec_env("segue/MusicQueue-v0", 16, seed=0, overrides=SMALL_QUEUE)
    policy = SlateScoringPolicy(
        env.observation_space, env.action_space, lambda _: 3e-4, hidden=8, context_lags=3
    )
    obs = env.reset()
    tensors = {key: torch.as_tensor(value) for key, value in obs.items()}
    artists = obs["items"][:, :, -1]
    with torch.no_grad():
        policy.scorer.repeat_penalty.fill_(1e3)
        actions, values, log_prob = policy(tensors)
        _, slot_log_prob, _ = policy.evaluate_slots(tensors, actions)
    torch.testing.assert_close(slot_log_prob.sum(dim=1), log_prob)
    queue_artists = np.take_along_axis(artists, actions.numpy(), axis=1)
    for lag in (1, 2, 3):
        assert (queue_artists[:, lag:] != queue_artists[:, :-lag]).all()
    with torch.no_grad():
        policy.scorer.repeat_penalty.zero_()
        repeats = [
            (np.take_along_axis(artists, policy(tensors)[0].numpy(), axis=1)[:, 1:] == queue_artists[:, :1]).any()
            for _ in range(20)
        ]
    assert any(repeats)  # without the penalty the same artists do meet: the check above can fail
