"""The reward vector: named objectives with declared bounds.

The names and their order are a contract of every Segue environment (reward vectors, TensorBoard
curves, model cards and reports all use them):

=====================  ==================================================================
``listening_minutes``  minutes of audio heard in the step (satisfaction)
``completions``        tracks heard to the end (satisfaction)
``skips``              minus the number of early skips; a late skip is a partial listen
``promoted_streams``   streams of promoted tracks (business)
``discovery``          streams of new releases or long-tail artists (ecosystem)
``revenue``            revenue proxy: per stream, tier value (premium or ad-supported) times
                       margin (owned content keeps more than licensed content)
=====================  ==================================================================

A *stream* is a play of at least ``stream_threshold_s`` seconds (30 s, the usual royalty rule).
"""

from __future__ import annotations

import numpy as np

from simulators.config import ObjectivesConfig

OBJECTIVE_NAMES: tuple[str, ...] = (
    "listening_minutes",
    "completions",
    "skips",
    "promoted_streams",
    "discovery",
    "revenue",
)
NUM_OBJECTIVES = len(OBJECTIVE_NAMES)


def objective_bounds(
    config: ObjectivesConfig, tracks_per_step: int, max_duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step lower and upper bounds of the reward vector: two float32[NUM_OBJECTIVES]."""
    n = float(tracks_per_step)
    best_stream = max(config.premium_stream_value, config.free_stream_value) * max(
        config.licensed_margin, config.owned_margin
    )
    low = np.array([0.0, 0.0, -n, 0.0, 0.0, 0.0], dtype=np.float32)
    high = np.array([n * max_duration_s / 60.0, n, 0.0, n, n, n * best_stream], dtype=np.float32)
    return low, high


def slot_objectives(
    config: ObjectivesConfig,
    listened_s: np.ndarray,
    completed: np.ndarray,
    early_skip: np.ndarray,
    promoted: np.ndarray,
    discovery: np.ndarray,
    owned: np.ndarray,
    premium: np.ndarray,
) -> np.ndarray:
    """Reward vector of every slot: float32[B, K, NUM_OBJECTIVES]; a step's vector is their sum.

    Kept per slot because a queue's slots are played in order: a learner can credit slot k's
    pick with the rewards from slot k on only (`agents.slot_ppo`).

    Args:
        listened_s: float32[B, K] seconds heard per slot (0 where nothing played).
        completed, early_skip: bool[B, K] outcomes of played slots.
        promoted, discovery, owned: bool[B, K] tags of the slot's track.
        premium: bool[B] tier of the user.
    """
    stream = listened_s >= np.float32(config.stream_threshold_s)
    tier_value = np.where(premium, np.float32(config.premium_stream_value), np.float32(config.free_stream_value))
    margin = np.where(owned, np.float32(config.owned_margin), np.float32(config.licensed_margin))
    out = np.empty((*listened_s.shape, NUM_OBJECTIVES), dtype=np.float32)
    out[..., 0] = listened_s / np.float32(60)
    out[..., 1] = completed
    out[..., 2] = -early_skip.astype(np.float32)
    out[..., 3] = stream & promoted
    out[..., 4] = stream & discovery
    out[..., 5] = tier_value[:, None] * stream * margin
    return out
