"""Action adapters: give every SB3 algorithm that fits a path to the slate env.

- PPO / A2C act on `MultiDiscrete([N] * K)` natively through the Plackett-Luce policy.
- SAC / TD3 output a score vector `Box(N)`; `ScoreVectorActions` serves its top K valid
  candidates.
- DQN outputs one candidate `Discrete(N)`; `SlotBySlotActions` fills the K slots one decision
  at a time (picked candidates are masked in the next observation, reward arrives when the
  slate is served), which is plain next-track control when K = 1.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from agents.baselines import top_k


class ScoreVectorActions(VecEnvWrapper):
    """Box(-1, 1, (N,)) score actions -> top-K slates of the current candidates."""

    def __init__(self, venv: VecEnv) -> None:
        n = int(venv.action_space.nvec[0])
        self.slate_size = len(venv.action_space.nvec)
        super().__init__(venv, action_space=spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32))
        self._mask: np.ndarray | None = None

    def reset(self) -> VecEnvObs:
        obs = self.venv.reset()
        self._mask = obs["mask"]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        assert self._mask is not None, "reset() must be called before step()"
        self.venv.step_async(top_k(np.asarray(actions, dtype=np.float32), self._mask, self.slate_size))

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        self._mask = obs["mask"]
        return obs, rewards, dones, infos


class SlotBySlotActions(VecEnvWrapper):
    """Discrete(N) actions, one slot per decision; the K-th decision serves the slate.

    All envs are in lockstep (same slot index), so the wrapper needs no per-env bookkeeping.
    Intermediate decisions get reward 0 and are never terminal; a pick of an already chosen or
    masked candidate is dropped by the env's documented rule.
    """

    def __init__(self, venv: VecEnv) -> None:
        n = int(venv.action_space.nvec[0])
        self.slate_size = len(venv.action_space.nvec)
        super().__init__(venv, action_space=spaces.Discrete(n))
        self._picks = np.zeros((venv.num_envs, self.slate_size), np.int64)
        self._slot = 0
        self._obs: dict[str, np.ndarray] | None = None
        self._actions: np.ndarray | None = None

    def reset(self) -> VecEnvObs:
        self._slot = 0
        self._obs = self.venv.reset()
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)

    def step_wait(self) -> VecEnvStepReturn:
        assert self._obs is not None and self._actions is not None, "reset() must be called before step()"
        self._picks[:, self._slot] = self._actions
        self._slot += 1
        if self._slot < self.slate_size:
            obs = {key: value.copy() for key, value in self._obs.items()}
            obs["mask"][np.arange(self.num_envs)[:, None], self._picks[:, : self._slot]] = 0
            self._obs = obs
            zeros = np.zeros(self.num_envs, np.float32)
            return obs, zeros, np.zeros(self.num_envs, bool), [{} for _ in range(self.num_envs)]
        self._slot = 0
        self.venv.step_async(self._picks.copy())
        self._obs, rewards, dones, infos = self.venv.step_wait()
        return self._obs, rewards, dones, infos
