"""Gymnasium wrappers that scalarize a Segue env's vector reward (arithmetic in `envs.scalarization`).

The vector always stays in ``info["vector_reward"]``, so MO-Gymnasium's own wrappers (e.g.
`MORecordEpisodeStatistics`) can sit under or over these and still see every objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from envs.scalarization import Chebyshev, Linear

Weights = Sequence[float] | dict[str, float]


class _Scalarized(gym.Wrapper):
    """Common step: scalarize ``info["vector_reward"]``; clear the memory at episode end."""

    scalarizer: Linear | Chebyshev

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.scalarizer.end(np.arange(1))
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        # A vector reward from below wins over the info copy, so that an MO-Gymnasium wrapper
        # underneath (MONormalizeReward, MOClipReward) changes what is scalarized.
        vector = np.asarray(reward if np.ndim(reward) == 1 else info["vector_reward"], dtype=np.float32)
        tracks = np.array([info.get("tracks_played", 0)])
        scalar = float(self.scalarizer(vector[None, :], tracks)[0])
        info["vector_reward"] = vector
        if terminated or truncated:
            self.scalarizer.end(np.arange(1))
        return obs, scalar, terminated, truncated, info


class LinearScalarization(_Scalarized, gym.utils.RecordConstructorArgs):
    """Reward = weights · (vector reward / scales).

    Args:
        env: a Segue env with a vector reward (or any env whose info holds "vector_reward").
        weights: per-objective weights (sequence in OBJECTIVE_NAMES order or a name map);
            default: the env config's `reward_weights`.
        scales: per-objective units that make the weights comparable (see
            `agents.evaluation.scales.objective_scales`); default 1 (raw units).
    """

    def __init__(self, env: gym.Env, weights: Weights | None = None, scales: Weights | None = None) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, weights=weights, scales=scales)
        super().__init__(env)
        if weights is None:
            weights = env.unwrapped.env_config.weight_vector()
        self.scalarizer = Linear(weights, scales)


class ChebyshevScalarization(_Scalarized, gym.utils.RecordConstructorArgs):
    """Reward = change of -max_i w_i (utopia_i - G_i) / s_i, G the running vector return.

    The undiscounted episode return equals the episode's Chebyshev value minus its value at
    G = 0 (see `envs.scalarization`).

    Args:
        env: a Segue env with a vector reward.
        weights: per-objective weights (>= 0).
        utopia: per-objective episode returns to aim at.
        scales: per-objective units; default 1.
    """

    def __init__(self, env: gym.Env, weights: Weights, utopia: Weights, scales: Weights | None = None) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, weights=weights, utopia=utopia, scales=scales)
        super().__init__(env)
        self.scalarizer = Chebyshev(weights, utopia, scales, batch_size=1)
