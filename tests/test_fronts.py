"""Hypervolume and non-domination against hand computation and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from agents.sweep.fronts import hypervolume, non_dominated


def test_hand_computed_volumes() -> None:
    assert hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), np.zeros(2)) == pytest.approx(3.0)
    assert hypervolume(np.array([[2.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 2.0]]), np.zeros(3)) == pytest.approx(4.0)
    # a dominated point and a point below the reference add nothing; the reference shifts.
    points = np.array([[3.0, 3.0], [2.0, 2.0], [5.0, 0.5]])
    assert hypervolume(points, np.array([1.0, 1.0])) == pytest.approx(4.0)
    assert hypervolume(np.zeros((0, 2)), np.zeros(2)) == 0.0


@pytest.mark.parametrize("m", [2, 3])
def test_matches_monte_carlo(m: int) -> None:
    rng = np.random.default_rng(m)
    points = rng.random((12, m))
    samples = rng.random((400_000, m))
    dominated = (samples[:, None, :] <= points[None]).all(axis=2).any(axis=1).mean()
    assert hypervolume(points, np.zeros(m)) == pytest.approx(dominated, abs=3e-3)


def test_non_dominated_mask() -> None:
    points = np.array([[1.0, 3.0], [2.0, 2.0], [1.5, 1.5], [3.0, 1.0], [3.0, 1.0]])
    np.testing.assert_array_equal(non_dominated(points), [True, True, False, True, True])


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="to match the reference"):
        hypervolume(np.ones((3, 2)), np.zeros(3))
