"""One listening session per user, stepped for the whole batch at once.

`SessionSimulator.step` reads like the session it simulates: look up the tracks of the slate,
recall what the user just heard, score each track, let the user respond, decide whether they
stay, update their state, and fetch the next candidate set. Every line is an array operation
over the user axis B; the only Python loop is over config sections, never over users.

Slates are candidate indices, not item ids: ``slate[b, k]`` picks column ``slate[b, k]`` of
user b's candidate set. A slot that repeats an earlier slot's pick, or picks a masked (padding)
candidate, is *dropped*: nothing plays there and the user moves on to the next slot. Range
checks are the caller's job (the environments raise on out-of-range indices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.config import SimulatorConfig
from simulators.items import CandidateGenerator, Catalog, make_catalog
from simulators.objectives import objective_bounds, slot_objectives
from simulators.random import UserStreams
from simulators.response import (
    COMPLETE,
    EARLY_SKIP,
    leave_probability,
    listen_fraction,
    sample_choice,
    sample_outcomes,
    shelf_choice_probabilities,
    sigmoid,
    track_utility,
)
from simulators.users import SlateMemory, UserPopulation, UserState

NOT_PLAYED = -1


@dataclass
class SessionState:
    """Users plus the candidate set of their next request.

    Attributes:
        users: the batched user state.
        candidate_ids: int64[B, N] catalog ids of the next request's candidates.
        candidate_mask: bool[B, N] which candidates are real (the rest is padding).
    """

    users: UserState
    candidate_ids: np.ndarray
    candidate_mask: np.ndarray

    @property
    def batch_size(self) -> int:
        return self.users.batch_size

    def nbytes(self) -> int:
        return self.users.nbytes() + self.candidate_ids.nbytes + self.candidate_mask.nbytes


@dataclass(frozen=True)
class StepResult:
    """What happened in one step, per user.

    Attributes:
        item_ids: int64[B, K] catalog ids of the slate.
        played: bool[B, K] slots that started playing.
        dropped: bool[B, K] slots dropped as duplicate or masked picks.
        outcome: int8[B, K] EARLY_SKIP / LATE_SKIP / COMPLETE, NOT_PLAYED elsewhere.
        listened_s: float32[B, K] seconds heard.
        objectives: float32[B, NUM_OBJECTIVES] the reward vector (the sum of `slot_objectives`).
        slot_objectives: float32[B, K, NUM_OBJECTIVES] the reward vector of each slot.
        terminated: bool[B] the user left.
        truncated: bool[B] the session hit `max_steps` without the user leaving.
    """

    item_ids: np.ndarray
    played: np.ndarray
    dropped: np.ndarray
    outcome: np.ndarray
    listened_s: np.ndarray
    objectives: np.ndarray
    slot_objectives: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray


class SessionSimulator:
    """The batched listening-session simulator for one surface (queue or shelf).

    Args:
        config: validated simulator parameters; the catalog and candidate stratification are
            built from `config.catalog.seed`, so two simulators with equal configs share a world.
        catalog: use this catalog (e.g. real items fitted from logs) instead of a synthetic one.
    """

    def __init__(self, config: SimulatorConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog: Catalog = catalog if catalog is not None else make_catalog(config.catalog)
        if self.catalog.num_items < config.candidates.num_candidates:
            raise ValueError(
                f"the catalog has {self.catalog.num_items} items, fewer than candidates.num_candidates "
                f"({config.candidates.num_candidates})"
            )
        self.candidates = CandidateGenerator(self.catalog, config.candidates, seed=config.catalog.seed + 1)
        self.population = UserPopulation(self.catalog, config.users)
        self.memory = SlateMemory(config.dynamics, config.slate_size, sequential=config.surface == "queue")
        cat = self.catalog
        d = cat.embedding_dim
        # One gather per step instead of one per attribute: [embedding | popularity_z | duration].
        self._item_floats = np.column_stack([cat.static_features[:, : d + 1], cat.duration_s]).astype(np.float32)
        # Attribute-major [genre; artist; id] so that a slate gathers straight into slot-major rows.
        self._item_ints = np.stack([cat.genre, cat.artist, np.arange(cat.num_items)]).astype(np.int32)
        self._item_tags = np.column_stack([cat.promoted, cat.new_release | cat.long_tail, cat.owned])
        tracks_per_step = config.slate_size if config.surface == "queue" else 1
        self.reward_low, self.reward_high = objective_bounds(
            config.objectives, tracks_per_step, float(cat.duration_s.max())
        )
        k = config.slate_size
        self._draws_per_step = self.num_candidates + 1 + (3 * k if config.surface == "queue" else 4)

    @property
    def num_candidates(self) -> int:
        return self.config.candidates.num_candidates

    @property
    def slate_size(self) -> int:
        return self.config.slate_size

    def reset(self, streams: UserStreams) -> SessionState:
        """Start a session for every stream's user: a state of batch size `streams.size`."""
        b = streams.size
        users = UserState.empty(
            b, self.catalog.embedding_dim, self.catalog.num_genres, self.config.dynamics.artist_memory
        )
        n = self.num_candidates
        state = SessionState(users, np.zeros((b, n), np.int64), np.zeros((b, n), bool))
        self.reset_rows(state, np.arange(b), streams)
        return state

    def reset_rows(self, state: SessionState, rows: np.ndarray, streams: UserStreams) -> None:
        """Replace the users at `rows` (int[R]) by new users with new candidate sets (in place)."""
        self.population.sample_into(state.users, rows, streams)
        ids, mask = self.candidates.sample(streams.uniform(self.num_candidates + 1, rows))
        state.candidate_ids[rows], state.candidate_mask[rows] = ids, mask

    def step(self, state: SessionState, slate: np.ndarray, streams: UserStreams) -> StepResult:
        """Serve slate int[B, K] (candidate indices) to every user; update `state` in place."""
        cfg, users, d = self.config, state.users, self.catalog.embedding_dim
        draw = streams.uniform(self._draws_per_step)
        n = self.num_candidates
        b, k = slate.shape

        picks = slate + np.arange(0, b * n, n)[:, None]
        item_ids = np.take(state.candidate_ids, picks)
        slots = np.take(self._item_ints, item_ids.T, axis=1).reshape(3 * k, b)
        genre, artist = slots[:k].T, slots[k : 2 * k].T
        same = self.memory.same_as_earlier(slots)
        dropped = self.memory.repeats(same[2]) | ~np.take(state.candidate_mask, picks)
        floats, tags = np.take(self._item_floats, item_ids, axis=0), np.take(self._item_tags, item_ids, axis=0)
        embedding = floats[:, :, :d]

        context = self.memory.context(users, genre, artist, same[:2], ~dropped)
        utility = track_utility(
            cfg.response,
            np.einsum("bkd,bd->bk", embedding, users.taste),
            floats[:, :, d],
            users.premium,
            users.skip_propensity,
            users.fatigue,
            context.genre_exposure,
            context.artist_recent,
            context.position,
        )
        respond = self._walk_queue if cfg.surface == "queue" else self._choose_from_shelf
        played, outcome, fraction, terminated = respond(utility, ~dropped, users, draw[:, n + 1 :])

        listened_s = np.where(played, fraction * floats[:, :, d + 1], np.float32(0))
        completed = played & (outcome == COMPLETE)
        early_skip = played & (outcome == EARLY_SKIP)
        per_slot = slot_objectives(
            cfg.objectives,
            listened_s,
            completed,
            early_skip,
            tags[:, :, 0],
            tags[:, :, 1],
            tags[:, :, 2],
            users.premium,
        )
        self.memory.update(users, embedding, genre, artist, played, early_skip, completed)
        truncated = (users.steps >= cfg.max_steps) & ~terminated
        state.candidate_ids, state.candidate_mask = self.candidates.sample(draw[:, : n + 1])
        return StepResult(
            item_ids=item_ids,
            played=played,
            dropped=dropped,
            outcome=np.where(played, outcome, NOT_PLAYED).astype(np.int8),
            listened_s=listened_s,
            objectives=per_slot.sum(axis=1),
            slot_objectives=per_slot,
            terminated=terminated,
            truncated=truncated,
        )

    def _walk_queue(
        self, utility: np.ndarray, valid: np.ndarray, users: UserState, draw: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The user plays the slate in order and may leave after any track."""
        k = utility.shape[1]
        outcome = sample_outcomes(self.config.response, utility, draw[:, :k])
        fraction = listen_fraction(self.config.response, outcome, draw[:, k : 2 * k])
        hazard = leave_probability(self.config.leave, outcome, users.fatigue, users.patience)
        leaves_after = valid & (draw[:, 2 * k :] < hazard)
        left_earlier = (np.cumsum(leaves_after, axis=1) - leaves_after) > 0
        return valid & ~left_earlier, outcome, fraction, leaves_after.any(axis=1)

    def _choose_from_shelf(
        self, utility: np.ndarray, shown: np.ndarray, users: UserState, draw: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The user picks at most one shown track, plays it, and may leave."""
        cfg = self.config
        k = utility.shape[1]
        choice = sample_choice(shelf_choice_probabilities(cfg.shelf, utility, shown), draw[:, 0])
        played = np.arange(k) == choice[:, None]
        chosen_utility = utility[np.arange(utility.shape[0]), np.minimum(choice, k - 1)][:, None]
        outcome = np.broadcast_to(sample_outcomes(cfg.response, chosen_utility, draw[:, 1:2]), played.shape)
        fraction = listen_fraction(cfg.response, outcome, np.broadcast_to(draw[:, 2:3], played.shape))
        nothing = choice == k
        users.fatigue += np.float32(cfg.shelf.no_choice_fatigue) * nothing
        hazard = leave_probability(cfg.leave, outcome[:, :1], users.fatigue, users.patience)[:, 0]
        no_choice_hazard = sigmoid(
            np.float32(cfg.leave.base_logit + cfg.leave.after_no_choice)
            + np.float32(cfg.leave.fatigue_effect) * users.fatigue
            - users.patience
        )
        return played, outcome, fraction, draw[:, 3] < np.where(nothing, no_choice_hazard, hazard)
