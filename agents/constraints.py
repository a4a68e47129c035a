"""Constrained training: a Lagrange multiplier on a per-track floor, updated by dual ascent.

Maximising ``w · r`` subject to ``E[r_c] >= floor * E[tracks]`` (e.g. promoted streams per track
played) is the saddle point of the Lagrangian ``w · r + λ (r_c - floor * tracks)`` over the
policy (max) and λ >= 0 (min). The policy learns from the Lagrangian reward of an
`envs.scalarization.Constrained`; this callback moves λ once per rollout against the rollout's
own constraint share:

    λ <- max(0, λ + lr * (floor - share) / floor)

so λ grows while the floor is missed and decays once it holds with room to spare (the relative
gap makes `lr` unit-free). TensorBoard: ``constraint/multiplier``, ``constraint/share``,
``constraint/slack`` (share - floor, >= 0 when the constraint holds).
"""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback

from agents.checkpoint import find_slate_env
from envs.scalarization import Constrained


class LagrangeMultiplier(BaseCallback):
    """Dual ascent on the multiplier of the training env's `Constrained` scalarization.

    Args:
        learning_rate: step size of λ per rollout, per unit of relative constraint gap.
        max_multiplier: cap on λ, so that one bad rollout cannot swamp the objective.
    """

    def __init__(self, learning_rate: float, max_multiplier: float = 100.0) -> None:
        super().__init__()
        self.learning_rate = learning_rate
        self.max_multiplier = max_multiplier
        self._constrained = 0.0
        self._tracks = 0

    @property
    def scalarization(self) -> Constrained:
        scalarization = find_slate_env(self.training_env).scalarization
        if not isinstance(scalarization, Constrained):
            raise TypeError("LagrangeMultiplier needs an env with a Constrained scalarization")
        return scalarization

    def _on_rollout_start(self) -> None:
        self._constrained, self._tracks = 0.0, 0

    def _on_step(self) -> bool:
        env = find_slate_env(self.training_env)
        self._constrained += float(env.last_vector_reward[:, self.scalarization.index].sum())
        self._tracks += int(env.last_tracks.sum())
        return True

    def _on_rollout_end(self) -> None:
        s = self.scalarization
        if self._tracks == 0:
            return
        share = self._constrained / self._tracks
        gap = (s.floor - share) / s.floor if s.floor > 0 else -share
        s.multiplier = min(self.max_multiplier, max(0.0, s.multiplier + self.learning_rate * gap))
        self.logger.record("constraint/multiplier", s.multiplier)
        self.logger.record("constraint/share", share)
        self.logger.record("constraint/slack", share - s.floor)
