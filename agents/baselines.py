"""Baseline rankers with the exported policy's interface: ``score(user, items, mask) -> scores``.

The evaluator treats learned and hand-made rankers alike: each returns float32[B, N] scores and
the slate is the top K by score (masked candidates score MASKED_SCORE and are never picked).

The one exception is deliberate: `OracleRanker` sees the *true* user state (hidden skip
propensity and patience, exact in-slate context), which no deployable ranker can. It implements
`StateAwareRanker.score_state(state, observation)` instead, which the rollout calls with the
simulator state, and is labelled "oracle (upper reference)" in every report.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from agents.evaluation.plackett_luce import prefix_log_probabilities
from simulators import SessionSimulator, SessionState
from simulators.items import STATIC_ITEM_FEATURES
from simulators.observation import predicted_columns
from simulators.prediction import EngagementModel
from simulators.response import outcome_hazards, outcome_probabilities, track_utility
from simulators.users import recently_heard

MASKED_SCORE = np.float32(-1.0e9)
#: Every baseline `make_baselines` knows, in report order.
BASELINE_NAMES = ("random", "popularity", "greedy", "boosted_greedy", "mmr", "logging", "oracle")


class Ranker(Protocol):
    """Anything that scores candidate sets: user float32[B, du], items float32[B, N, di], mask [B, N]."""

    name: str

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class StateAwareRanker(Protocol):
    """A reference ranker that reads the simulator's true state (never deployable)."""

    name: str

    def score_state(self, state: SessionState, observation: dict[str, np.ndarray]) -> np.ndarray: ...


