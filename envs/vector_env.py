"""A Gymnasium `VectorEnv` over the batched simulator, for users outside SB3."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.config import EnvConfig
from envs.core import SessionBatch
from simulators import OBJECTIVE_NAMES, SessionSimulator


class SlateVectorEnv(VectorEnv):
    """B sessions stepped together; rewards are vectors float32[B, M] (MO-Gymnasium style).

    Auto-reset is same-step (``metadata["autoreset_mode"] = SAME_STEP``): a finished session's
    last observation is in ``info["final_obs"]`` (masked by ``info["_final_obs"]``) and its
    per-objective return in ``info["episode_objectives"]``; the returned observation already
    belongs to the new session.

    Args:
        env_config: environment configuration.
        num_envs: B.
        simulator: reuse an existing simulator (and its catalog).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, env_config: EnvConfig, num_envs: int, simulator: SessionSimulator | None = None) -> None:
        self.env_config = env_config
        self.batch = SessionBatch(env_config.simulator, num_envs, simulator)
        self.num_envs = num_envs
        self.single_observation_space = self.batch.observation_space
        self.single_action_space = self.batch.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.reward_space = self.batch.reward_space
        self.objective_names = OBJECTIVE_NAMES
        self._seeded = False

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset all sessions; env i gets seed + i (or the i-th entry of a list of seeds)."""
        if seed is not None:
            seeds = np.asarray(seed if isinstance(seed, list) else [seed + i for i in range(self.num_envs)])
            self.batch.seed(seeds)
        elif not self._seeded:
            self.batch.seed(np.random.SeedSequence().generate_state(self.num_envs, np.uint32).astype(np.int64))
        self._seeded = True
        return self.batch.reset(), {}

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict]:
        obs, result = self.batch.step(actions)
        dones = result.terminated | result.truncated
        info: dict[str, Any] = {}
        ended = np.flatnonzero(dones)
        if ended.size:
            final_obs = np.empty(self.num_envs, dtype=object)
            for i in ended:
                final_obs[i] = {key: value[i].copy() for key, value in obs.items()}
            info = {
                "final_obs": final_obs,
                "_final_obs": dones,
                "episode_objectives": self.batch.episode_return.copy(),
                "_episode_objectives": dones,
            }
            fresh = self.batch.reset(ended)
            for key in obs:
                obs[key][ended] = fresh[key]
        # Reaching max_steps is a true end (the horizon is observable), like leaving.
        return obs, result.objectives, dones, np.zeros_like(dones), info
