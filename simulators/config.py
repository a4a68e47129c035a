"""Validated simulator parameters.

Every number that shapes the simulated world lives here, once, with its default and meaning.
The models reject unknown keys and out-of-range values, so a typo in a YAML file fails at load
time with the offending field named, instead of silently running a different experiment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class StrictModel(BaseModel):
    """Base for all config sections: unknown keys are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogConfig(StrictModel):
    """The synthetic music catalog: the fixed world every user session draws from."""

    seed: int = Field(0, description="Seed of the catalog; the catalog is part of the env's identity.")
    num_items: int = Field(5000, ge=10, description="Number of tracks.")
    num_genres: int = Field(12, ge=1, le=64, description="Genre clusters in feature space.")
    num_artists: int = Field(1000, ge=1, description="Artists; each belongs to one genre.")
    embedding_dim: int = Field(8, ge=2, le=64, description="Dimension of the taste/feature space.")
    genre_spread: float = Field(0.25, gt=0, le=5, description="Std of a track around its genre centroid.")
    artist_popularity_exponent: float = Field(
        1.0, ge=0, le=3, description="Zipf exponent of artist popularity (power law)."
    )
    track_popularity_sd: float = Field(0.8, ge=0, le=3, description="Log-normal spread of tracks within an artist.")
    duration_median_s: float = Field(210.0, ge=30, le=1200, description="Median track duration (seconds).")
    duration_log_sd: float = Field(0.3, ge=0, le=2, description="Log-normal sd of track duration.")
    duration_min_s: float = Field(30.0, gt=0, description="Durations are clipped to [min, max].")
    duration_max_s: float = Field(900.0, gt=0, description="Durations are clipped to [min, max].")
    promoted_share: float = Field(0.05, ge=0, le=1, description="Share of tracks under a promotion deal.")
    new_release_share: float = Field(0.10, ge=0, le=1, description="Share of tracks that are new releases.")
    owned_share: float = Field(0.08, ge=0, le=1, description="Share of tracks that are owned content (no royalty).")
    head_play_share: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="Artists that together hold this share of popularity are the head; the rest is long tail.",
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> CatalogConfig:
        if self.duration_min_s >= self.duration_max_s:
            raise ValueError("catalog.duration_min_s must be below catalog.duration_max_s")
        if self.num_artists > self.num_items:
            raise ValueError("catalog.num_artists must not exceed catalog.num_items")
        return self


class CandidateConfig(StrictModel):
    """The retrieval stage: which N tracks the ranker may choose from at each request."""

    num_candidates: int = Field(100, ge=1, le=4096, description="N, the padded size of each candidate set.")
    min_candidates: int | None = Field(
        None, ge=1, description="Requests carry a uniform number of valid candidates in [min, N]; None means N."
    )
    popularity_power: float = Field(
        0.5, ge=0, le=2, description="Candidates are drawn with probability proportional to popularity**power."
    )


class UserConfig(StrictModel):
    """The user population: who starts a session."""

    premium_share: float = Field(0.81, ge=0, le=1, description="Share of premium (paid) users.")
    taste_spread: float = Field(0.5, ge=0, le=5, description="Std of a user's taste around the favourite genre.")
    skip_propensity_sd: float = Field(0.5, ge=0, le=5, description="Std of the per-user skip offset (logit).")
    patience_mean: float = Field(0.0, ge=-10, le=10, description="Mean per-user patience (lowers the leave logit).")
    patience_sd: float = Field(0.5, ge=0, le=5, description="Std of per-user patience.")


class ResponseConfig(StrictModel):
    """How a user responds to one track: utility, then early skip / late skip / completion.

    Utility u = affinity_scale * <taste, features> + popularity_weight * popularity_z
    + premium_effect * premium - skip_propensity - fatigue_weight * fatigue
    - genre_fatigue_weight * genre_exposure - artist_repeat_penalty * artist_recent
    + first_track_bonus * exp(-position / warmup_tracks).
    P(listen past the early-skip point) = sigmoid(u - early_skip_threshold);
    P(complete) = sigmoid(u - early_skip_threshold - completion_gap) (an ordered logit).
    """

    affinity_scale: float = Field(2.0, ge=0, le=20, description="Weight of taste-feature alignment.")
    popularity_weight: float = Field(0.15, ge=-5, le=5, description="Weight of standardized log popularity.")
    premium_effect: float = Field(0.1, ge=-5, le=5, description="Utility shift of premium users.")
    early_skip_threshold: float = Field(0.3, ge=-10, le=10, description="Ordered-logit cut: early skip vs listen.")
    completion_gap: float = Field(1.2, gt=0, le=10, description="Second cut minus first cut (> 0).")
    first_track_bonus: float = Field(0.6, ge=-5, le=5, description="Extra utility of the first tracks of a session.")
    warmup_tracks: float = Field(1.5, gt=0, le=100, description="Decay (in tracks) of the first-track bonus.")
    fatigue_weight: float = Field(0.5, ge=0, le=10, description="Utility lost per unit of skip fatigue.")
    genre_fatigue_weight: float = Field(0.25, ge=0, le=10, description="Utility lost per unit of genre exposure.")
    artist_repeat_penalty: float = Field(0.8, ge=0, le=10, description="Utility lost when the artist just played.")
    early_skip_max_fraction: float = Field(
        0.25, gt=0, lt=1, description="Early skips end before this share of the track."
    )
    early_skip_shape: float = Field(
        2.0, gt=0, le=20, description="Early-skip listen fraction = max_fraction * U**shape (shape > 1: sooner)."
    )


