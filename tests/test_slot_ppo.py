"""Per-slot credit (agents.slot_ppo): the env's slot rewards, their causal order, the buffer's credit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import DictRolloutBuffer

from agents.policies import SlateScoringPolicy
from agents.slot_ppo import SlotPPO, SlotRolloutBuffer
from envs import Chebyshev, Constrained, make_vec_env
from envs.core import SessionBatch
from tests.conftest import small_config

QUEUE = "segue/MusicQueue-v0"
SMALL = {
    "simulator.catalog.num_items": 600,
    "simulator.catalog.num_artists": 120,
    "simulator.candidates.num_candidates": 20,
    "simulator.slate_size": 5,
    "simulator.max_steps": 6,
}


def _random_slates(rng: np.random.Generator, users: int, n: int, k: int) -> np.ndarray:
    return np.argsort(rng.random((users, n)), axis=1)[:, :k]


@pytest.mark.parametrize("constrained", [False, True])
def test_slot_rewards_sum_to_the_step_reward_and_vanish_where_nothing_played(constrained: bool) -> None:
    scalarization = Constrained({"listening_minutes": 0.2, "skips": 1.0}, "promoted_streams", 0.3, multiplier=2.0)
    env = make_vec_env(QUEUE, 64, seed=3, overrides=SMALL, scalarization=scalarization if constrained else None)
    assert env.slot_credit
    rng = np.random.default_rng(0)
    env.reset()
    unplayed = 0
    for _ in range(6):
        _, rewards, _, _ = env.step(_random_slates(rng, 64, 20, 5))
        np.testing.assert_allclose(env.last_slot_rewards.sum(axis=1), rewards, rtol=1e-5, atol=1e-5)
        assert np.all(env.last_slot_rewards[~env.last_played] == 0)
        unplayed += int((~env.last_played).sum())
    assert unplayed > 0  # some listeners left inside a queue, so the zero case was exercised


def test_no_slot_credit_without_causal_slot_rewards() -> None:
    chebyshev = Chebyshev(np.ones(6), utopia=np.full(6, 10.0), batch_size=8)
    assert not make_vec_env(QUEUE, 8, seed=0, overrides=SMALL, scalarization=chebyshev).slot_credit
    assert not make_vec_env("segue/MusicShelf-v0", 8, seed=0).slot_credit


def test_a_pick_cannot_change_what_happened_in_earlier_slots() -> None:
    """The premise of per-slot credit: slot k's pick leaves slots 1..k-1 (and whether k plays) alone."""
    config = small_config("queue")
    users, n, k, changed_from = 512, config.candidates.num_candidates, config.slate_size, 2
    rng = np.random.default_rng(1)
    first = _random_slates(rng, users, n, k)
    second = first.copy()
    # From slot `changed_from` on, tracks the first slate does not hold at all.
    used = np.zeros((users, n), bool)
    np.put_along_axis(used, first, True, axis=1)
    second[:, changed_from:] = np.argsort(rng.random((users, n)) + used, axis=1)[:, : k - changed_from]
    assert not np.take_along_axis(used, second[:, changed_from:], axis=1).any()
    results = []
    for slate in (first, second):
        batch = SessionBatch(config, users)
        batch.seed(np.arange(users))
        batch.reset()
        results.append(batch.step(slate)[1])
    a, b = results
    np.testing.assert_array_equal(a.slot_objectives[:, :changed_from], b.slot_objectives[:, :changed_from])
    np.testing.assert_array_equal(a.played[:, : changed_from + 1], b.played[:, : changed_from + 1])
    assert not np.array_equal(a.slot_objectives[:, changed_from:], b.slot_objectives[:, changed_from:])


def test_buffer_credits_each_slot_with_the_rewards_from_it_on() -> None:
    """Two steps of one env, gamma = lambda = 1, values 0: hand-computed credits."""
    buffer = SlotRolloutBuffer(
        2, spaces.Dict({"x": spaces.Box(-1, 1, (1,))}), spaces.MultiDiscrete([4, 4, 4]), gamma=1.0, gae_lambda=1.0
    )
    slot_rewards = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
    played = np.array([[True, True, False], [True, False, False]])
    for step in range(2):
        buffer.add_slots(slot_rewards[step][None], played[step][None])
        buffer.add({"x": np.zeros((1, 1))}, np.zeros((1, 3)), slot_rewards[step].sum()[None], np.array([step == 0]),
                   torch.zeros(1), torch.zeros(1))
    buffer.compute_returns_and_advantage(torch.zeros(1), np.array([True]))
    # Step advantages: 3 + 3 = 6 and 3. Slot credits A - (earlier slots): [6, 5, -], [3, -, -].
    credit = {(0, 0): 6.0, (0, 1): 5.0, (1, 0): 3.0}
    mean = {0: 4.5, 1: 5.0}  # per-slot baselines over the played entries
    centred = {key: value - mean[key[1]] for key, value in credit.items()}
    std = np.sqrt(np.mean([v**2 for v in centred.values()]))
    expected = np.zeros((2, 3))
    for (step, slot), value in centred.items():
        expected[step, slot] = value / std
    np.testing.assert_allclose(buffer.slot_advantages[:, 0], expected, rtol=1e-5)


def test_slot_ppo_trains_and_its_slot_log_probs_add_up_to_the_stored_slate_log_probs() -> None:
    env = make_vec_env(QUEUE, 16, seed=0, overrides=SMALL)
    model = SlotPPO(SlateScoringPolicy, env, n_steps=8, batch_size=64, n_epochs=2, seed=0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(128)
    buffer = model.rollout_buffer
    assert isinstance(buffer, SlotRolloutBuffer) and buffer.generator_ready
    np.testing.assert_allclose(buffer.old_slot_log_probs.sum(axis=1), buffer.log_probs.ravel(), rtol=1e-4, atol=1e-4)
    assert 0 < buffer.slot_played.mean() < 1
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))


def test_slot_credit_off_is_sb3_ppo() -> None:
    weights = []
    for algo, kwargs in ((SlotPPO, {"slot_credit": False}), (PPO, {})):
        env = make_vec_env(QUEUE, 8, seed=0, overrides=SMALL)
        model = algo(SlateScoringPolicy, env, n_steps=4, batch_size=32, n_epochs=1, seed=0, **kwargs)
        assert type(model.rollout_buffer) is DictRolloutBuffer
        model.learn(64)
        weights.append([p.detach().clone() for p in model.policy.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights, strict=True))
