"""segue/KuaiRandFeed-v0: real KuaiRand videos and fitted users, Gymnasium and SB3 checkers."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs import LinearScalarization, make_vec_env
from envs.kuairand import DEFAULT_MODEL, _world
from simulators.calibration.likelihood import ResponseModel

ENV_ID = "segue/KuaiRandFeed-v0"


def test_world_uses_real_durations_and_fitted_users() -> None:
    env = gym.make(ENV_ID).unwrapped
    model = ResponseModel.load(DEFAULT_MODEL)
    catalog = env.batch.simulator.catalog
    assert catalog.num_items == len(model.item_ids)
    np.testing.assert_allclose(catalog.duration_s, model.item_duration_s, rtol=1e-6)
    env.reset(seed=3)
    taste = env.batch.state.users.taste[0]
    assert np.min(np.linalg.norm(_world(str(DEFAULT_MODEL.resolve())).users.taste - taste, axis=1)) < 1e-6


def test_checkers_pass_and_rollout() -> None:
    check_env(LinearScalarization(gym.make(ENV_ID).unwrapped), skip_render_check=True)
    sb3_check_env(LinearScalarization(gym.make(ENV_ID).unwrapped), warn=False)
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=0)
    played = 0
    for _ in range(10):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        played += info["tracks_played"]
        if terminated or truncated:
            break
    assert played > 0 and env.observation_space.contains(obs)


def test_vec_env_uses_the_fitted_world() -> None:
    vec = make_vec_env(ENV_ID, 4, seed=0)
    assert vec.batch.simulator.catalog.num_items == len(ResponseModel.load(DEFAULT_MODEL).item_ids)
