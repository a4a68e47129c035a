"""The batched session driver shared by every environment API.

The single-user Gymnasium env, the SB3 VecEnv and the Gymnasium VectorEnv are thin adapters
over `SessionBatch`, so B=1 is literally the batched code with one row: there is no second
implementation to drift apart.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from simulators import NUM_OBJECTIVES, ObservationBuilder, SessionSimulator, StepResult, UserStreams
from simulators.config import SimulatorConfig


def observation_space(builder: ObservationBuilder, num_candidates: int) -> spaces.Dict:
    """The Dict observation space of one user (no batch axis)."""
    return spaces.Dict(
        {
            "user": spaces.Box(builder.user_low, builder.user_high, dtype=np.float32),
            "items": spaces.Box(
                np.tile(builder.item_low, (num_candidates, 1)), np.tile(builder.item_high, (num_candidates, 1))
            ),
            "mask": spaces.MultiBinary(num_candidates),
        }
    )


class SessionBatch:
    """B listening sessions with per-user random streams.

    Args:
        config: simulator parameters.
        num_users: B.
        simulator: reuse an existing simulator (and its catalog) instead of building one.
    """

    def __init__(self, config: SimulatorConfig, num_users: int, simulator: SessionSimulator | None = None) -> None:
        self.simulator = simulator or SessionSimulator(config)
        self.config = self.simulator.config
        self.num_users = num_users
        self.observe = ObservationBuilder(self.config, self.simulator.catalog)
        self.observation_space = observation_space(self.observe, self.simulator.num_candidates)
        self.action_space = spaces.MultiDiscrete(np.full(self.config.slate_size, self.simulator.num_candidates))
        self.reward_space = spaces.Box(self.simulator.reward_low, self.simulator.reward_high, dtype=np.float32)
        self.streams = UserStreams(np.arange(num_users))
        self.state = self.simulator.reset(self.streams)
        self.episode_return = np.zeros((num_users, NUM_OBJECTIVES), np.float64)
        self.episode_length = np.zeros(num_users, np.int64)
        self.episode_tracks = np.zeros(num_users, np.int64)
        self.step_tracks = np.zeros(num_users, np.int64)  # tracks started in the last step

    def seed(self, seeds: np.ndarray) -> None:
        """Restart every user's random stream: seeds int[B]."""
        self.streams.reseed(np.arange(self.num_users), np.asarray(seeds, dtype=np.int64))

    def reset(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """New sessions for `rows` (default: all); returns the observation of those rows."""
        rows = np.arange(self.num_users) if rows is None else rows
        self.simulator.reset_rows(self.state, rows, self.streams)
        self.episode_return[rows] = 0.0
        self.episode_length[rows] = 0
        self.episode_tracks[rows] = 0
        return self.observe(self.state, rows)

    def step(self, slate: np.ndarray) -> tuple[dict[str, np.ndarray], StepResult]:
        """Serve slate int[B, K]; returns the next observation of all users and the step result."""
        result = self.simulator.step(self.state, self.validate(slate), self.streams)
        self.episode_return += result.objectives
        self.episode_length += 1
        self.step_tracks = result.played.sum(axis=1)
        self.episode_tracks += self.step_tracks
        return self.observe(self.state), result

    def validate(self, slate: np.ndarray) -> np.ndarray:
        """Check a batch of slates: shape [B, K], integers in [0, N). Raises ValueError otherwise."""
        slate = np.asarray(slate)
        k, n = self.config.slate_size, self.simulator.num_candidates
        if slate.shape != (self.num_users, k):
            raise ValueError(f"slate must have shape {(self.num_users, k)} (users, slate_size), got {slate.shape}")
        if not np.issubdtype(slate.dtype, np.integer):
            if not np.array_equal(slate, np.round(slate)):
                raise ValueError(f"slate must hold integer candidate indices, got dtype {slate.dtype}")
            slate = slate.astype(np.int64)
        low, high = slate.min(), slate.max()
        if low < 0 or high >= n:
            bad = np.argwhere((slate < 0) | (slate >= n))[0]
            raise ValueError(
                f"slate[{bad[0]}, {bad[1]}] = {slate[tuple(bad)]} is out of range: candidate indices must lie in "
                f"[0, {n}) (num_candidates)"
            )
        return slate
