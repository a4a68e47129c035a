"""The batched session simulator: bounds, rules, determinism, layering."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators import NUM_OBJECTIVES, SessionSimulator, UserStreams
from simulators.session import NOT_PLAYED
from tests.conftest import small_config

QUEUE = SessionSimulator(small_config("queue", **{"candidates.min_candidates": 8}))
SHELF = SessionSimulator(small_config("shelf"))


def _random_slates(rng: np.random.Generator, batch: int, n: int, k: int) -> np.ndarray:
    return rng.integers(0, n, size=(batch, k))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(1, 6), surface=st.sampled_from(["queue", "shelf"]))
def test_objectives_stay_inside_declared_bounds(seed: int, steps: int, surface: str) -> None:
    sim = QUEUE if surface == "queue" else SHELF
    streams = UserStreams(np.arange(64) + seed)
    state = sim.reset(streams)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        # Random states come from random histories; actions include duplicates and masked picks.
        result = sim.step(state, _random_slates(rng, 64, sim.num_candidates, sim.slate_size), streams)
        assert result.objectives.shape == (64, NUM_OBJECTIVES)
        assert np.all(result.objectives >= sim.reward_low - 1e-5)
        assert np.all(result.objectives <= sim.reward_high + 1e-5)
        assert np.all(result.listened_s >= 0)
        done = np.flatnonzero(result.terminated | result.truncated)
        sim.reset_rows(state, done, streams)


def test_dropped_picks_rule() -> None:
    sim = QUEUE
    streams = UserStreams(np.arange(4))
    state = sim.reset(streams)
    state.candidate_mask[:] = True
    state.candidate_mask[:, -1] = False
    n = sim.num_candidates
    slate = np.array([[0, 0, 1, 2, 3], [0, 1, 2, 3, n - 1], [4, 5, 4, 5, 6], [0, 1, 2, 3, 4]])
    result = sim.step(state, slate, streams)
    expected = np.zeros((4, 5), bool)
    expected[0, 1] = expected[1, 4] = expected[2, 2] = expected[2, 3] = True
    np.testing.assert_array_equal(result.dropped, expected)
    assert not (result.played & result.dropped).any()
    assert (result.outcome[result.dropped] == NOT_PLAYED).all()
    assert (result.listened_s[result.dropped] == 0).all()


def test_queue_plays_a_prefix_and_leaving_ends_it() -> None:
    sim = QUEUE
    streams = UserStreams(np.arange(2000))
    state = sim.reset(streams)
    slate = np.tile(np.arange(sim.slate_size), (2000, 1))
    state.candidate_mask[:] = True
    result = sim.step(state, slate, streams)
    played = result.played
    # Played slots form a prefix (the user walks in order, leaving stops the walk).
    assert np.all(np.diff(played.astype(int), axis=1) <= 0)
    assert np.all(played[~result.terminated].all(axis=1))
    assert result.terminated.any() and not result.terminated.all()


def test_shelf_plays_at_most_one_track() -> None:
    streams = UserStreams(np.arange(1000))
    state = SHELF.reset(streams)
    result = SHELF.step(state, np.tile([0, 1], (1000, 1)), streams)
    assert result.played.sum(axis=1).max() <= 1
    assert 0 < result.played.any(axis=1).mean() < 1


def test_same_seed_same_trajectory_and_rows_are_independent() -> None:
    def rollout(seeds: np.ndarray) -> list[np.ndarray]:
        streams = UserStreams(seeds)
        state = QUEUE.reset(streams)
        rng = np.random.default_rng(0)
        out = []
        for _ in range(6):
            slate = np.tile(rng.permutation(QUEUE.num_candidates)[: QUEUE.slate_size], (len(seeds), 1))
            result = QUEUE.step(state, slate, streams)
            out.append(result.objectives.copy())
            QUEUE.reset_rows(state, np.flatnonzero(result.terminated | result.truncated), streams)
        return out

    a, b = rollout(np.arange(10, 20)), rollout(np.arange(10, 20))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    alone = rollout(np.array([13]))
    for x, y in zip(a, alone):
        np.testing.assert_array_equal(x[3], y[0])


def test_skips_raise_fatigue_and_completions_pull_taste() -> None:
    streams = UserStreams(np.arange(500))
    state = QUEUE.reset(streams)
    before = state.users.copy()
    result = QUEUE.step(state, np.tile(np.arange(QUEUE.slate_size), (500, 1)), streams)
    early = (result.outcome == 0).sum(axis=1)
    assert np.corrcoef(early, state.users.fatigue - before.fatigue)[0, 1] > 0.5
    assert np.all(state.users.tracks_played == result.played.sum(axis=1))
    completed = (result.outcome == 2).any(axis=1)
    moved = np.linalg.norm(state.users.taste - before.taste, axis=1)
    assert moved[completed].min() > 0 and np.all(moved[~completed] < 1e-6)


def test_simulators_import_without_gymnasium_or_torch() -> None:
    code = "import sys, simulators; bad = [m for m in ('gymnasium', 'torch') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_artist_memory_is_the_last_h_tracks_inside_and_across_queues() -> None:
    """Slot k remembers the H tracks before it: earlier slots of its queue, then the newest
    H - k artists heard before the queue. Same window as `recent_artists` between queues."""
    from simulators.config import DynamicsConfig
    from simulators.users import SlateMemory, UserState

    h, k = 3, 6
    memory = SlateMemory(DynamicsConfig(artist_memory=h), slate_size=k, sequential=True)
    users = UserState.empty(1, 2, 4, h)
    users.recent_artists[:] = [[7, 8, 9]]  # oldest first
    artist = np.array([[9, 8, 7, 1, 2, 1]])
    genre = np.zeros_like(artist)
    same = memory.same_as_earlier(np.concatenate([genre.T, artist.T]))  # slot-major [genre; artist]
    context = memory.context(users, genre, artist, same, np.ones((1, k), bool))
    # slot 0 sees 7, 8, 9; slot 1 sees 8, 9 (+ slot 0); slot 2 sees 9 (+ slots 0-1): 7 forgotten;
    # slot 5 repeats slot 3's artist, 2 slots back (within H).
    np.testing.assert_array_equal(context.artist_recent, [[True, True, False, False, False, True]])
    artist = np.array([[1, 2, 3, 4, 1, 5]])  # slot 4 repeats slot 0, 4 slots back: beyond H = 3
    same = memory.same_as_earlier(np.concatenate([genre.T, artist.T]))
    users.recent_artists[:] = -1
    context = memory.context(users, genre, artist, same, np.ones((1, k), bool))
    assert not context.artist_recent.any()
