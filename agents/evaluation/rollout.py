"""Roll out rankers on the *same* simulated users (common random numbers).

Every ranker gets a fresh batch seeded identically: the same users, the same first candidate
sets, and the same per-user random numbers at every step (each step draws a fixed count per
user), so differences between rankers are paired and their noise largely cancels.

Rankers are called through the shared ``score(user, items, mask)``; a `StateAwareRanker` (the
oracle reference) gets ``score_state(state, observation)`` with the simulator's true state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.baselines import Ranker, StateAwareRanker, top_k
from envs.config import EnvConfig
from envs.core import SessionBatch
from simulators import NUM_OBJECTIVES, SessionSimulator


@dataclass(frozen=True)
class SessionOutcomes:
    """Per-session results of one ranker.

    Attributes:
        returns: float64[S, M] objective returns per session.
        lengths: int64[S] slates served per session.
        tracks: int64[S] tracks started per session.
        early_skips_by_position: int64[P] early skips at session track position p (0-based).
        plays_by_position: int64[P] tracks started at position p.
        items_played: int64[catalog size] play count per catalog item.
        artist_diversity: float64[S] distinct artists / tracks per session.
    """

    returns: np.ndarray
    lengths: np.ndarray
    tracks: np.ndarray
    early_skips_by_position: np.ndarray
    plays_by_position: np.ndarray
    items_played: np.ndarray
    artist_diversity: np.ndarray


def rollout(
    ranker: Ranker | StateAwareRanker,
    env_config: EnvConfig,
    sessions: int,
    seed: int,
    simulator: SessionSimulator | None = None,
) -> SessionOutcomes:
    """Play `sessions` complete sessions (users seeded seed, seed+1, ...) with `ranker`'s top-K slates."""
    batch = SessionBatch(env_config.simulator, sessions, simulator)
    batch.seed(seed + np.arange(sessions))
    obs = batch.reset()
    sim = batch.simulator
    k, max_steps = sim.slate_size, sim.config.max_steps
    max_tracks = max_steps * k
    active = np.ones(sessions, bool)
    returns = np.zeros((sessions, NUM_OBJECTIVES))
    lengths = np.zeros(sessions, np.int64)
    tracks = np.zeros(sessions, np.int64)
    skips_at = np.zeros(max_tracks, np.int64)
    plays_at = np.zeros(max_tracks, np.int64)
    items_played = np.zeros(sim.catalog.num_items, np.int64)
    num_artists = int(sim.catalog.artist.max()) + 1
    heard_pairs = []  # session * num_artists + artist, one entry per track started
    for _ in range(max_steps):
        if isinstance(ranker, StateAwareRanker):
            scores = ranker.score_state(batch.state, obs)
        else:
            scores = ranker.score(obs["user"], obs["items"], obs["mask"])
        slate = top_k(scores, obs["mask"], k)
        obs, result = batch.step(slate)
        played = result.played & active[:, None]
        returns[active] += result.objectives[active]
        lengths += active
        position = tracks[:, None] + np.cumsum(played, axis=1) - 1
        np.add.at(plays_at, position[played], 1)
        np.add.at(skips_at, position[played & (result.outcome == 0)], 1)
        np.add.at(items_played, result.item_ids[played], 1)
        users, _ = np.nonzero(played)
        heard_pairs.append(users * num_artists + sim.catalog.artist[result.item_ids[played]])
        tracks += played.sum(axis=1)
        active &= ~(result.terminated | result.truncated)
        if not active.any():
            break
    distinct = np.unique(np.concatenate(heard_pairs)) // num_artists if heard_pairs else np.zeros(0, np.int64)
    diversity = np.bincount(distinct, minlength=sessions) / np.maximum(tracks, 1)
    return SessionOutcomes(returns, lengths, tracks, skips_at, plays_at, items_played, diversity)
