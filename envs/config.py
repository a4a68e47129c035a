"""Environment configuration: the simulator plus the default scalarization weights.

One YAML file per environment under `configs/` maps onto `EnvConfig`:

```yaml
simulator: {surface: queue, slate_size: 10, ...}   # see simulators.config.SimulatorConfig
reward_weights: {listening_minutes: 0.2, ...}      # one weight per objective name
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from simulators.config import SimulatorConfig, StrictModel, read_yaml, validate_with_overrides
from simulators.objectives import OBJECTIVE_NAMES

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

#: Default trade-off: minutes and completions carry satisfaction, skips cost, and business
#: objectives (promotion, discovery, revenue) get explicit, visible weight.
DEFAULT_WEIGHTS: dict[str, float] = {
    "listening_minutes": 0.2,
    "completions": 0.5,
    "skips": 0.3,
    "promoted_streams": 1.0,
    "discovery": 0.5,
    "revenue": 0.5,
}


class EnvConfig(StrictModel):
    """A Segue environment: its simulator and the weights of the linear scalarization."""

    simulator: SimulatorConfig = SimulatorConfig()
    reward_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description="Weight per objective for the scalar reward; missing objectives weigh 0.",
    )

    @field_validator("reward_weights")
    @classmethod
    def _known_objectives(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(weights) - set(OBJECTIVE_NAMES))
        if unknown:
            raise ValueError(f"unknown objective(s) {unknown}; valid names: {list(OBJECTIVE_NAMES)}")
        return weights

    def weight_vector(self) -> list[float]:
        """Weights in OBJECTIVE_NAMES order."""
        return [float(self.reward_weights.get(name, 0.0)) for name in OBJECTIVE_NAMES]


def resolve_env_config(
    config: str | Path | EnvConfig | dict[str, Any] | None,
    default_file: str,
    overrides: dict[str, Any] | None = None,
) -> EnvConfig:
    """Turn whatever the caller passed into a validated EnvConfig.

    Args:
        config: an EnvConfig, a mapping, a YAML path, or None for `configs/<default_file>`.
        default_file: the environment's own YAML under `configs/`.
        overrides: dotted keys applied on top, e.g. ``{"simulator.slate_size": 5}``.
    """
    if isinstance(config, EnvConfig) and not overrides:
        return config
    if isinstance(config, EnvConfig):
        tree = config.model_dump()
        source = "EnvConfig"
    elif isinstance(config, dict):
        tree, source = dict(config), "mapping"
    else:
        path = Path(config) if config is not None else CONFIG_DIR / default_file
        tree, source = read_yaml(path), str(path)
    return validate_with_overrides(EnvConfig, tree, overrides, source)
