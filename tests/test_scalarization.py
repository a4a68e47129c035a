"""Scalarizations: linear with units, Chebyshev by telescoping, the Lagrangian; MO-Gymnasium interop."""

from __future__ import annotations

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
import pytest
from mo_gymnasium.wrappers import LinearReward, MONormalizeReward, MORecordEpisodeStatistics

from envs import Chebyshev, ChebyshevScalarization, Constrained, Linear, LinearScalarization, make_vec_env
from simulators import OBJECTIVE_NAMES

ENV_ID = "segue/MusicQueue-v0"
SMALL = {"simulator.catalog.num_items": 600, "simulator.catalog.num_artists": 120, "simulator.max_steps": 6}
M = len(OBJECTIVE_NAMES)


def _episode(env: gym.Env, seed: int) -> tuple[list[float], list[np.ndarray], list[dict]]:
    env.reset(seed=seed)
    env.action_space.seed(seed)
    rewards, vectors, infos = [], [], []
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        rewards.append(reward)
        vectors.append(np.asarray(info["vector_reward"], dtype=np.float64))
        infos.append(info)
        done = terminated or truncated
    return rewards, vectors, infos


def test_linear_divides_by_units_before_weighting() -> None:
    weights = {"listening_minutes": 1.0, "promoted_streams": 2.0}
    scales = {"listening_minutes": 10.0, "promoted_streams": 0.5}
    vector = np.zeros((2, M), np.float32)
    vector[:, OBJECTIVE_NAMES.index("listening_minutes")] = [20.0, 5.0]
    vector[:, OBJECTIVE_NAMES.index("promoted_streams")] = [1.0, 0.0]
    np.testing.assert_allclose(Linear(weights, scales)(vector, np.zeros(2)), [1 * 2 + 2 * 2, 0.5])
    with pytest.raises(ValueError, match="scales must be positive"):
        Linear(weights, {"skips": 0.0})


def test_chebyshev_episode_return_is_the_chebyshev_value_of_the_vector_return() -> None:
    weights = np.array([1.0, 0.5, 0.0, 2.0, 0.0, 0.0])
    utopia = np.array([60.0, 10.0, 0.0, 5.0, 0.0, 0.0])
    scales = np.array([20.0, 4.0, 1.0, 1.0, 1.0, 1.0])
    env = ChebyshevScalarization(gym.make(ENV_ID, overrides=SMALL).unwrapped, weights, utopia, scales)
    for seed in range(3):
        rewards, vectors, _ = _episode(env, seed)
        total = np.sum(vectors, axis=0)
        value = -np.max(weights * (utopia - total) / scales)
        start = -np.max(weights * utopia / scales)
        assert sum(rewards) == pytest.approx(value - start, rel=1e-5, abs=1e-5)


def test_lagrangian_adds_multiplier_times_constraint_slack() -> None:
    weights = {"listening_minutes": 0.2}
    env = make_vec_env(ENV_ID, 8, seed=0, overrides=SMALL,
                       scalarization=Constrained(weights, "promoted_streams", floor=0.3, multiplier=2.0))
    env.reset()
    _, rewards, _, _ = env.step(np.tile(np.arange(10), (8, 1)))
    vector, tracks = env.last_vector_reward, env.last_tracks
    expected = 0.2 * vector[:, 0] + 2.0 * (vector[:, OBJECTIVE_NAMES.index("promoted_streams")] - 0.3 * tracks)
    np.testing.assert_allclose(rewards, expected, rtol=1e-5)
    assert (tracks > 0).any()


def test_vec_env_chebyshev_episode_returns_telescope() -> None:
    weights, utopia = np.ones(M), np.array([80.0, 15.0, 0.0, 5.0, 5.0, 10.0])
    scalarization = Chebyshev(weights, utopia, batch_size=16)
    env = make_vec_env(ENV_ID, 16, seed=1, overrides=SMALL, scalarization=scalarization)
    env.reset()
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(20):
        _, _, dones, infos = env.step(rng.permuted(np.tile(np.arange(100), (16, 1)), axis=1)[:, :10])
        for i in np.flatnonzero(dones):
            returns = np.array([infos[i]["episode_objectives"][n] for n in OBJECTIVE_NAMES])
            expected = -np.max(utopia - returns) + np.max(utopia)
            assert infos[i]["episode"]["r"] == pytest.approx(expected, rel=1e-4, abs=1e-4)
            checked += 1
    assert checked > 0
    with pytest.raises(ValueError, match="num_envs"):
        make_vec_env(ENV_ID, 4, seed=1, overrides=SMALL, scalarization=Chebyshev(weights, utopia, batch_size=16))


def test_works_with_mo_gymnasium_wrappers_and_make() -> None:
    weights = np.array([0.2, 0.5, 0.3, 1.0, 0.5, 0.5], np.float32)
    # MO-Gymnasium's own scalarization and ours agree on the same env and seed.
    theirs, _, _ = _episode(LinearReward(mo_gym.make(ENV_ID, overrides=SMALL), weight=weights), seed=4)
    ours, vectors, _ = _episode(LinearScalarization(mo_gym.make(ENV_ID, overrides=SMALL), weights), seed=4)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    # Episode statistics recorded under our wrapper still see the vector.
    recorded = LinearScalarization(MORecordEpisodeStatistics(mo_gym.make(ENV_ID, overrides=SMALL)), weights)
    _, vectors, infos = _episode(recorded, seed=5)
    np.testing.assert_allclose(infos[-1]["episode"]["r"], np.sum(vectors, axis=0), rtol=1e-5)
    # A reward transform underneath changes what we scalarize (the vector from below wins).
    normalized = MONormalizeReward(mo_gym.make(ENV_ID, overrides=SMALL), idx=0)
    rewards, vectors, _ = _episode(LinearScalarization(normalized, weights), seed=6)
    np.testing.assert_allclose(rewards, [float(weights @ v) for v in vectors], rtol=1e-4)
    raw = _episode(gym.make(ENV_ID, overrides=SMALL), seed=6)[1]
    assert not np.allclose([v[0] for v in vectors], [v[0] for v in raw])
