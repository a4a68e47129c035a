"""Scalarization: turn the vector reward into the float that single-objective learners need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from simulators import OBJECTIVE_NAMES


def weight_array(weights: Sequence[float] | dict[str, float]) -> np.ndarray:
    """Weights as float32[NUM_OBJECTIVES] in OBJECTIVE_NAMES order, from a sequence or a name map."""
    if isinstance(weights, dict):
        unknown = sorted(set(weights) - set(OBJECTIVE_NAMES))
        if unknown:
            raise ValueError(f"unknown objective(s) {unknown}; valid names: {list(OBJECTIVE_NAMES)}")
        weights = [weights.get(name, 0.0) for name in OBJECTIVE_NAMES]
    array = np.asarray(weights, dtype=np.float32)
    if array.shape != (len(OBJECTIVE_NAMES),) or not np.all(np.isfinite(array)):
        raise ValueError(f"weights must be {len(OBJECTIVE_NAMES)} finite numbers, one per {OBJECTIVE_NAMES}")
    return array


class LinearScalarization(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Reward = weights · vector reward; the vector stays in ``info["vector_reward"]``.

    Args:
        env: a Segue env with a vector reward.
        weights: per-objective weights (sequence in OBJECTIVE_NAMES order or a name map);
            default: the env config's `reward_weights`.
    """

    def __init__(self, env: gym.Env, weights: Sequence[float] | dict[str, float] | None = None) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, weights=weights)
        super().__init__(env)
        if weights is None:
            weights = env.unwrapped.env_config.weight_vector()
        self.weights = weight_array(weights)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, vector, terminated, truncated, info = self.env.step(action)
        return obs, float(np.dot(self.weights, vector)), terminated, truncated, info
