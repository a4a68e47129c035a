"""The item corpus (a synthetic music catalog) and the candidate generator.

The catalog has the structure a ranker must cope with in a real service: tracks cluster by
genre in feature space, artists own many tracks, popularity follows a power law over artists,
durations are log-normal around 3.5 minutes, and a few business tags (promoted, new release,
owned content) pull against pure engagement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.config import CandidateConfig, CatalogConfig

#: Names of the per-item features that do not depend on the user, in observation order
#: (after the embedding columns). Part of the observation contract.
STATIC_ITEM_FEATURES = ("popularity_z", "log_duration_z", "promoted", "new_release", "owned", "long_tail")


@dataclass(frozen=True)
class Catalog:
    """All tracks, as parallel arrays over the item axis M.

    Attributes:
        embedding: float32[M, d], unit-norm track position in taste space.
        genre: int32[M], genre id in [0, G).
        artist: int32[M], artist id in [0, A).
        popularity: float64[M], play share (sums to 1).
        duration_s: float32[M], track length in seconds.
        promoted, new_release, owned, long_tail: bool[M] business tags; long_tail marks tracks
            of artists outside the head that holds `head_play_share` of popularity.
        static_features: float32[M, d + 6], embedding followed by STATIC_ITEM_FEATURES; gathered
            into observations in one `np.take`.
    """

    embedding: np.ndarray
    genre: np.ndarray
    artist: np.ndarray
    popularity: np.ndarray
    duration_s: np.ndarray
    promoted: np.ndarray
    new_release: np.ndarray
    owned: np.ndarray
    long_tail: np.ndarray
    genre_centroids: np.ndarray
    static_features: np.ndarray

    @property
    def num_items(self) -> int:
        return int(self.genre.shape[0])

    @property
    def num_genres(self) -> int:
        return int(self.genre_centroids.shape[0])

    @property
    def embedding_dim(self) -> int:
        return int(self.embedding.shape[1])


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def make_catalog(config: CatalogConfig) -> Catalog:
    """Build the catalog deterministically from `config` (its own seed: the catalog is the world)."""
    rng = np.random.default_rng(config.seed)
    m, g, a, d = config.num_items, config.num_genres, config.num_artists, config.embedding_dim

    centroids = _unit_rows(rng.standard_normal((g, d)))
    artist_genre = rng.integers(0, g, size=a)
    artist_rank = rng.permutation(a) + 1
    artist_weight = artist_rank ** (-config.artist_popularity_exponent)
    artist_weight /= artist_weight.sum()

    # Every artist gets at least one track; the rest go to artists in proportion to popularity
    # (popular artists have bigger catalogs).
    artist = np.concatenate([np.arange(a), rng.choice(a, size=m - a, p=artist_weight)])
    artist = rng.permutation(artist).astype(np.int32)
    genre = artist_genre[artist].astype(np.int32)
    embedding = _unit_rows(centroids[genre] + config.genre_spread * rng.standard_normal((m, d)))

    track_weight = artist_weight[artist] * np.exp(config.track_popularity_sd * rng.standard_normal(m))
    popularity = track_weight / track_weight.sum()

    order = np.argsort(-artist_weight)
    head_artists = order[: int(np.searchsorted(np.cumsum(artist_weight[order]), config.head_play_share)) + 1]
    long_tail = ~np.isin(artist, head_artists)

    duration = np.exp(np.log(config.duration_median_s) + config.duration_log_sd * rng.standard_normal(m))
    duration = np.clip(duration, config.duration_min_s, config.duration_max_s)

    promoted = rng.random(m) < config.promoted_share
    new_release = rng.random(m) < config.new_release_share
    owned = rng.random(m) < config.owned_share
    return catalog_from_tracks(
        embedding, genre, artist, popularity, duration, promoted, new_release, owned, long_tail, centroids
    )


def catalog_from_tracks(
    embedding: np.ndarray,
    genre: np.ndarray,
    artist: np.ndarray,
    popularity: np.ndarray,
    duration_s: np.ndarray,
    promoted: np.ndarray,
    new_release: np.ndarray,
    owned: np.ndarray,
    long_tail: np.ndarray,
    genre_centroids: np.ndarray | None = None,
) -> Catalog:
    """A catalog from per-track arrays (synthetic, fitted from real logs, or hand-made in tests).

    Embeddings are normalized to unit length; popularity is renormalized to sum to 1; genre
    centroids default to the normalized mean embedding of each genre.
    """
    embedding = _unit_rows(np.asarray(embedding, dtype=np.float64))
    m = embedding.shape[0]
    genre = np.asarray(genre, dtype=np.int32)
    arrays = {"genre": genre, "artist": artist, "popularity": popularity, "duration_s": duration_s,
              "promoted": promoted, "new_release": new_release, "owned": owned, "long_tail": long_tail}
    for name, values in arrays.items():
        if np.shape(values) != (m,):
            raise ValueError(f"catalog {name} must have shape ({m},) like embedding rows, got {np.shape(values)}")
    popularity = np.asarray(popularity, dtype=np.float64)
    duration = np.asarray(duration_s, dtype=np.float32)
    if not (np.all(popularity > 0) and np.all(duration > 0) and np.isfinite(embedding).all()):
        raise ValueError("catalog popularity and duration_s must be positive and embeddings finite")
    popularity = popularity / popularity.sum()
    if genre_centroids is None:
        sums = np.zeros((int(genre.max()) + 1, embedding.shape[1]))
        np.add.at(sums, genre, embedding)
        genre_centroids = _unit_rows(sums + 1e-12)
    log_pop, log_dur = np.log(popularity), np.log(duration.astype(np.float64))
    flags = [np.asarray(x, dtype=bool) for x in (promoted, new_release, owned, long_tail)]
    static = np.column_stack(
        [
            embedding,
            (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12),
            (log_dur - log_dur.mean()) / (log_dur.std() + 1e-12),
            *flags,
        ]
    ).astype(np.float32)
    return Catalog(
        embedding=embedding.astype(np.float32),
        genre=genre,
        artist=np.asarray(artist, dtype=np.int32),
        popularity=popularity,
        duration_s=duration,
        promoted=flags[0],
        new_release=flags[1],
        owned=flags[2],
        long_tail=flags[3],
        genre_centroids=np.asarray(genre_centroids, dtype=np.float32),
        static_features=static,
    )


def alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table for O(1) sampling from a discrete distribution.

    Returns (accept, alias): pick column c uniformly, keep it with probability accept[c], else
    take alias[c]. Exact up to float rounding (Vose, IEEE TSE 1991).
    """
    n = weights.shape[0]
    scaled = weights * (n / weights.sum())
    accept = np.ones(n)
    alias = np.arange(n)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return accept, alias