def top_k(scores: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Slate of the k best valid candidates, best first: int64[B, k]."""
    scores = np.where(mask.astype(bool), scores, MASKED_SCORE)
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
    return np.take_along_axis(best, order, axis=1)


def slate_scores(slate: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scores whose top K is exactly `slate` (int[B, K]), in order: float32[B, N]."""
    k = slate.shape[1]
    scores = np.where(mask.astype(bool), np.float32(-1), MASKED_SCORE).astype(np.float32)
    np.put_along_axis(scores, slate, np.arange(k, 0, -1, dtype=np.float32)[None, :], axis=1)
    return scores


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

    This is the "predicted engagement" ranker production teams start from. It ranks by the
    observation's `predicted_*` features (`simulators.prediction`): the response model applied
    to what the observation shows (taste, fatigue, genre exposure, artist recency), hidden
    traits at their population mean, blind to every effect on the future (fatigue, leaving,
    drift) and to the interactions inside a slate.

    Args:
        simulator: the world the observations come from (for the feature layout).
        weights: float[M] scalarization weights in OBJECTIVE_NAMES order.
        promoted_boost: extra score per promoted candidate.
    """

    name = "greedy"

    def __init__(self, simulator: SessionSimulator, weights: np.ndarray, promoted_boost: float = 0.0) -> None:
        self.weights = np.asarray(weights, dtype=np.float32)
        self.promoted_boost = np.float32(promoted_boost)
        self.predicted = predicted_columns(simulator.catalog)
        self.promoted = simulator.catalog.embedding_dim + STATIC_ITEM_FEATURES.index("promoted")

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        value = items[:, :, self.predicted] @ self.weights
        return value + self.promoted_boost * items[:, :, self.promoted]

    def item_weights(self, item_dim: int) -> np.ndarray:
        """The linear map of the item features this ranker scores by: float32[item_dim] (score = items @ it)."""
        weights = np.zeros(item_dim, np.float32)
        weights[self.predicted] = self.weights
        weights[self.promoted] += self.promoted_boost
        return weights


class BusinessBoostedGreedyRanker(GreedyRanker):
    """Greedy plus a fixed boost on promoted candidates: how a label deal is usually honoured.

    The boost is in scalarized-reward units (about one average track's value by default), so
    promoted tracks jump ahead of better-matching ones; the report shows what that costs in
    satisfaction and what it buys in promoted streams.
    """

    name = "boosted_greedy"

    def __init__(self, simulator: SessionSimulator, weights: np.ndarray, promoted_boost: float = 1.0) -> None:
        super().__init__(simulator, weights, promoted_boost)


class DiversityReranker:
    """Maximal marginal relevance re-ranking of the greedy scores over item embeddings.

    Slot by slot it picks argmax of  lambda * relevance - (1 - lambda) * max cosine similarity to
    the tracks already in the slate  (Carbonell & Goldstein, SIGIR 1998). Relevance is the greedy
    score rescaled to [0, 1] per request so that `diversity` means the same at any reward scale.

    Args:
        simulator: the world (for the greedy relevance model and K).
        weights: float[M] scalarization weights.
        diversity: 1 - lambda, the weight of dissimilarity (0 reproduces greedy's slate).
    """

    name = "mmr"

    def __init__(self, simulator: SessionSimulator, weights: np.ndarray, diversity: float = 0.3) -> None:
        if not 0.0 <= diversity <= 1.0:
            raise ValueError(f"diversity must lie in [0, 1], got {diversity}")
        self.relevance = GreedyRanker(simulator, weights)
        self.diversity = float(diversity)
        self.slate_size = simulator.slate_size
        self.d = simulator.catalog.embedding_dim

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        valid = mask.astype(bool)
        relevance = np.where(valid, self.relevance.score(user, items, mask), np.nan)
        low, high = np.nanmin(relevance, axis=1, keepdims=True), np.nanmax(relevance, axis=1, keepdims=True)
        relevance = np.nan_to_num((relevance - low) / np.maximum(high - low, 1e-12))
        embedding = items[:, :, : self.d]
        rows = np.arange(items.shape[0])
        max_similarity = np.full(mask.shape, -1.0, np.float32)
        available = valid.copy()
        slate = np.empty((items.shape[0], min(self.slate_size, items.shape[1])), np.int64)
        for slot in range(slate.shape[1]):
            penalty = max_similarity if slot else 0.0
            value = (1 - self.diversity) * relevance - self.diversity * penalty
            pick = np.argmax(np.where(available, value, -np.inf), axis=1)
            slate[:, slot] = pick
            available[rows, pick] = False
            similarity = np.einsum("bnd,bd->bn", embedding, embedding[rows, pick])
            max_similarity = np.maximum(max_similarity, similarity)
        return slate_scores(slate, mask)


class LoggingPolicy:
    """A stochastic production policy that logs its propensities: Plackett-Luce over greedy values.

    Slot 1 takes candidate i with probability softmax(v / temperature)[i] over the greedy values
    v, slot 2 from the rest, and so on (sampled exactly with Gumbel-top-k). After each `score`
    call, `last_slate` (int64[B, K]) and `last_prefix_log_propensity` (float64[B, K],
    log pi(a_1..a_k | x); the last column is the slate propensity) describe what was shown: the
    inputs off-policy estimators need.

    Args:
        simulator: the world (greedy value model and K).
        weights: float[M] scalarization weights.
        temperature: softmax temperature in reward units (small: near greedy; large: near uniform).
        seed: seed of the sampling generator.
    """

    name = "logging"

    def __init__(self, simulator: SessionSimulator, weights: np.ndarray, temperature: float = 0.25, seed: int = 0):
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.value = GreedyRanker(simulator, weights)
        self.temperature = float(temperature)
        self.slate_size = simulator.slate_size
        self.rng = np.random.default_rng(seed)
        self.last_slate: np.ndarray | None = None
        self.last_prefix_log_propensity: np.ndarray | None = None

    def logits(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Plackett-Luce logits float64[B, N] (masked candidates are -inf)."""
        value = self.value.score(user, items, mask).astype(np.float64) / self.temperature
        return np.where(mask.astype(bool), value, -np.inf)

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Gumbel-perturbed logits float32[B, N]: their top K is an exact Plackett-Luce sample."""
        logits = self.logits(user, items, mask)
        perturbed = logits + self.rng.gumbel(size=logits.shape)
        k = min(self.slate_size, mask.shape[1])
        self.last_slate = top_k(perturbed, mask, k)
        self.last_prefix_log_propensity = prefix_log_probabilities(logits, mask, self.last_slate)
        return np.where(mask.astype(bool), perturbed, MASKED_SCORE).astype(np.float32)


class OracleRanker:
    """Upper reference: plans each slate on the *true* user state, which no deployable ranker sees.

    It reads the simulator state (hidden skip propensity and patience, true fatigue, genre
    exposure, recent artists, session position) and fills the slate slot by slot, carrying the
    in-slate context forward exactly as the simulator will (genre exposure and artist repeats
    of the tracks placed earlier). A candidate's value is its expected immediate scalarized
    reward plus the value of the user staying:

        value_i = E[r_i] . w + P(stay | i) * continuation,

    with continuation = (mean value of the user's best K candidates) * (expected tracks left,
    from the user's own leave hazard). It is still myopic about fatigue and drift, so it is a
    strong reference, not a proven optimum; reports label it "oracle (upper reference)".

    Args:
        simulator: the simulator whose state `score_state` receives.
        weights: float[M] scalarization weights.
    """

    name = "oracle"
    label = "oracle (upper reference)"

    def __init__(self, simulator: SessionSimulator, weights: np.ndarray) -> None:
        self.config = simulator.config
        self.weights = np.asarray(weights, dtype=np.float32)
        self.sequential = self.config.surface == "queue"
        cat = simulator.catalog
        self.catalog = cat
        self.popularity_z = cat.static_features[:, cat.embedding_dim].astype(np.float32)
        self.engagement = EngagementModel(self.config, cat)

    def score_state(self, state: SessionState, observation: dict[str, np.ndarray]) -> np.ndarray:
        """Scores float32[B, N] whose top K is the oracle's slate for `state`'s next request."""
        cfg, cat, users = self.config, self.catalog, state.users
        ids, mask = state.candidate_ids, state.candidate_mask
        b, n = ids.shape
        k = min(cfg.slate_size, n)
        rows = np.arange(b)
        genre, artist = cat.genre[ids], cat.artist[ids]
        r = cfg.response
        # Utility terms that do not depend on the slot; the slot adds exposure, repeats, position.
        static_utility = track_utility(
            r, np.einsum("bnd,bd->bn", cat.embedding[ids], users.taste), self.popularity_z[ids], users.premium,
            users.skip_propensity, users.fatigue, np.zeros(ids.shape, np.float32), np.zeros(ids.shape, bool),
            np.full(ids.shape, np.inf, np.float32),
        )
        hazard = outcome_hazards(cfg.leave, users.fatigue, users.patience)  # the same for every candidate
        memory = cfg.dynamics.artist_memory

        def slot_values(slot: int, within: np.ndarray, placed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Expected scalarized reward and stay probability of every candidate in `slot`: float[B, N] x 2."""
            decay = np.float32(cfg.dynamics.genre_decay) ** slot if self.sequential else np.float32(1)
            exposure = np.take_along_axis(users.genre_exposure * decay + within, genre, axis=1)
            # The simulator's artist window: in a queue, slot s remembers the newest H - s artists
            # heard before it and the last H placed slots (see SlateMemory).
            repeat = recently_heard(artist, users.recent_artists[:, slot if self.sequential else 0 :])
            if placed.shape[1]:
                repeat |= recently_heard(artist, placed[:, -memory:])
            position = (users.tracks_played + slot).astype(np.float32)[:, None]
            utility = (
                static_utility
                - np.float32(r.genre_fatigue_weight) * exposure
                - np.float32(r.artist_repeat_penalty) * repeat
                + np.float32(r.first_track_bonus) * np.exp(-position / np.float32(r.warmup_tracks))
            )
            value = self.engagement.rewards(utility, ids, users.premium) @ self.weights
            stay = outcome_probabilities(r, utility) @ (1 - hazard[:, :, None])
            return value, stay[..., 0]

        within = np.zeros_like(users.genre_exposure)
        first, _ = slot_values(0, within, np.zeros((b, 0), np.int32))
        best = np.sort(np.where(mask, first, -np.inf), axis=1)[:, -k:]
        per_track = np.where(np.isfinite(best), best, 0.0).mean(axis=1)
        tracks_left = (cfg.max_steps - users.steps) * cfg.slate_size
        continuation = per_track * np.minimum(1.0 / hazard[:, 1], tracks_left)

        available = mask.copy()
        slate = np.empty((b, k), np.int64)
        for slot in range(k):
            placed = artist[rows[:, None], slate[:, :slot]] if self.sequential else np.zeros((b, 0), np.int32)
            value, stay = slot_values(slot, within, placed)
            pick = np.argmax(np.where(available, value + stay * continuation[:, None], -np.inf), axis=1)
            slate[:, slot] = pick
            available[rows, pick] = False
            if self.sequential:
                within *= np.float32(cfg.dynamics.genre_decay)
                within[rows, genre[rows, pick]] += 1.0
        return slate_scores(slate, mask)


def make_baselines(
    names: list[str] | tuple[str, ...], simulator: SessionSimulator, weights: np.ndarray, seed: int = 0
) -> list[Ranker | StateAwareRanker]:
    """Build baseline rankers by name (see BASELINE_NAMES), with a clear error for unknown names."""
    factories = {
        "random": lambda: RandomRanker(seed),
        "popularity": lambda: PopularityRanker(simulator),
        "greedy": lambda: GreedyRanker(simulator, weights),
        "boosted_greedy": lambda: BusinessBoostedGreedyRanker(simulator, weights),
        "mmr": lambda: DiversityReranker(simulator, weights),
        "logging": lambda: LoggingPolicy(simulator, weights, seed=seed),
        "oracle": lambda: OracleRanker(simulator, weights),
    }
    unknown = sorted(set(names) - set(factories))
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; available: {list(BASELINE_NAMES)}")
    return [factories[name]() for name in names]
