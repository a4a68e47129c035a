"""A Stable-Baselines3 VecEnv that steps all B users with one simulator call."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from envs.config import EnvConfig
from envs.core import SessionBatch
from envs.scalarization import Chebyshev, Linear
from simulators import OBJECTIVE_NAMES, SessionSimulator


class SlateVecEnv(VecEnv):
    """Native batched VecEnv with same-step auto-reset and a scalarized reward.

    Ended sessions are replaced in the same step, as SB3 expects: the returned observation of a
    done env is the new session's first one, and the final one is in
    ``infos[i]["terminal_observation"]``. Done envs also get ``infos[i]["episode"]``
    (``r``, ``l``, ``t``, like SB3's Monitor) and ``infos[i]["episode_objectives"]`` (the
    per-objective return). The per-step vector reward of all envs is `last_vector_reward`
    (float32[B, M]) and the tracks each session started in it are `last_tracks` (int[B]);
    infos of envs that did not finish stay empty, which keeps the step free of per-user Python
    work. ``episode["r"]`` is the episode's scalarized return.

    On a queue with a per-step additive scalarization (`Linear`, `Constrained`), the scalarized
    reward of every slot is `last_slot_rewards` (float32[B, K], summing to the step's reward)
    and the slots that played are `last_played` (bool[B, K]): a queue plays in order, so a
    learner can credit slot k's pick with the rewards from slot k on (`agents.slot_ppo`).
    `slot_credit` says whether they exist; `Chebyshev` pays a non-additive change per step,
    and a shelf's slots compete for one choice, so neither has causal per-slot rewards.

    Args:
        env_config: environment (simulator + default weights).
        num_envs: B, the number of concurrent sessions.
        seed: env i uses seed + i, so env i reproduces `gymnasium.make(...).reset(seed=seed + i)`.
        weights: linear scalarization weights; default `env_config.reward_weights`.
        simulator: reuse an existing simulator (and its catalog).
        scalarization: any `envs.scalarization` object for B = num_envs (overrides `weights`),
            e.g. `Chebyshev` or the Lagrangian `Constrained`.
    """

    render_mode = None  # sessions have no visual form

    def __init__(
        self,
        env_config: EnvConfig,
        num_envs: int,
        seed: int | None = None,
        weights: Sequence[float] | dict[str, float] | None = None,
        simulator: SessionSimulator | None = None,
        scalarization: Linear | Chebyshev | None = None,
    ) -> None:
        self.env_config = env_config
        self.batch = SessionBatch(env_config.simulator, num_envs, simulator)
        super().__init__(num_envs, self.batch.observation_space, self.batch.action_space)
        self.reward_space = self.batch.reward_space
        self.objective_names = OBJECTIVE_NAMES
        if scalarization is None:
            scalarization = Linear(env_config.weight_vector() if weights is None else weights)
        memory = getattr(scalarization, "returns", None)
        if memory is not None and len(memory) != num_envs:
            raise ValueError(f"the scalarization keeps {len(memory)} sessions; the env has num_envs={num_envs}")
        self.scalarization = scalarization
        self.last_vector_reward = np.zeros((num_envs, len(OBJECTIVE_NAMES)), np.float32)
        self.slot_credit = env_config.simulator.surface == "queue" and isinstance(scalarization, Linear)
        k = env_config.simulator.slate_size
        self._slot_objectives = np.zeros((num_envs, k, len(OBJECTIVE_NAMES)), np.float32)
        self.last_played = np.zeros((num_envs, k), bool)
        self.scalar_return = np.zeros(num_envs, np.float64)
        self._actions: np.ndarray | None = None
        self._start = time.time()
        self.seed(seed)

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        """Seed env i with seed + i (random if None); takes effect at the next `reset()`."""
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(2))
        self._seeds = [seed + i for i in range(self.num_envs)]
        return self._seeds

    def reset(self) -> dict[str, np.ndarray]:
        if self._seeds:
            self.batch.seed(np.asarray(self._seeds, dtype=np.int64))
            self._seeds = []
        obs = self.batch.reset()
        self.scalarization.end(np.arange(self.num_envs))
        self.scalar_return[:] = 0.0
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None, "step_async must be called before step_wait"
        obs, result = self.batch.step(self._actions)
        self._actions = None
        vector = result.objectives
        self.last_vector_reward = vector
        rewards = self.scalarization(vector, self.last_tracks)
        self._slot_objectives, self.last_played = result.slot_objectives, result.played
        self.scalar_return += rewards
        dones = result.terminated | result.truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        ended = np.flatnonzero(dones)
        if ended.size:
            returns = self.batch.episode_return[ended]
            scalar_returns = self.scalar_return[ended]
            lengths = self.batch.episode_length[ended]
            tracks = self.batch.episode_tracks[ended]
            elapsed = round(time.time() - self._start, 6)
            for j, i in enumerate(ended):
                infos[i] = {
                    "terminal_observation": {key: value[i].copy() for key, value in obs.items()},
                    "TimeLimit.truncated": False,  # the horizon is observable: a true end
                    "session_end": "left" if result.terminated[i] else "horizon",
                    "episode": {"r": float(scalar_returns[j]), "l": int(lengths[j]), "t": elapsed},
                    "episode_objectives": dict(zip(self.objective_names, returns[j].tolist())),
                    "episode_tracks": int(tracks[j]),
                }
            self.scalarization.end(ended)
            self.scalar_return[ended] = 0.0
            fresh = self.batch.reset(ended)
            for key in obs:
                obs[key][ended] = fresh[key]
        return obs, rewards.astype(np.float32), dones, infos

    @property
    def last_slot_rewards(self) -> np.ndarray:
        """Scalarized reward of every slot of the last step: float32[B, K] (needs `slot_credit`).

        Computed on demand, so learners that credit whole slates pay nothing per step.
        """
        if not self.slot_credit:
            raise RuntimeError("this env has no causal per-slot rewards (a shelf, or a non-additive scalarization)")
        slots = self._slot_objectives.reshape(-1, len(OBJECTIVE_NAMES))  # Linear/Constrained are row-wise
        return self.scalarization(slots, self.last_played.reshape(-1)).reshape(self.last_played.shape)

    @property
    def last_tracks(self) -> np.ndarray:
        """Tracks each session started in the last step: int64[B]."""
        return self.batch.step_tracks

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        method = getattr(self, method_name)
        return [method(*method_args, **kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def _get_indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return indices
