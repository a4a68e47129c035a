"""The user population and the user state that moves during a session.

A user is a taste vector in the catalog's feature space plus a few scalars (skip propensity,
patience, tier). During a session the state gains memory: skip fatigue, an exponentially
decaying exposure per genre, the last few artists heard and a smoothed recent skip rate.
Interest drifts toward tracks the user completed. All arrays have a leading user axis B.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from simulators.config import DynamicsConfig, UserConfig
from simulators.items import Catalog
from simulators.random import UserStreams

NO_ARTIST = -1


@dataclass
class UserState:
    """Batched user state; every field has leading axis B and is updated in place.

    Attributes:
        taste: float32[B, d], unit-norm taste vector.
        skip_propensity: float32[B], per-user offset subtracted from every track's utility.
        patience: float32[B], subtracted from the leave logit.
        premium: bool[B], paid tier.
        fatigue: float32[B], skip fatigue (grows with early skips, decays per track).
        genre_exposure: float32[B, G], decayed count of recent tracks per genre.
        recent_artists: int32[B, H], last H artists heard (NO_ARTIST when empty), newest last.
        recent_skip_rate: float32[B], EMA of the early-skip share of recent slates.
        tracks_played: int32[B], tracks started this session.
        steps: int32[B], slates served this session.
    """

    taste: np.ndarray
    skip_propensity: np.ndarray
    patience: np.ndarray
    premium: np.ndarray
    fatigue: np.ndarray
    genre_exposure: np.ndarray
    recent_artists: np.ndarray
    recent_skip_rate: np.ndarray
    tracks_played: np.ndarray
    steps: np.ndarray

    @classmethod
    def empty(cls, batch: int, embedding_dim: int, num_genres: int, artist_memory: int) -> UserState:
        return cls(
            taste=np.zeros((batch, embedding_dim), np.float32),
            skip_propensity=np.zeros(batch, np.float32),
            patience=np.zeros(batch, np.float32),
            premium=np.zeros(batch, bool),
            fatigue=np.zeros(batch, np.float32),
            genre_exposure=np.zeros((batch, num_genres), np.float32),
            recent_artists=np.full((batch, artist_memory), NO_ARTIST, np.int32),
            recent_skip_rate=np.zeros(batch, np.float32),
            tracks_played=np.zeros(batch, np.int32),
            steps=np.zeros(batch, np.int32),
        )

    @property
    def batch_size(self) -> int:
        return int(self.taste.shape[0])

    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    def copy(self) -> UserState:
        return UserState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


@dataclass(frozen=True)
class UserTable:
    """A fixed set of users to draw from, e.g. users fitted from real logs.

    Attributes:
        taste: float32[U, d] unit-norm taste vectors (d = the catalog's embedding dim).
        skip_propensity: float32[U] per-user offsets subtracted from every track's utility.
    """

    taste: np.ndarray
    skip_propensity: np.ndarray


class UserPopulation:
    """Samples new users: taste near a favourite genre (chosen by genre popularity), tier, traits.

    With a `table`, taste and skip propensity are those of a uniformly drawn table row instead
    (tier and patience still come from `config`); the draws per user are the same either way,
    so seeding and batching behave identically.
    """

    def __init__(self, catalog: Catalog, config: UserConfig, table: UserTable | None = None) -> None:
        if table is not None and table.taste.shape[1:] != (catalog.embedding_dim,):
            raise ValueError(f"user table taste must be [U, {catalog.embedding_dim}], got {table.taste.shape}")
        self.table = table
        self.config = config
        self.centroids = catalog.genre_centroids.astype(np.float64)
        genre_share = np.bincount(catalog.genre, weights=catalog.popularity, minlength=catalog.num_genres)
        self.genre_cdf = np.cumsum(genre_share / genre_share.sum())
        self.genre_cdf[-1] = 1.0

    def sample_into(self, state: UserState, rows: np.ndarray, streams: UserStreams) -> None:
        """Start fresh sessions for users `rows` (int[R]): new person, cleared memory."""
        cfg = self.config
        d = self.centroids.shape[1]
        u = streams.uniform64(2, rows)
        z = streams.normal(d + 2, rows)
        if self.table is None:
            favourite = np.searchsorted(self.genre_cdf, u[:, 0], side="right")
            taste = self.centroids[favourite] + cfg.taste_spread * z[:, :d]
            state.taste[rows] = taste / np.linalg.norm(taste, axis=1, keepdims=True)
            state.skip_propensity[rows] = cfg.skip_propensity_sd * z[:, d]
        else:
            pick = np.minimum((u[:, 0] * len(self.table.skip_propensity)).astype(np.int64),
                              len(self.table.skip_propensity) - 1)
            state.taste[rows] = self.table.taste[pick]
            state.skip_propensity[rows] = self.table.skip_propensity[pick]
        state.patience[rows] = cfg.patience_mean + cfg.patience_sd * z[:, d + 1]
        state.premium[rows] = u[:, 1] < cfg.premium_share
        state.fatigue[rows] = 0.0
        state.genre_exposure[rows] = 0.0
        state.recent_artists[rows] = NO_ARTIST
        state.recent_skip_rate[rows] = 0.0
        state.tracks_played[rows] = 0
        state.steps[rows] = 0


@dataclass(frozen=True)
class SlateContext:
    """What the user carries into each slot of a slate, before hearing it.

    Attributes:
        position: float32[B, K], 0-based index of the slot's track within the session.
        genre_exposure: float32[B, K], exposure to the slot's genre when it starts playing.
        artist_recent: bool[B, K], the slot's artist is among the last H artists heard before
            the slot (earlier slots of this slate included, H = `DynamicsConfig.artist_memory`).
    """

    position: np.ndarray
    genre_exposure: np.ndarray
    artist_recent: np.ndarray


def recently_heard(artist: np.ndarray, recent_artists: np.ndarray) -> np.ndarray:
    """Whether each artist (int[B, X]) is among the user's recent artists (int[B, H]): bool[B, X].

    A loop over the H (a handful) history columns beats one [B, X, H] comparison by ~8x.
    """
    found = np.zeros(artist.shape, bool)
    for h in range(recent_artists.shape[1]):
        found |= artist == recent_artists[:, h : h + 1]
    return found


def recently_heard_before_slots(artist: np.ndarray, recent_artists: np.ndarray) -> np.ndarray:
    """Like `recently_heard` for queue slots: slot k (int[B, K]) sees only the newest H - k of
    the H artists heard before the queue (its other memories are the queue's own slots)."""
    found = np.zeros(artist.shape, bool)
    for h in range(recent_artists.shape[1]):  # column h (oldest first) is remembered by slots 0..h
        found[:, : h + 1] |= artist[:, : h + 1] == recent_artists[:, h : h + 1]
    return found


def genre_exposure_of(genre_exposure: np.ndarray, genre: np.ndarray) -> np.ndarray:
    """Each user's exposure (float32[B, G]) to the genres `genre` (int[B, X]): float32[B, X]."""
    b, g = genre_exposure.shape
    return np.take(genre_exposure.ravel(), np.arange(b)[:, None] * g + genre)


class SlateMemory:
    """User memory inside and across slates, with the decay tables precomputed.

    Time inside a slate runs per slot: slot k starts k track-lengths after the slate began,
    whether or not earlier slots were dropped (a dropped pick is a moment of silence). That
    keeps the within-slate weights a constant per-slot-pair table instead of per-user powers.
    The artist memory is the same window inside a slate as across slates: slot k remembers the
    previous H slots of its slate and the newest H - k artists heard before the slate. (Before
    v2 a slot remembered every earlier slot of its slate, so skips rose along each queue.)

    Args:
        config: dynamics parameters.
        slate_size: K.
        sequential: True for the queue (the user hears slot 0, then slot 1, ...); False for the
            shelf, where shown tracks are alternatives and earlier slots are not heard.
    """

    def __init__(self, config: DynamicsConfig, slate_size: int, sequential: bool) -> None:
        self.config = config
        self.sequential = sequential
        k = slate_size
        self.slots = np.arange(k, dtype=np.float32)
        # Slot pairs (later, earlier): later[p] > earlier[p]; P = K (K - 1) / 2 of them.
        self.later, self.earlier = np.tril_indices(k, -1)
        self.genre_pow = np.float32(config.genre_decay) ** np.arange(k + 1, dtype=np.float32)
        self.fatigue_pow = np.float32(config.fatigue_decay) ** np.arange(k + 1, dtype=np.float32)
        # pair_weights[:, k, p]: how much pair p adds to slot k, float32[2, K, P]. Row 0 is the
        # genre-exposure decay from the earlier track to the later one, row 1 counts artists
        # heard within the artist memory (at most H slots earlier).
        into_later = (self.later == np.arange(k)[:, None]).astype(np.float32)
        lag = self.later - self.earlier
        lag_decay = self.genre_pow[lag - 1]
        remembered = lag <= config.artist_memory
        self.pair_weights = np.stack([into_later * lag_decay, into_later * remembered]).astype(np.float32)
        self.any_earlier = into_later

    def same_as_earlier(self, slot_major: np.ndarray) -> np.ndarray:
        """Which slot pairs share each attribute: bool[X, P, B] from int[X * K, B].

        Slot-major layout (attribute x, slot k at row x * K + k) keeps the pair gathers to
        whole-row copies, the fastest numpy gather.
        """
        k = self.slots.shape[0]
        x = slot_major.shape[0] // k
        rows = np.arange(x)[:, None] * k
        later, earlier = (rows + self.later).ravel(), (rows + self.earlier).ravel()
        return (slot_major[later] == slot_major[earlier]).reshape(x, self.later.shape[0], slot_major.shape[1])

    def repeats(self, same_item: np.ndarray) -> np.ndarray:
        """Slots whose pick repeats an earlier slot's: bool[B, K] from slot pairs bool[P, B]."""
        return (np.matmul(self.any_earlier, same_item.astype(np.float32)) > 0).T

    def context(
        self, state: UserState, genre: np.ndarray, artist: np.ndarray, same: np.ndarray, valid: np.ndarray
    ) -> SlateContext:
        """Within-slate memory for slate tracks `genre`, `artist` (int[B, K]).

        Args:
            same: bool[2, P, B] slot pairs of the same genre (row 0) and artist (row 1), from
                `same_as_earlier`.
            valid: bool[B, K] picks that play unless the user leaves first.
        """
        exposure = genre_exposure_of(state.genre_exposure, genre)
        if self.sequential:
            recent = recently_heard_before_slots(artist, state.recent_artists)
            exposure *= self.genre_pow[: genre.shape[1]]
            heard = same & valid.T[self.earlier]
            within = np.matmul(self.pair_weights, heard.astype(np.float32))
            exposure += within[0].T
            recent |= within[1].T > 0
        else:
            recent = recently_heard(artist, state.recent_artists)
        position = state.tracks_played[:, None] + self.slots
        return SlateContext(position, exposure, recent)

    def update(
        self,
        state: UserState,
        embedding: np.ndarray,
        genre: np.ndarray,
        artist: np.ndarray,
        played: np.ndarray,
        early_skip: np.ndarray,
        completed: np.ndarray,
    ) -> None:
        """Carry a slate's outcomes into the user state (in place).

        Args:
            embedding: float32[B, K, d] features of the slate's tracks.
            genre, artist: int[B, K].
            played, early_skip, completed: bool[B, K] per-slot outcomes (played includes skips).
        """
        cfg = self.config
        k = played.shape[1]
        n_played = played.sum(axis=1)
        n_early = early_skip.sum(axis=1)
        if self.sequential:  # slots elapsed until the last track heard
            elapsed = np.where(n_played > 0, k - np.argmax(played[:, ::-1], axis=1), 0)
            since = np.maximum(elapsed[:, None] - 1 - np.arange(k), 0)
        else:
            elapsed = n_played
            since = np.zeros(played.shape, np.int64)

        # Skip fatigue decays per track heard and grows per early skip.
        state.fatigue *= self.fatigue_pow[n_played]
        state.fatigue += np.float32(cfg.skip_fatigue) * n_early

        # Genre exposure: each heard track adds 1, then decays per later track.
        state.genre_exposure *= self.genre_pow[elapsed][:, None]
        weight = np.where(played, self.genre_pow[since], np.float32(0))
        b, g = state.genre_exposure.shape
        flat = (np.arange(b)[:, None] * g + genre).ravel()
        state.genre_exposure += np.bincount(flat, weight.ravel(), minlength=b * g).reshape(b, g)

        # Recent artists: append the heard artists in order, keep the newest H.
        h = state.recent_artists.shape[1]
        rows = np.arange(genre.shape[0])[:, None]
        heard_first = np.argsort(~played, axis=1, kind="stable")
        heard = np.where(played, artist, NO_ARTIST)[rows, heard_first]
        history = np.concatenate([state.recent_artists, heard], axis=1)
        state.recent_artists[:] = history[rows, n_played[:, None] + np.arange(h)]

        # Interest drift toward completed tracks.
        pull = np.float32(cfg.drift_rate) * completed.astype(np.float32)
        state.taste += np.matmul(pull[:, None, :], embedding)[:, 0] - pull.sum(axis=1)[:, None] * state.taste
        state.taste /= np.linalg.norm(state.taste, axis=1, keepdims=True)

        skip_share = np.where(n_played > 0, n_early / np.maximum(n_played, 1), state.recent_skip_rate)
        state.recent_skip_rate += np.float32(cfg.skip_rate_smoothing) * (skip_share - state.recent_skip_rate)
        state.tracks_played += n_played.astype(np.int32)
        state.steps += 1
