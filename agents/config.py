"""Experiment configuration for `scripts/train_agent.py`: one YAML file, validated here.

`configs/train_default.yaml` is the main job's default; every field below is documented once,
with its default. Dotted overrides (`--set algo.learning_rate=1e-3`) apply before validation,
so a typo fails with the field named.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from simulators.config import StrictModel, read_yaml, validate_with_overrides

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_TRAIN_CONFIG = CONFIG_DIR / "train_default.yaml"

Algorithm = Literal["ppo", "a2c", "sac", "td3", "dqn"]


class EnvSection(StrictModel):
    """Which environment to train on, and how many sessions run side by side."""

    id: str = Field("segue/MusicQueue-v0", description="Registered Segue env id.")
    config: str | None = Field(None, description="Env YAML (None: the env's file under configs/).")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted env-config overrides.")
    num_envs: int = Field(64, ge=1, le=65536, description="Concurrent simulated users in the batched VecEnv.")
    normalize_reward: bool = Field(True, description="Scale rewards by a running return std (VecNormalize).")


class PolicySection(StrictModel):
    """The slate scoring network (PPO/A2C); SAC/TD3/DQN use SB3's MultiInputPolicy with `hidden`."""

    hidden: int = Field(64, ge=4, le=1024, description="Width of the scorer and critic layers.")
    attention: bool = Field(False, description="Candidate self-attention in the scorer.")
    warm_start: float | None = Field(
        3.0,
        gt=0,
        description="Start the scorer's wide part at greedy's ranking (the predicted scalarized value), with "
        "this many logits per standard deviation of that value across a request's candidates; null starts "
        "from uniform slates.",
    )
    warm_start_boost: float = Field(
        0.0,
        ge=0,
        le=10,
        description="The extra score per promoted candidate in the ranking the warm start copies, in "
        "scalarized-reward units: 0 copies greedy, 1 copies boosted_greedy (whose boost is 1).",
    )
    warm_start_lookahead: bool = Field(
        True,
        description="Add to the ranking the warm start copies the value of the listener staying (the oracle's "
        "one-track lookahead on observable state, a staying listener valued at the copied ranker's realized "
        "session return): greedy ignores that a track's listen outcome moves the chance of hearing the next "
        "one. Queue surfaces only (on a shelf leaving follows the choice).",
    )
    queue_context: bool = Field(
        True,
        description="On a queue, draw the slate slot by slot, with a learned penalty on a candidate whose "
        "artist (the artist_key column) was placed 1..K-1 slots earlier; false scores the slots independently. "
        "Ignored on a shelf, whose tracks are alternatives, not heard in order.",
    )


class AlgoSection(StrictModel):
    """Hyperparameters passed to the SB3 algorithm (unused ones are ignored per algorithm)."""

    learning_rate: float = Field(3e-4, gt=0, le=1, description="Adam learning rate.")
    gamma: float = Field(0.95, gt=0, le=1, description="Discount per step (one slate).")
    n_steps: int = Field(32, ge=1, description="PPO/A2C: rollout length per env.")
    batch_size: int = Field(512, ge=1, description="PPO/SAC/TD3/DQN minibatch size.")
    n_epochs: int = Field(4, ge=1, description="PPO: passes over each rollout.")
    gae_lambda: float = Field(0.9, ge=0, le=1, description="PPO/A2C: GAE lambda.")
    clip_range: float = Field(0.2, gt=0, le=1, description="PPO: clipping.")
    slot_credit: bool = Field(
        True,
        description="PPO: credit slot k of a queue with the rewards from slot k on, and unreached slots with "
        "nothing (agents.slot_ppo); false = one ratio and advantage per slate, as in SB3's PPO.",
    )
    ent_coef: float = Field(0.01, ge=0, description="PPO/A2C: entropy bonus.")
    vf_coef: float = Field(0.5, ge=0, description="PPO/A2C: value-loss weight.")
    max_grad_norm: float = Field(0.5, gt=0, description="Gradient clipping.")
    buffer_size: int = Field(50_000, ge=100, description="SAC/TD3/DQN replay buffer size.")
    learning_starts: int = Field(1_000, ge=0, description="SAC/TD3/DQN: steps before learning.")


class EvaluationSection(StrictModel):
    """The end-of-run comparison against baseline rankers."""

    sessions: int = Field(500, ge=1, description="Simulated sessions per policy (same users for all).")
    seed: int = Field(12345, description="Seed of the evaluation users (disjoint from training seeds).")
    baselines: list[str] = Field(
        default_factory=lambda: ["random", "popularity", "greedy"], description="Baseline rankers to compare."
    )


class SelectionSection(StrictModel):
    """Which weights the run serves: the best of its validated checkpoints (agents.selection)."""

    every: int | None = Field(
        25_000,
        ge=1,
        description="Timesteps between validations of the served ranking (and one at the start and the end); "
        "null serves the last weights. PPO/A2C only.",
    )
    sessions: int = Field(1_500, ge=10, description="Validation sessions per check (the same users every time).")
    seed: int = Field(
        54_321, description="Seed of the validation users; their seeds must not overlap the evaluation users'."
    )
    guardrails: list[str] = Field(
        default_factory=list,
        description="Objectives (OBJECTIVE_NAMES) on which a served checkpoint must beat guardrail_baseline "
        "per session on the validation users, by guardrail_se standard errors; one that falls short is passed over "
        "(as is one below scalarization.constraint's floor, before any guardrail).",
    )
    guardrail_baseline: str = Field("greedy", description="The baseline ranker the guardrails compare with.")
    guardrail_se: float = Field(
        1.0,
        ge=0,
        description="How many standard errors of the paired per-session difference a checkpoint must clear the "
        "baseline by on each guardrail (1: one-sided 84%; 0 compares the means, which passes a checkpoint no "
        "better than the baseline half the time).",
    )

    @model_validator(mode="after")
    def _check_names(self) -> SelectionSection:
        from agents.baselines import BASELINE_NAMES
        from simulators import OBJECTIVE_NAMES

        unknown = sorted(set(self.guardrails) - set(OBJECTIVE_NAMES))
        if unknown:
            raise ValueError(f"guardrails {unknown} are not objectives; choose from {list(OBJECTIVE_NAMES)}")
        if self.guardrail_baseline not in BASELINE_NAMES:
            raise ValueError(
                f"guardrail_baseline {self.guardrail_baseline!r} is not a baseline; choose from {list(BASELINE_NAMES)}"
            )
        return self