class DynamicsConfig(StrictModel):
    """How the user state moves between tracks."""

    drift_rate: float = Field(0.05, ge=0, le=1, description="Taste moves this far toward each completed track.")
    fatigue_decay: float = Field(0.85, ge=0, le=1, description="Skip fatigue is multiplied by this per track.")
    skip_fatigue: float = Field(0.3, ge=0, le=10, description="Fatigue added by each early skip.")
    genre_decay: float = Field(0.8, ge=0, le=1, description="Genre exposure is multiplied by this per track.")
    artist_memory: int = Field(5, ge=1, le=64, description="How many recent artists count as 'just played'.")
    skip_rate_smoothing: float = Field(0.3, gt=0, le=1, description="EMA weight of the observed recent skip rate.")


class LeaveConfig(StrictModel):
    """Per-track hazard of ending the session: sigmoid of the logit below."""

    base_logit: float = Field(-3.6, ge=-20, le=10, description="Leave logit after a late skip with no fatigue.")
    after_early_skip: float = Field(0.5, ge=-10, le=10, description="Logit shift after an early skip.")
    after_completion: float = Field(0.3, ge=-10, le=10, description="Logit shift after a completed track.")
    fatigue_effect: float = Field(0.4, ge=0, le=10, description="Logit shift per unit of skip fatigue.")
    after_no_choice: float = Field(0.8, ge=-10, le=10, description="Shelf only: logit shift when nothing is chosen.")


class ShelfConfig(StrictModel):
    """The shelf surface: the user picks at most one of the K shown tracks."""

    choice_model: Literal["mnl", "cascade"] = Field("mnl", description="Multinomial logit or cascade.")
    no_choice_utility: float = Field(1.0, ge=-10, le=10, description="MNL utility of choosing nothing.")
    position_bias: float = Field(0.3, ge=0, le=10, description="Utility (MNL) or logit (cascade) lost per slot.")
    cascade_threshold: float = Field(1.0, ge=-10, le=10, description="Cascade: click logit is u - threshold.")
    no_choice_fatigue: float = Field(0.2, ge=0, le=10, description="Fatigue added when nothing is chosen.")


class ObjectivesConfig(StrictModel):
    """Constants of the reward vector (see `simulators.objectives`)."""

    stream_threshold_s: float = Field(30.0, ge=0, description="A play of at least this many seconds is a stream.")
    premium_stream_value: float = Field(1.0, ge=0, description="Revenue units per premium stream before margin.")
    free_stream_value: float = Field(0.4, ge=0, description="Revenue units (ads) per free-tier stream.")
    licensed_margin: float = Field(0.3, ge=0, le=1, description="Share kept after royalties on licensed content.")
    owned_margin: float = Field(1.0, ge=0, le=1, description="Share kept on owned content.")


class SimulatorConfig(StrictModel):
    """Everything the session simulator needs; one YAML file under `configs/` maps onto it."""

    surface: Literal["queue", "shelf"] = Field("queue", description="Ordered playback queue or choice shelf.")
    slate_size: int = Field(10, ge=1, le=256, description="K, tracks per slate.")
    max_steps: int = Field(20, ge=1, description="Sessions are truncated after this many slates.")
    catalog: CatalogConfig = CatalogConfig()
    candidates: CandidateConfig = CandidateConfig()
    users: UserConfig = UserConfig()
    response: ResponseConfig = ResponseConfig()
    dynamics: DynamicsConfig = DynamicsConfig()
    leave: LeaveConfig = LeaveConfig()
    shelf: ShelfConfig = ShelfConfig()
    objectives: ObjectivesConfig = ObjectivesConfig()

    @model_validator(mode="after")
    def _check_sizes(self) -> SimulatorConfig:
        n = self.candidates.num_candidates
        if self.slate_size > n:
            raise ValueError(f"slate_size ({self.slate_size}) must not exceed candidates.num_candidates ({n})")
        if n > self.catalog.num_items:
            raise ValueError(f"candidates.num_candidates ({n}) must not exceed catalog.num_items")
        low = self.candidates.min_candidates
        if low is not None and not self.slate_size <= low <= n:
            raise ValueError(
                f"candidates.min_candidates ({low}) must lie in [slate_size, num_candidates] = [{self.slate_size}, {n}]"
            )
        return self


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the field and the fix."""


def format_validation_error(error: ValidationError, source: str) -> str:
    """Render pydantic errors as one line per bad field, with its dotted path."""
    lines = [f"invalid config in {source}:"]
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against the documented fields"
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping as dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def set_dotted(tree: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Set ``tree['a']['b'] = value`` for ``dotted_key='a.b'``, creating sections as needed."""
    *parents, leaf = dotted_key.split(".")
    node = tree
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted_key!r}: {part!r} is a value, not a section")
        node = child
    node[leaf] = value


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


Model = TypeVar("Model", bound=BaseModel)


def validate_with_overrides(
    model: type[Model], tree: dict[str, Any], overrides: dict[str, Any] | None, source: str
) -> Model:
    """Apply dotted-key overrides to a config tree and validate it; errors name each bad field."""
    for key, value in (overrides or {}).items():
        set_dotted(tree, key, value)
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_simulator_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> SimulatorConfig:
    """Load a simulator config from YAML (or the defaults) and apply dotted-key overrides."""
    tree = read_yaml(path) if path is not None else {}
    return validate_with_overrides(SimulatorConfig, tree, overrides, str(path or "overrides"))
