"""Objective units: how much of each objective one ordinary session produces.

Weights on raw objectives mix minutes, counts and revenue units, so "0.5 on promoted streams"
means nothing by itself. Dividing each objective by what the uniformly random ranker earns per
session makes a weight of 1 worth one random session's worth of that objective, whatever its
unit. The random ranker is the natural yardstick: it needs no model, exists for every env, and
is the same for every policy compared.
"""

from __future__ import annotations

import numpy as np

from agents.baselines import RandomRanker
from agents.evaluation.rollout import rollout
from envs.config import EnvConfig
from simulators import OBJECTIVE_NAMES, SessionSimulator

#: Objectives the random ranker hardly produces fall back to their raw unit.
MIN_SCALE = 1e-6


def objective_scales(
    env_config: EnvConfig, simulator: SessionSimulator | None = None, sessions: int = 512, seed: int = 2024
) -> dict[str, float]:
    """|mean per-session return| of each objective under the random ranker (fixed users)."""
    outcome = rollout(RandomRanker(seed), env_config, sessions, seed, simulator)
    scale = np.abs(outcome.returns.mean(axis=0))
    scale = np.where(scale > MIN_SCALE, scale, 1.0)
    return {name: float(value) for name, value in zip(OBJECTIVE_NAMES, scale, strict=True)}
