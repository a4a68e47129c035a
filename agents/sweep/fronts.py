"""Pareto fronts and their hypervolume (all objectives maximised).

The hypervolume of a point set is the volume of objective space it dominates above a reference
point: one number that grows when a front moves outward or fills in, so two fronts (the learned
policies, the boosted-greedy baseline) can be compared on the same reference. It is computed
exactly by slicing (Hypervolume by Slicing Objectives, While et al. 2006): sort by the last
objective, and sum slab height times the (m-1)-dimensional hypervolume of the points above the
slab. That is O(n^(m-1) log n), instant for the 2-3 objectives and tens of points of a sweep.
"""

from __future__ import annotations

import numpy as np


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Mask bool[n] of the points float[n, m] that no other point weakly dominates strictly somewhere."""
    points = np.asarray(points, dtype=np.float64)
    ge = np.all(points[:, None, :] >= points[None, :, :], axis=2)  # ge[j, i]: j >= i everywhere
    gt = np.any(points[:, None, :] > points[None, :, :], axis=2)
    dominated = np.any(ge & gt, axis=0)
    return ~dominated


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Exact volume dominated by `points` float[n, m] and bounded below by `reference` float[m].

    Points that do not exceed the reference in every objective contribute nothing.
    """
    points = np.asarray(points, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != reference.shape[0]:
        raise ValueError(f"points must be [n, {reference.shape[0]}] to match the reference, got {points.shape}")
    shifted = points[np.all(points > reference, axis=1)] - reference
    return _slice_volume(shifted[non_dominated(shifted)]) if len(shifted) else 0.0


def _slice_volume(points: np.ndarray) -> float:
    """Hypervolume above the origin of non-negative points float[n, m]."""
    if len(points) == 0:
        return 0.0
    if points.shape[1] == 1:
        return float(points.max())
    order = np.argsort(-points[:, -1], kind="stable")
    points = points[order]
    heights = points[:, -1]
    lower = np.append(heights[1:], 0.0)
    volume = 0.0
    for i in range(len(points)):  # slab between the i-th and (i+1)-th highest last coordinate
        if heights[i] > lower[i]:
            top = points[: i + 1, :-1]
            volume += (heights[i] - lower[i]) * _slice_volume(top[non_dominated(top)])
    return volume