class CandidateGenerator:
    """Draws N distinct candidates per request, popular tracks more often.

    Stratified sampling keeps it one vectorised draw per slot: the catalog is split once into N
    strata of about equal total weight (weight = popularity**power) after a random shuffle, and
    slot j of every request draws one track from stratum j with an alias table (O(1), exact).
    Candidates in a set are therefore always distinct, and a track's inclusion probability is
    proportional to its weight within its stratum, as in stratified PPS sampling.

    Args:
        catalog: the item corpus.
        config: candidate settings (N, variable-N range, popularity power).
        seed: seed of the fixed stratification (part of the world, like the catalog).
    """

    def __init__(self, catalog: Catalog, config: CandidateConfig, seed: int = 0) -> None:
        n = config.num_candidates
        self.num_candidates = n
        self.min_candidates = config.min_candidates or n
        order = np.random.default_rng(seed).permutation(catalog.num_items)
        weight = catalog.popularity[order] ** config.popularity_power
        cdf = np.cumsum(weight / weight.sum())
        # Stratum j covers positions [start_j, end_j) of the shuffled order; boundaries sit where
        # the CDF crosses j / N, moved so that every stratum holds at least one track.
        slot = np.arange(1, n)
        bounds = np.searchsorted(cdf, slot / n, side="right")
        slack = np.minimum(np.maximum.accumulate(np.maximum(bounds - slot, 0)), catalog.num_items - n)
        starts = np.concatenate([[0], slack + slot])
        ends = np.concatenate([slack + slot, [catalog.num_items]])
        self.stratum_size = (ends - starts).astype(np.float32)
        # Flat tables, entry (j, c) at j * width + c. The alias test "frac(u * size) >= accept[c]"
        # becomes one comparison "u * size >= c + accept[c]" against `threshold`; the pair table
        # holds (column item, alias item). Columns past a stratum's size (u * size can round up
        # to size) repeat its last item and never alias, so every draw stays inside its stratum.
        width = int(self.stratum_size.max()) + 1
        threshold = np.full((n, width), np.inf, np.float32)
        pair_table = np.empty((n, width, 2), np.int64)
        for j, (lo, hi) in enumerate(zip(starts, ends)):
            accept, alias = alias_table(weight[lo:hi])
            threshold[j, : hi - lo] = np.arange(hi - lo) + accept
            pair_table[j, : hi - lo, 0] = order[lo:hi]
            pair_table[j, : hi - lo, 1] = order[lo:hi][alias]
            pair_table[j, hi - lo :] = order[hi - 1]
        self._threshold = threshold.ravel()
        self._pairs = pair_table.ravel()
        self._offset = np.arange(n, dtype=np.int32) * width
        self._slot = np.arange(n)

    def sample(self, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draw one candidate set per row of `uniforms` (float32[R, N + 1], fresh uniforms).

        Returns:
            item_ids: int64[R, N], catalog ids (padded slots hold a valid id but are masked).
            mask: bool[R, N], True for real candidates; each row has between min and N of them.
        """
        n = self.num_candidates
        scaled = uniforms[:, :n] * self.stratum_size
        flat = scaled.astype(np.int32)
        flat += self._offset
        alias = scaled >= np.take(self._threshold, flat)
        flat <<= 1
        item_ids = np.take(self._pairs, flat + alias)
        if self.min_candidates == n:
            return item_ids, np.ones(item_ids.shape, dtype=bool)
        span = n - self.min_candidates + 1
        n_valid = self.min_candidates + np.minimum((uniforms[:, n] * span).astype(np.int64), span - 1)
        return item_ids, self._slot < n_valid[:, None]
