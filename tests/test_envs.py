"""The Gymnasium face: registration, checkers, determinism, batched == single, pickling."""

from __future__ import annotations

import pickle

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs import LinearScalarization, SlateVecEnv, SlateVectorEnv, env_config_for, make_vec_env
from simulators import OBJECTIVE_NAMES

ENV_IDS = list(envs.ENV_IDS)
SMALL = {"simulator.catalog.num_items": 600, "simulator.catalog.num_artists": 120, "simulator.max_steps": 6}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_and_roll_out_a_session(env_id: str) -> None:
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    done, steps = False, 0
    while not done:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.unwrapped.reward_space.contains(reward)
        assert list(info["objectives"]) == list(OBJECTIVE_NAMES)
        np.testing.assert_array_equal(info["vector_reward"], reward)
        done, steps = terminated or truncated, steps + 1
    assert steps >= 1


def test_module_prefixed_id_imports_the_package() -> None:
    env = gym.make("envs:segue/MusicQueue-v0", overrides=SMALL)
    assert env.reset(seed=1)[0]["items"].shape[0] == 100


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_and_sb3_checkers_pass(env_id: str) -> None:
    check_env(LinearScalarization(gym.make(env_id, overrides=SMALL).unwrapped), skip_render_check=True)
    sb3_check_env(LinearScalarization(gym.make(env_id, overrides=SMALL).unwrapped), warn=False)


def test_scalarization_uses_config_weights_and_keeps_the_vector() -> None:
    env = LinearScalarization(gym.make("segue/MusicQueue-v0", overrides=SMALL).unwrapped)
    env.reset(seed=3)
    _, reward, *_, info = env.step(env.action_space.sample())
    weights = env_config_for("segue/MusicQueue-v0").weight_vector()
    assert reward == pytest.approx(float(np.dot(weights, info["vector_reward"])), rel=1e-5)
    with pytest.raises(ValueError, match="unknown objective"):
        LinearScalarization(env.env, weights={"likes": 1.0})


def test_out_of_range_and_malformed_actions_raise() -> None:
    env = gym.make("segue/MusicQueue-v0", overrides=SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"out of range.*\[0, 100\)"):
        env.step(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 100]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="integer"):
        env.step(np.full(10, 0.5))


def test_wrong_surface_is_rejected() -> None:
    with pytest.raises(ValueError, match="surface"):
        gym.make("segue/MusicShelf-v0", overrides={"simulator.surface": "queue"})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_gives_identical_trajectories(env_id: str) -> None:
    def rollout() -> list[np.ndarray]:
        env = gym.make(env_id, overrides=SMALL)
        env.action_space.seed(5)
        obs, _ = env.reset(seed=42)
        out = [obs["items"]]
        for _ in range(15):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            out += [obs["user"], reward]
            if terminated or truncated:
                obs, _ = env.reset()
                out.append(obs["user"])
        return out

    for a, b in zip(rollout(), rollout()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_batched_env_equals_single_envs_with_matching_seeds(env_id: str) -> None:
    num_envs, seed, steps = 6, 100, 12
    vec = make_vec_env(env_id, num_envs, seed=seed, overrides=SMALL)
    singles = [gym.make(env_id, overrides=SMALL) for _ in range(num_envs)]
    vec_obs = vec.reset()
    single_obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(singles)]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        for i in range(num_envs):
            for key in vec_obs:
                np.testing.assert_array_equal(vec_obs[key][i], single_obs[i][key])
        actions = rng.integers(0, vec.action_space.nvec[0], size=(num_envs, len(vec.action_space.nvec)))
        vec_obs, rewards, dones, infos = vec.step(actions)
        for i, env in enumerate(singles):
            obs, vector, terminated, truncated, _ = env.step(actions[i])
            np.testing.assert_allclose(vec.last_vector_reward[i], vector)
            assert dones[i] == (terminated or truncated)
            if dones[i]:
                np.testing.assert_array_equal(infos[i]["terminal_observation"]["user"], obs["user"])
                assert infos[i]["TimeLimit.truncated"] == truncated
                obs, _ = env.reset()
            single_obs[i] = obs


def test_vec_env_reports_episodes_per_objective() -> None:
    vec = make_vec_env("segue/MusicQueue-v0", 32, seed=0, overrides=SMALL)
    vec.reset()
    weights = np.asarray(vec.env_config.weight_vector(), np.float32)
    returns = np.zeros((32, len(OBJECTIVE_NAMES)))
    seen = 0
    for _ in range(30):
        actions = np.stack([vec.action_space.sample() for _ in range(32)])
        _, rewards, dones, infos = vec.step(actions)
        returns += vec.last_vector_reward
        np.testing.assert_allclose(rewards, vec.last_vector_reward @ weights, rtol=1e-5)
        for i in np.flatnonzero(dones):
            episode = infos[i]["episode_objectives"]
            np.testing.assert_allclose(list(episode.values()), returns[i], rtol=1e-4, atol=1e-3)
            assert infos[i]["episode"]["r"] == pytest.approx(float(returns[i] @ weights), rel=1e-4, abs=1e-3)
            returns[i] = 0
            seen += 1
    assert seen > 0


def test_make_vec_env_accepts_double_underscore_overrides() -> None:
    vec = make_vec_env("segue/MusicQueue-v0", 2, seed=0, simulator__slate_size=4, **{"overrides": SMALL})
    assert isinstance(vec, SlateVecEnv) and len(vec.action_space.nvec) == 4


def test_gymnasium_vector_env_api() -> None:
    vector = SlateVectorEnv(env_config_for("segue/MusicShelf-v0", overrides=SMALL), num_envs=8)
    obs, _ = vector.reset(seed=7)
    assert vector.observation_space.contains(obs)
    finished = 0
    for _ in range(40):
        obs, rewards, terminated, truncated, info = vector.step(vector.action_space.sample())
        assert rewards.shape == (8, len(OBJECTIVE_NAMES))
        if "final_obs" in info:
            finished += int(info["_final_obs"].sum())
            first = int(np.flatnonzero(info["_final_obs"])[0])
            assert vector.single_observation_space.contains(info["final_obs"][first])
    assert finished > 0


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_envs_pickle_and_continue_identically(env_id: str) -> None:
    env = gym.make(env_id, overrides=SMALL).unwrapped
    env.reset(seed=11)
    action = env.action_space.sample()
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        clone = loads(dumps(env))
        twin = loads(dumps(clone))
        (obs_a, reward_a, *_), (obs_b, reward_b, *_) = clone.step(action), twin.step(action)
        np.testing.assert_array_equal(reward_a, reward_b)
        np.testing.assert_array_equal(obs_a["items"], obs_b["items"])
    vec = make_vec_env(env_id, 4, seed=1, overrides=SMALL)
    vec.reset()
    twin = pickle.loads(pickle.dumps(vec))
    actions = np.zeros((4, len(vec.action_space.nvec)), dtype=np.int64) + np.arange(len(vec.action_space.nvec))
    np.testing.assert_array_equal(vec.step(actions)[1], twin.step(actions)[1])
