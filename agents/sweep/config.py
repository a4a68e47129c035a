"""The sweep YAML (`configs/sweep/*.yaml`), validated like every other Segue config.

A sweep trains one policy per (weight vector, seed) on the objectives it names, evaluates each
with the shared evaluator on the same users, and traces the business-boosted greedy baseline
over its boost weights for comparison. Unknown keys are errors; `--set key=value` overrides
apply before validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from simulators import OBJECTIVE_NAMES
from simulators.config import StrictModel, read_yaml, validate_with_overrides


class SweepConfig(StrictModel):
    """One Pareto sweep."""

    name: str = Field("pareto", description="Experiment name (the Ray Tune experiment folder under --out).")
    train_config: str | None = Field(None, description="Base training YAML (None: configs/train_default.yaml).")
    train_overrides: dict[str, Any] = Field(
        default_factory=dict, description="Dotted TrainConfig overrides for every trial, e.g. total_timesteps."
    )
    objectives: list[str] = Field(
        default_factory=lambda: ["listening_minutes", "promoted_streams"],
        description="The 2 or 3 objectives that span the front (all others get weight 0).",
    )
    weights: list[list[float]] = Field(
        ..., description="Weight vectors over `objectives` (one trial per vector and seed), in objective units."
    )
    seeds: list[int] = Field(default_factory=lambda: [0], description="Training seeds per weight vector.")
    scales: Literal["raw", "random"] = Field(
        "random", description="Objective units of the weights: 'random' = the random ranker's session return."
    )
    boost_weights: list[float] = Field(
        default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 4.0, 8.0],
        description="Promoted-track boosts of the greedy baseline whose front is compared.",
    )
    evaluation_sessions: int = Field(500, ge=2, description="Evaluation sessions per policy (same users for all).")
    evaluation_seed: int = Field(12345, description="Seed of the evaluation users.")
    reference: Literal["random"] | list[float] = Field(
        "random",
        description="Hypervolume reference point: the random ranker's per-session means, or explicit values.",
    )
    cpus_per_trial: float = Field(1.0, gt=0, description="Ray CPUs reserved per trial (also its torch threads).")
    max_failures: int = Field(2, ge=0, description="Retries of a failed trial (it resumes from its checkpoint).")

    @model_validator(mode="after")
    def _check(self) -> SweepConfig:
        unknown = sorted(set(self.objectives) - set(OBJECTIVE_NAMES))
        if unknown:
            raise ValueError(f"objectives: unknown {unknown}; valid names: {list(OBJECTIVE_NAMES)}")
        if not 2 <= len(self.objectives) <= 3 or len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objectives: name 2 or 3 distinct objectives (the axes of the front)")
        for i, vector in enumerate(self.weights):
            if len(vector) != len(self.objectives) or min(vector) < 0 or sum(vector) <= 0:
                raise ValueError(
                    f"weights[{i}]: give {len(self.objectives)} non-negative numbers (one per objective), not all 0"
                )
        if isinstance(self.reference, list) and len(self.reference) != len(self.objectives):
            raise ValueError(f"reference: give {len(self.objectives)} values or 'random'")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        return self

    def trial_name(self, weights: list[float], seed: int) -> str:
        """Folder and TensorBoard run name, e.g. ``w-listening_minutes0.75-promoted_streams0.25_seed0``."""
        parts = "-".join(f"{name}{w:g}" for name, w in zip(self.objectives, weights, strict=True))
        return f"w-{parts}_seed{seed}"


def load_sweep_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepConfig:
    return validate_with_overrides(SweepConfig, read_yaml(Path(path)), overrides, str(path))
