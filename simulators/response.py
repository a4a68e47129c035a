"""User response models: track utility, listen outcome, shelf choice and the leave hazard.

These are pure functions of arrays so that calibration can evaluate their likelihood on logged
events and tests can check them against hand-computed probabilities.
"""

from __future__ import annotations

import numpy as np

from simulators.config import LeaveConfig, ResponseConfig, ShelfConfig

#: Listen outcomes of one track, in the order of the probability axis.
EARLY_SKIP, LATE_SKIP, COMPLETE = 0, 1, 2
OUTCOME_NAMES = ("early_skip", "late_skip", "complete")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function, dtype-preserving."""
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def track_utility(
    config: ResponseConfig,
    affinity: np.ndarray,
    popularity_z: np.ndarray,
    premium: np.ndarray,
    skip_propensity: np.ndarray,
    fatigue: np.ndarray,
    genre_exposure: np.ndarray,
    artist_recent: np.ndarray,
    position: np.ndarray,
) -> np.ndarray:
    """Utility of each slate track for its user: float32[B, K].

    Args:
        affinity: float32[B, K], <taste, track embedding> in [-1, 1].
        popularity_z: float32[B, K], standardized log popularity.
        premium, skip_propensity, fatigue: [B] user traits and state.
        genre_exposure, position: float32[B, K]; artist_recent: bool[B, K] (see SlateContext).
    """
    c = config
    u = np.float32(c.affinity_scale) * affinity
    u += np.float32(c.popularity_weight) * popularity_z
    u -= np.float32(c.genre_fatigue_weight) * genre_exposure
    u -= np.float32(c.artist_repeat_penalty) * artist_recent
    u += np.float32(c.first_track_bonus) * np.exp(-position / np.float32(c.warmup_tracks))
    user_shift = np.float32(c.premium_effect) * premium - skip_propensity - np.float32(c.fatigue_weight) * fatigue
    u += user_shift[:, None].astype(np.float32)
    return u


def outcome_probabilities(config: ResponseConfig, utility: np.ndarray) -> np.ndarray:
    """Ordered-logit outcome probabilities: float[..., 3] over (early skip, late skip, complete).

    P(past early) = sigmoid(u - c1), P(complete) = sigmoid(u - c1 - gap); the three sum to 1.
    """
    past_early = sigmoid(utility - np.float32(config.early_skip_threshold))
    complete = sigmoid(utility - np.float32(config.early_skip_threshold + config.completion_gap))
    return np.stack([1.0 - past_early, past_early - complete, complete], axis=-1)


def sample_outcomes(config: ResponseConfig, utility: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Inverse-CDF sample of outcomes: int8[B, K] from uniforms `draw` of the same shape.

    Equivalent to sampling from `outcome_probabilities`: outcome >= LATE_SKIP iff the draw falls
    below P(past early), and == COMPLETE iff below P(complete).
    """
    past_early = sigmoid(utility - np.float32(config.early_skip_threshold))
    complete = sigmoid(utility - np.float32(config.early_skip_threshold + config.completion_gap))
    return (draw < past_early).astype(np.int8) + (draw < complete)


def listen_fraction(config: ResponseConfig, outcome: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Share of the track heard: float32[B, K], given outcomes and fresh uniforms.

    Early skips stop before `early_skip_max_fraction` (mass near 0 when shape > 1), late skips
    uniformly between that point and the end, completions hear everything.
    """
    cut = np.float32(config.early_skip_max_fraction)
    early = cut * draw ** np.float32(config.early_skip_shape)
    late = cut + (1 - cut) * draw
    return np.where(outcome == COMPLETE, np.float32(1), np.where(outcome == LATE_SKIP, late, early))


def leave_probability(
    config: LeaveConfig, outcome: np.ndarray, fatigue: np.ndarray, patience: np.ndarray
) -> np.ndarray:
    """Hazard of ending the session right after each track: float32[B, K]."""
    logit = np.float32(config.base_logit) + np.where(
        outcome == EARLY_SKIP,
        np.float32(config.after_early_skip),
        np.where(outcome == COMPLETE, np.float32(config.after_completion), np.float32(0)),
    )
    logit += (np.float32(config.fatigue_effect) * fatigue - patience)[:, None].astype(np.float32)
    return sigmoid(logit)


def outcome_hazards(config: LeaveConfig, fatigue: np.ndarray, patience: np.ndarray) -> np.ndarray:
    """Leave hazard after each listen outcome, in outcome order: float32[B, 3].

    What a lookahead needs: the chance of losing the listener depends on how the track is heard.
    """
    outcomes = np.tile(np.array([EARLY_SKIP, LATE_SKIP, COMPLETE]), (len(fatigue), 1))
    return leave_probability(config, outcomes, fatigue, patience)


def shelf_choice_probabilities(config: ShelfConfig, utility: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Probability of choosing each shown slot or nothing: float[B, K + 1], last column = no choice.

    MNL: P(k) = exp(v_k) / (exp(v_0) + sum_j exp(v_j)) with v_k = u_k - position_bias * k.
    Cascade: the user scans slots in order and takes slot k with prob sigmoid(v_k - threshold),
    stopping at the first take. Slots with shown=False (bool[B, K]) are never chosen.
    """
    k = utility.shape[1]
    v = utility - np.float32(config.position_bias) * np.arange(k, dtype=np.float32)
    if config.choice_model == "mnl":
        logits = np.concatenate([np.where(shown, v, -np.inf), np.full((v.shape[0], 1), config.no_choice_utility)], 1)
        logits = logits - logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)
    take = np.where(shown, sigmoid(v - np.float32(config.cascade_threshold)), 0)
    reach = np.cumprod(np.concatenate([np.ones((v.shape[0], 1), take.dtype), 1 - take], axis=1), axis=1)
    return np.concatenate([reach[:, :k] * take, reach[:, k:]], axis=1)


def sample_choice(probabilities: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Inverse-CDF sample of a choice index per row: int64[B] in [0, K], K = no choice."""
    cdf = np.cumsum(probabilities, axis=1)
    choice = (cdf < draw[:, None] * cdf[:, -1:]).sum(axis=1)
    return np.minimum(choice, probabilities.shape[1] - 1)
