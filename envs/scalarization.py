"""Scalarizations: how a vector reward becomes the float a single-objective learner maximises.

One object serves a batch of B sessions, so the native VecEnv and the single-session Gymnasium
wrappers (`envs.wrappers`) share the arithmetic. Each is called once per step with the step's
vector rewards float[B, M] and the tracks each session started (int[B]); `end(rows)` clears the
per-session memory of sessions that ended.

Objectives have different units (minutes, counts, revenue units), so a weight only means "how
much this objective matters" after dividing by a scale: `scales` float[M] (default 1, i.e. raw
units). `objective_scales` measures one from the random ranker so that a weight of 1 on any
objective is worth one random-policy session's worth of it.

- `Linear`: ``w · (r / s)``.
- `Chebyshev`: the episode's value is ``-max_i w_i (z_i - G_i) / s_i`` for the vector return G
  and a utopia point z (weighted distance to the best attainable point), which reaches
  non-convex parts of a Pareto front that no linear weight can. It is not a sum of per-step
  terms, so each step pays the change it causes, ``S(G_t) - S(G_{t-1})``: the undiscounted
  episode return telescopes to ``S(G_T) - S(0)``, exactly the Chebyshev value up to a constant.
- `Constrained`: ``w · (r / s) + λ (r_c - floor · tracks)``, the Lagrangian of "maximise the
  weighted objectives subject to a per-track share of objective c >= floor" (e.g. promoted
  streams per track played). λ is set from outside (`agents.constraints.LagrangeMultiplier`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulators import OBJECTIVE_NAMES


def objective_vector(values: Sequence[float] | dict[str, float], name: str, default: float = 0.0) -> np.ndarray:
    """float32[M] in OBJECTIVE_NAMES order from a sequence or a name map (missing names: `default`)."""
    if isinstance(values, dict):
        unknown = sorted(set(values) - set(OBJECTIVE_NAMES))
        if unknown:
            raise ValueError(f"{name}: unknown objective(s) {unknown}; valid names: {list(OBJECTIVE_NAMES)}")
        values = [values.get(objective, default) for objective in OBJECTIVE_NAMES]
    array = np.asarray(values, dtype=np.float32)
    if array.shape != (len(OBJECTIVE_NAMES),) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be {len(OBJECTIVE_NAMES)} finite numbers, one per {list(OBJECTIVE_NAMES)}")
    return array


def _scales(scales: Sequence[float] | dict[str, float] | None) -> np.ndarray:
    if scales is None:
        return np.ones(len(OBJECTIVE_NAMES), np.float32)
    array = objective_vector(scales, "scales", default=1.0)
    if np.any(array <= 0):
        raise ValueError(f"scales must be positive, got {dict(zip(OBJECTIVE_NAMES, array.tolist()))}")
    return array


class Linear:
    """Weighted sum of scaled objectives (stateless).

    Args:
        weights: per-objective weights (OBJECTIVE_NAMES order or a name map).
        scales: per-objective units (default 1: raw units).
    """

    def __init__(
        self, weights: Sequence[float] | dict[str, float], scales: Sequence[float] | dict[str, float] | None = None
    ) -> None:
        self.weights = objective_vector(weights, "weights")
        self.scales = _scales(scales)
        self.coefficients = self.weights / self.scales

    def __call__(self, vector: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        return vector @ self.coefficients

    def end(self, rows: np.ndarray) -> None:
        pass

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint must keep to continue exactly (see `load_state`)."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        pass


class Chebyshev:
    """Weighted Chebyshev distance to a utopia point, paid per step as its change (see module doc).

    Args:
        weights: per-objective weights (>= 0).
        utopia: per-objective episode returns to aim at (raw units), at least the best attainable.
        scales: per-objective units.
        batch_size: B, the number of sessions whose running return is kept.
    """

    def __init__(
        self,
        weights: Sequence[float] | dict[str, float],
        utopia: Sequence[float] | dict[str, float],
        scales: Sequence[float] | dict[str, float] | None = None,
        batch_size: int = 1,
    ) -> None:
        self.weights = objective_vector(weights, "weights")
        if np.any(self.weights < 0):
            raise ValueError("Chebyshev weights must be >= 0")
        self.utopia = objective_vector(utopia, "utopia")
        self.scales = _scales(scales)
        self.returns = np.zeros((batch_size, len(OBJECTIVE_NAMES)), np.float64)

    def value(self, returns: np.ndarray) -> np.ndarray:
        """Chebyshev value of episode vector returns float[S, M]: float[S] (<= 0, 0 at utopia)."""
        return -np.max(self.weights * (self.utopia - returns) / self.scales, axis=-1)

    def __call__(self, vector: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        before = self.value(self.returns)
        self.returns += vector
        return (self.value(self.returns) - before).astype(np.float32)

    def end(self, rows: np.ndarray) -> None:
        self.returns[rows] = 0.0

    def state(self) -> dict[str, np.ndarray]:
        return {"returns": self.returns}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.returns[...] = state["returns"]


class Constrained(Linear):
    """Lagrangian of a per-track floor on one objective (see module doc).

    Args:
        weights, scales: the objective being maximised (as `Linear`).
        objective: the constrained objective's name, e.g. "promoted_streams".
        floor: the required share per track started, e.g. 0.2 promoted streams per track.
        multiplier: initial λ >= 0.
    """

    def __init__(
        self,
        weights: Sequence[float] | dict[str, float],
        objective: str,
        floor: float,
        scales: Sequence[float] | dict[str, float] | None = None,
        multiplier: float = 0.0,
    ) -> None:
        super().__init__(weights, scales)
        if objective not in OBJECTIVE_NAMES:
            raise ValueError(f"constraint objective {objective!r} is not one of {list(OBJECTIVE_NAMES)}")
        self.index = OBJECTIVE_NAMES.index(objective)
        self.objective = objective
        self.floor = float(floor)
        self.multiplier = float(multiplier)

    def slack(self, vector: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """Per-session constraint term r_c - floor * tracks: float[B] (>= 0 on average when it holds)."""
        return vector[:, self.index] - self.floor * tracks

    def __call__(self, vector: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        return (vector @ self.coefficients + self.multiplier * self.slack(vector, tracks)).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {"multiplier": np.array(self.multiplier)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.multiplier = float(state["multiplier"])
