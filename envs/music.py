"""Single-user Gymnasium environments: the B=1 view of the batched session simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from envs.config import EnvConfig, resolve_env_config
from envs.core import SessionBatch
from simulators import OBJECTIVE_NAMES, SessionSimulator


class SegueSessionEnv(gym.Env):
    """Base of the music environments: one listening session, vector reward.

    Subclasses only fix the surface and the default config file; the docstrings of
    `MusicQueueEnv` and `MusicShelfEnv` document the spaces, rewards and episode rules.
    """

    metadata = {"render_modes": []}
    surface: str = "queue"
    default_config_file: str = "music_queue.yaml"

    def __init__(
        self,
        config: str | Path | EnvConfig | dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        simulator: SessionSimulator | None = None,
    ) -> None:
        self.env_config = resolve_env_config(config, self.default_config_file, overrides)
        if self.env_config.simulator.surface != self.surface:
            raise ValueError(
                f"{type(self).__name__} needs simulator.surface = {self.surface!r}, "
                f"got {self.env_config.simulator.surface!r}; use the other environment id instead"
            )
        self.batch = SessionBatch(self.env_config.simulator, 1, simulator)
        self.observation_space = self.batch.observation_space
        self.action_space = self.batch.action_space
        self.reward_space = self.batch.reward_space
        self.objective_names = OBJECTIVE_NAMES
        self._seeded = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self.batch.seed(np.array([seed]))
        elif not self._seeded:
            self.batch.seed(self.np_random.integers(0, 2**63 - 1, size=1))
        self._seeded = True
        return _row(self.batch.reset()), {}

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, bool, bool, dict[str, Any]]:
        obs, result = self.batch.step(np.asarray(action).reshape(1, -1))
        reward = result.objectives[0]
        info = {
            "vector_reward": reward,
            "objectives": dict(zip(self.objective_names, reward.tolist())),
            "tracks_played": int(result.played[0].sum()),
            "dropped_picks": int(result.dropped[0].sum()),
        }
        # The horizon is observable (session_progress), so reaching max_steps ends the MDP:
        # it is reported as termination, never truncation (Pardo et al., ICML 2018).
        info["session_end"] = "left" if result.terminated[0] else ("horizon" if result.truncated[0] else None)
        return _row(obs), reward, bool(result.terminated[0] | result.truncated[0]), False, info


def _row(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {key: value[0] for key, value in obs.items()}


class MusicQueueEnv(SegueSessionEnv):
    """## Description

    A listener's session on an ordered playback queue. At every step the ranker sees the user
    and N candidate tracks and returns a queue of K tracks; the simulated user walks the queue
    in order, and each track ends as an **early skip**, a **late skip** or a **completion**
    (with the seconds heard). After any track the user may leave. Skips add fatigue, repeated
    genres and artists lose appeal, and taste drifts toward completed tracks, so the greedy
    "best K tracks now" queue is not optimal over a session.

    ## Action Space

    `MultiDiscrete([N] * K)`: candidate indices in queue order (default N=100, K=10). An index
    outside [0, N) raises `ValueError`. A slot that repeats an earlier slot or points at a masked
    candidate is **dropped** (nothing plays; counted in `info["dropped_picks"]`).

    ## Observation Space

    `Dict`:
    - `user`: `float32[du]` taste vector, premium flag, skip fatigue, recent skip rate,
      session progress, per-genre exposure (names: `simulators.user_feature_names`).
    - `items`: `float32[N, di]` candidate embedding, popularity, duration, business tags,
      artist-just-heard, genre exposure, and the predicted-engagement model's expected reward
      vector of playing the candidate next (`predicted_*`, see `simulators.prediction`; names:
      `simulators.item_feature_names`).
    - `mask`: `MultiBinary(N)`, 1 for real candidates (N may vary per request).

    ## Rewards

    A `float32` vector with `reward_space` (MO-Gymnasium convention), in the order of
    `simulators.OBJECTIVE_NAMES`: listening_minutes, completions, skips (negative),
    promoted_streams, discovery, revenue. `info["objectives"]` names each component. Wrap with
    `envs.LinearScalarization` for a scalar reward.

    ## Starting State

    A new user from the population (taste near a favourite genre, tier, hidden skip propensity
    and patience) with no session memory, and a fresh candidate set.

    ## Episode End

    Terminated when the user leaves or after `max_steps` queues (default 20); `info["session_end"]`
    says which. The horizon is observable (`session_progress`), so it is part of the MDP and
    reported as termination, not truncation: learners must not bootstrap past it.

    ## Arguments

    `gymnasium.make("segue/MusicQueue-v0", config=None, overrides=None)`: `config` is a YAML
    path, mapping or `EnvConfig` (default `configs/music_queue.yaml`); `overrides` maps dotted
    keys to values, e.g. `{"simulator.slate_size": 5}`.

    ## Version History

    - v0: initial release.
    """

    surface = "queue"
    default_config_file = "music_queue.yaml"


class MusicShelfEnv(SegueSessionEnv):
    """## Description

    A listener browsing a shelf. At every step the ranker fills K shelf slots from N candidate
    tracks; the user picks at most one (multinomial logit with a no-choice option and position
    bias, or a cascade scan) and plays it, which ends as an early skip, late skip or completion.
    Choosing nothing adds fatigue and raises the chance of leaving.

    ## Action Space

    `MultiDiscrete([N] * K)` (default N=10, K=2), same rules as `MusicQueueEnv`: out-of-range
    indices raise, duplicate or masked picks are dropped (not shown).

    ## Observation Space

    Same `Dict(user, items, mask)` as `MusicQueueEnv`.

    ## Rewards

    The same six-objective vector as `MusicQueueEnv`, from at most one played track per step.

    ## Starting State

    A new user from the population and a fresh candidate set.

    ## Episode End

    Terminated when the user leaves or after `max_steps` shelves (default 50), as in
    `MusicQueueEnv`.

    ## Arguments

    `gymnasium.make("segue/MusicShelf-v0", config=None, overrides=None)`, default config
    `configs/music_shelf.yaml`; choose the cascade model with
    `overrides={"simulator.shelf.choice_model": "cascade"}`.

    ## Version History

    - v0: initial release.
    """

    surface = "shelf"
    default_config_file = "music_shelf.yaml"
