"""Baseline rankers with the exported policy's interface: ``score(user, items, mask) -> scores``.

The evaluator treats learned and hand-made rankers alike: each returns float32[B, N] scores and
the slate is the top K by score (masked candidates score MASKED_SCORE and are never picked).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from simulators import OBJECTIVE_NAMES, SessionSimulator
from simulators.items import STATIC_ITEM_FEATURES
from simulators.response import outcome_probabilities, track_utility

MASKED_SCORE = np.float32(-1.0e9)


class Ranker(Protocol):
    """Anything that scores candidate sets: user float32[B, du], items float32[B, N, di], mask [B, N]."""

    name: str

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


def top_k(scores: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Slate of the k best valid candidates, best first: int64[B, k]."""
    scores = np.where(mask.astype(bool), scores, MASKED_SCORE)
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
    return np.take_along_axis(best, order, axis=1)


class RandomRanker:
    """Uniformly random slates (a floor every policy must clear)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.rng.random(mask.shape, dtype=np.float32)


class PopularityRanker:
    """Most popular candidates first: the non-personalised chart."""

    name = "popularity"

    def __init__(self, simulator: SessionSimulator) -> None:
        self.column = simulator.catalog.embedding_dim + STATIC_ITEM_FEATURES.index("popularity_z")

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return items[:, :, self.column].copy()


class GreedyRanker:
    """Greedy myopic: ranks by the expected *immediate* scalarized reward of each candidate.

    This is the "predicted engagement" ranker production teams start from: it knows the
    simulator's response model and sees what the observation shows (taste, fatigue, genre
    exposure, artist recency), takes hidden traits at their population mean, and ignores every
    effect on the future (fatigue, leaving, drift) and the interactions inside a slate.

    Args:
        simulator: the world the observations come from (response model, catalog scales).
        weights: float[M] scalarization weights in OBJECTIVE_NAMES order.
        promoted_boost: extra score per promoted candidate ("business-boosted greedy").
    """

    name = "greedy"

    def __init__(self, simulator: SessionSimulator, weights: np.ndarray, promoted_boost: float = 0.0) -> None:
        self.config = simulator.config
        self.weights = np.asarray(weights, dtype=np.float32)
        self.promoted_boost = np.float32(promoted_boost)
        catalog = simulator.catalog
        self.d = catalog.embedding_dim
        log_duration = np.log(catalog.duration_s.astype(np.float64))
        self.log_duration_mean, self.log_duration_sd = log_duration.mean(), log_duration.std() + 1e-12
        self.column = {name: self.d + i for i, name in enumerate(STATIC_ITEM_FEATURES)}

    def expected_objectives(self, user: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Expected reward vector of playing each candidate now: float32[B, N, M]."""
        cfg, d, col = self.config, self.d, self.column
        utility = track_utility(
            cfg.response,
            np.einsum("bnd,bd->bn", items[:, :, :d], user[:, :d]),
            items[:, :, col["popularity_z"]],
            user[:, d] > 0.5,
            np.zeros(user.shape[0], np.float32),
            user[:, d + 1],
            items[:, :, -1],
            items[:, :, -2],
            np.full(items.shape[:2], 1e3, np.float32),  # past the first-track bonus
        )
        p = outcome_probabilities(cfg.response, utility)  # [B, N, 3]
        duration = np.exp(self.log_duration_mean + self.log_duration_sd * items[:, :, col["log_duration_z"]])
        r = cfg.response
        cut, shape = r.early_skip_max_fraction, r.early_skip_shape
        mean_fraction = p[..., 0] * cut / (shape + 1) + p[..., 1] * (1 + cut) / 2 + p[..., 2]
        threshold = cfg.objectives.stream_threshold_s / duration
        stream = (
            p[..., 0] * (1 - np.clip(threshold / cut, 0, 1) ** (1 / shape))
            + p[..., 1] * np.clip((1 - np.maximum(cut, threshold)) / (1 - cut), 0, 1)
            + p[..., 2] * (threshold <= 1)
        )
        obj = cfg.objectives
        tier = np.where(user[:, d] > 0.5, obj.premium_stream_value, obj.free_stream_value)[:, None]
        margin = np.where(items[:, :, col["owned"]] > 0.5, obj.owned_margin, obj.licensed_margin)
        discovery = np.maximum(items[:, :, col["new_release"]], items[:, :, col["long_tail"]])
        out = np.stack(
            [
                mean_fraction * duration / 60.0,
                p[..., 2],
                -p[..., 0],
                stream * items[:, :, col["promoted"]],
                stream * discovery,
                stream * tier * margin,
            ],
            axis=-1,
        )
        assert out.shape[-1] == len(OBJECTIVE_NAMES)
        return out.astype(np.float32)

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        value = self.expected_objectives(user, items) @ self.weights
        return value + self.promoted_boost * items[:, :, self.column["promoted"]]


def make_baselines(names: list[str], simulator: SessionSimulator, weights: np.ndarray, seed: int = 0) -> list[Ranker]:
    """Build baseline rankers by name, with a clear error for unknown names."""
    factories = {
        "random": lambda: RandomRanker(seed),
        "popularity": lambda: PopularityRanker(simulator),
        "greedy": lambda: GreedyRanker(simulator, weights),
    }
    unknown = sorted(set(names) - set(factories))
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; available: {sorted(factories)}")
    return [factories[name]() for name in names]