class ConstraintSection(StrictModel):
    """A floor on one objective per track played, enforced by a Lagrange multiplier (agents.constraints)."""

    objective: str = Field("promoted_streams", description="The constrained objective (an OBJECTIVE_NAMES entry).")
    floor: float = Field(..., ge=0, description="Required share: objective per track started, e.g. 0.2.")
    learning_rate: float = Field(0.5, gt=0, description="Dual-ascent step of the multiplier per rollout.")
    initial_multiplier: float = Field(0.0, ge=0, description="Multiplier at the start of training.")

    @model_validator(mode="after")
    def _check_objective(self) -> ConstraintSection:
        from simulators import OBJECTIVE_NAMES

        if self.objective not in OBJECTIVE_NAMES:
            raise ValueError(f"objective {self.objective!r} is not one of {list(OBJECTIVE_NAMES)}")
        return self


class ScalarizationSection(StrictModel):
    """How training turns the vector reward into a scalar (weights: the env's `reward_weights`).

    The evaluation always reports every objective in raw units, whatever is chosen here.
    """

    kind: Literal["linear", "chebyshev"] = Field("linear", description="Weighted sum, or Chebyshev to `utopia`.")
    scales: Literal["raw", "random"] | dict[str, float] = Field(
        "raw",
        description="Objective units: raw, 'random' (the random ranker's per-session return, "
        "so weights are comparable), or a name -> unit map.",
    )
    utopia: dict[str, float] = Field(
        default_factory=dict, description="Chebyshev: per-session return to aim at, per weighted objective."
    )
    constraint: ConstraintSection | None = Field(None, description="Optional floor (Lagrangian; linear only).")

    @model_validator(mode="after")
    def _check_kind(self) -> ScalarizationSection:
        if self.kind == "chebyshev" and not self.utopia:
            raise ValueError("kind 'chebyshev' needs a utopia: per-objective session returns to aim at")
        if self.kind == "chebyshev" and self.constraint is not None:
            raise ValueError("a constraint needs kind 'linear' (its Lagrangian is a weighted sum)")
        return self


class TrainConfig(StrictModel):
    """Everything one training run needs; saved resolved as `config.yaml` in the run folder."""

    algo: Algorithm = Field("ppo", description="SB3 algorithm.")
    total_timesteps: int = Field(150_000, ge=1, description="Environment steps (slates served) to train for.")
    seed: int = Field(0, description="Seed of torch, the training users and action sampling.")
    run_dir: str | None = Field(None, description="Run folder (default runs/<algo>-<env>-<timestamp>).")
    runs_root: str = Field("runs", description="Parent folder of default run folders.")
    checkpoint_every: int = Field(25_000, ge=1, description="Checkpoint interval in timesteps.")
    torch_threads: int = Field(2, ge=1, le=256, description="torch intra-op threads.")
    env: EnvSection = EnvSection()
    policy: PolicySection = PolicySection()
    hyperparameters: AlgoSection = AlgoSection()
    scalarization: ScalarizationSection = ScalarizationSection()
    evaluation: EvaluationSection = EvaluationSection()
    selection: SelectionSection = SelectionSection()

    @model_validator(mode="after")
    def _check_batch(self) -> TrainConfig:
        if self.algo == "ppo" and self.hyperparameters.batch_size > self.hyperparameters.n_steps * self.env.num_envs:
            raise ValueError(
                "hyperparameters.batch_size must not exceed n_steps * env.num_envs "
                f"({self.hyperparameters.n_steps} * {self.env.num_envs}); lower it or collect longer rollouts"
            )
        return self

    @model_validator(mode="after")
    def _check_validation_users(self) -> TrainConfig:
        """Selection on the evaluation's own users would report the winner's curse as a gain."""
        chosen, evaluated = self.selection, self.evaluation
        if chosen.every is not None and (
            chosen.seed < evaluated.seed + evaluated.sessions and evaluated.seed < chosen.seed + chosen.sessions
        ):
            raise ValueError(
                f"selection users (seeds {chosen.seed}..{chosen.seed + chosen.sessions - 1}) overlap the evaluation "
                f"users (seeds {evaluated.seed}..{evaluated.seed + evaluated.sessions - 1}); move selection.seed"
            )
        return self

    def digest(self) -> str:
        """sha256 of the resolved config (run folder aside): the model card's config hash."""
        data = self.model_dump(exclude={"run_dir"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def parse_value(text: str) -> Any:
    """Parse a `--set` value with YAML rules: numbers, booleans, lists, null, else a string."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` arguments as a dotted-key dict (values parsed as YAML).

    Raises:
        ValueError: an item is not KEY=VALUE (the message quotes it).
    """
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = parse_value(value)
    return overrides


def load_train_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a training YAML (default: configs/train_default.yaml) and apply dotted overrides."""
    path = Path(path) if path is not None else DEFAULT_TRAIN_CONFIG
    return validate_with_overrides(TrainConfig, read_yaml(path), overrides, str(path))
