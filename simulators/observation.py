"""What a ranker sees: user features, candidate features and the candidate mask.

Feature names and order are part of the env and model-card contract. Hidden traits (skip
propensity, patience) are deliberately not observed: a ranker must infer them from behaviour,
as in production. Candidate features mix static track metadata with two user-dependent
columns (artist just heard, genre exposure), so that a policy *can* learn to avoid fatigue,
the predicted-engagement model's expected objectives of playing the candidate now
(`simulators.prediction`), the upstream predictions a production re-ranker is fed, and last the
candidate's artist id (`artist_key`). The id is not a feature to score by: it is a key for
equality, so that a queue policy can tell which candidates would repeat an artist it has just
placed earlier in the same queue (what `artist_recent` says about the tracks already heard).
"""

from __future__ import annotations

import numpy as np

from simulators.config import SimulatorConfig
from simulators.items import STATIC_ITEM_FEATURES, Catalog
from simulators.objectives import objective_bounds
from simulators.prediction import PREDICTED_FEATURES, EngagementModel
from simulators.session import SessionState
from simulators.users import genre_exposure_of, recently_heard

USER_TRAIT_FEATURES = ("premium", "fatigue", "recent_skip_rate", "session_progress")
USER_ITEM_FEATURES = ("artist_recent", "genre_exposure")
#: The last item column: the candidate's artist id, exact in float32 (ids < 2**24).
ARTIST_KEY = "artist_key"


def user_feature_names(catalog: Catalog) -> list[str]:
    taste = [f"taste_{i}" for i in range(catalog.embedding_dim)]
    genres = [f"genre_exposure_{g}" for g in range(catalog.num_genres)]
    return taste + list(USER_TRAIT_FEATURES) + genres


def item_feature_names(catalog: Catalog) -> list[str]:
    embedding = [f"embedding_{i}" for i in range(catalog.embedding_dim)]
    return embedding + list(STATIC_ITEM_FEATURES) + list(USER_ITEM_FEATURES) + list(PREDICTED_FEATURES) + [ARTIST_KEY]


def predicted_columns(catalog: Catalog) -> slice:
    """Where the `predicted_*` features sit on the item axis of an observation."""
    start = catalog.embedding_dim + len(STATIC_ITEM_FEATURES) + len(USER_ITEM_FEATURES)
    return slice(start, start + len(PREDICTED_FEATURES))


class ObservationBuilder:
    """Builds ``{user: float32[B, du], items: float32[B, N, di], mask: int8[B, N]}``.

    Args:
        catalog: the item corpus.
        config: the simulator config (bounds of fatigue and exposure, session length).
    """

    def __init__(self, config: SimulatorConfig, catalog: Catalog) -> None:
        self.catalog = catalog
        self.max_steps = config.max_steps
        d_static = catalog.static_features.shape[1]
        self._static = np.zeros(
            (catalog.num_items, d_static + len(USER_ITEM_FEATURES) + len(PREDICTED_FEATURES) + 1), np.float32
        )
        self._static[:, :d_static] = catalog.static_features
        if catalog.artist.max(initial=0) >= 2**24:
            raise ValueError("artist ids must be < 2**24 to be exact in the float32 artist_key column")
        self._static[:, -1] = catalog.artist
        self._artist_recent, self._genre_exposure = d_static, d_static + 1
        self._predicted = predicted_columns(catalog)
        self.engagement = EngagementModel(config, catalog)
        # Separate 1-D tables: contiguous [B, N] gathers compare ~3x faster than strided columns.
        self._genre = catalog.genre.astype(np.int32)
        self._artist = catalog.artist.astype(np.int32)
        self.user_dim = catalog.embedding_dim + len(USER_TRAIT_FEATURES) + catalog.num_genres
        self.item_dim = self._static.shape[1]
        self.user_low, self.user_high, self.item_low, self.item_high = self._bounds(config)

    def _bounds(self, config: SimulatorConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Finite feature bounds, derived from the dynamics (exposure is a geometric sum)."""
        d, g = self.catalog.embedding_dim, self.catalog.num_genres
        dyn = config.dynamics
        max_exposure = (
            1.0 / (1.0 - dyn.genre_decay) if dyn.genre_decay < 1 else float(config.max_steps * config.slate_size)
        )
        per_step = dyn.skip_fatigue * config.slate_size + config.shelf.no_choice_fatigue
        max_fatigue = config.max_steps * per_step
        user_low = np.concatenate([-np.ones(d), np.zeros(4 + g)])
        user_high = np.concatenate([np.ones(d), [1.0, max_fatigue, 1.0, 1.0], np.full(g, max_exposure)])
        static = self.catalog.static_features
        # A prediction is the expected reward of one track: the reward bounds of a one-track step.
        predicted_low, predicted_high = objective_bounds(config.objectives, 1, float(self.catalog.duration_s.max()))
        item_low = np.concatenate([np.minimum(static.min(axis=0), 0.0), [0.0, 0.0], predicted_low, [0.0]])
        item_high = np.concatenate(
            [np.maximum(static.max(axis=0), 0.0), [1.0, max_exposure], predicted_high, [self.catalog.artist.max()]]
        )
        return (
            user_low.astype(np.float32),
            user_high.astype(np.float32),
            item_low.astype(np.float32),
            item_high.astype(np.float32),
        )

    def __call__(self, state: SessionState, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Observation of all users, or of users `rows` (int[R]) only."""
        users = state.users
        sel = slice(None) if rows is None else rows
        ids, mask = state.candidate_ids[sel], state.candidate_mask[sel]
        genre_exposure = users.genre_exposure[sel]
        d, g = self.catalog.embedding_dim, self.catalog.num_genres

        user = np.empty((ids.shape[0], self.user_dim), np.float32)
        user[:, :d] = users.taste[sel]
        user[:, d] = users.premium[sel]
        user[:, d + 1] = users.fatigue[sel]
        user[:, d + 2] = users.recent_skip_rate[sel]
        user[:, d + 3] = users.steps[sel] / np.float32(self.max_steps)
        user[:, d + 4 : d + 4 + g] = genre_exposure

        items = np.take(self._static, ids, axis=0)
        artist_recent = recently_heard(np.take(self._artist, ids), users.recent_artists[sel])
        exposure = genre_exposure_of(genre_exposure, np.take(self._genre, ids))
        items[:, :, self._artist_recent] = artist_recent
        items[:, :, self._genre_exposure] = exposure
        items[:, :, self._predicted] = self.engagement.predict(
            ids, users.taste[sel], users.premium[sel], users.fatigue[sel], exposure, artist_recent
        )
        if not mask.all():
            items *= mask[:, :, None]
        return {"user": user, "items": items, "mask": mask.astype(np.int8)}
