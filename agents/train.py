"""Config in, run folder out: train an SB3 agent on a Segue env, export it, evaluate it.

Run folder layout (all written atomically):

    config.yaml           the resolved TrainConfig (what `--resume` reuses)
    tb/                   TensorBoard event files (one curve per objective)
    checkpoints/          periodic checkpoints + latest.json
    model.zip             the SB3 model, holding the served weights (see selection/)
    scorer.onnx           the exported scoring policy (PPO/A2C)
    model_card.json       its input schema, objectives, weights, versions, config hash
    selection/            validations of the served ranking during training, the best weights
    evaluation.json       policy vs baseline rankers on common simulated users
    report/               the same comparison as report.html / report.md / report.json + plots
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from stable_baselines3 import A2C, DQN, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from agents.adapters import ScoreVectorActions, SlotBySlotActions
from agents.baselines import GreedyRanker
from agents.callbacks import ObjectiveLogger, PeriodicCheckpoint
from agents.checkpoint import find_slate_env, latest_checkpoint, restore_checkpoint, save_checkpoint
from agents.config import TrainConfig
from agents.constraints import LagrangeMultiplier
from agents.evaluation.evaluator import evaluate_run
from agents.evaluation.report import write_report
from agents.evaluation.rollout import rollout
from agents.evaluation.scales import objective_scales
from agents.export import atomic_write_bytes, atomic_write_json, export_onnx, model_card
from agents.policies import SlateObservationExtractor, SlateScoringPolicy, warm_start_at_ranker
from agents.selection import BestServedPolicy
from agents.slot_ppo import SlotPPO
from envs import SlateVecEnv, build_simulator, env_config_for
from envs.config import EnvConfig
from envs.core import SessionBatch
from envs.scalarization import Chebyshev, Constrained, Linear
from simulators import OBJECTIVE_NAMES, SessionSimulator, item_feature_names, user_feature_names
from simulators.observation import predicted_columns
from simulators.users import genre_exposure_of

log = logging.getLogger("segue.train")

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": SlotPPO, "a2c": A2C, "sac": SAC, "td3": TD3, "dqn": DQN}
SLATE_POLICY_ALGOS = ("ppo", "a2c")


@dataclass(frozen=True)
class RunResult:
    """Where a finished run put its artifacts."""

    run_dir: Path
    model: BaseAlgorithm
    scorer_path: Path | None
    evaluation: dict[str, Any] | None
    train_seconds: float


def default_run_dir(config: TrainConfig) -> Path:
    env_name = config.env.id.split("/")[-1]
    return Path(config.runs_root) / f"{config.algo}-{env_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def build_scalarization(
    config: TrainConfig, env_config: EnvConfig, simulator: SessionSimulator
) -> Linear | Chebyshev | Constrained:
    """The training reward of `config.scalarization` over the env's `reward_weights`."""
    section = config.scalarization
    weights = env_config.reward_weights
    scales: dict[str, float] | None = None
    if section.scales == "random":
        scales = objective_scales(env_config, simulator)
        log.info("objective units (random ranker, per session): %s", {k: round(v, 3) for k, v in scales.items()})
    elif isinstance(section.scales, dict):
        scales = section.scales
    if section.kind == "chebyshev":
        missing = sorted(name for name, w in weights.items() if w > 0 and name not in section.utopia)
        if missing:
            raise ValueError(f"scalarization.utopia needs a value for every weighted objective; missing {missing}")
        return Chebyshev(weights, section.utopia, scales, batch_size=config.env.num_envs)
    if section.constraint is not None:
        c = section.constraint
        return Constrained(weights, c.objective, c.floor, scales, multiplier=c.initial_multiplier)
    return Linear(weights, scales)


def build_env(config: TrainConfig) -> tuple[VecEnv, EnvConfig]:
    """The batched env with the action adapter the algorithm needs (no normalization yet)."""
    env_config = env_config_for(config.env.id, config.env.config, config.env.overrides)
    simulator = build_simulator(config.env.id, env_config)
    scalarization = build_scalarization(config, env_config, simulator)
    env: VecEnv = SlateVecEnv(
        env_config, config.env.num_envs, config.seed, simulator=simulator, scalarization=scalarization
    )
    if config.algo in ("sac", "td3"):
        env = ScoreVectorActions(env)
    elif config.algo == "dqn":
        env = SlotBySlotActions(env)
    return env, env_config


def stay_value_weights(ranker: GreedyRanker, env_config: EnvConfig, batch: SessionBatch, seed: int) -> np.ndarray:
    """The value of the listener staying, per unit of each `predicted_*` feature: float32[M].

    A one-track lookahead, as the oracle's (`agents.baselines.OracleRanker`) but on what the
    observation shows: value_i + P(stay | i) * continuation, where P(stay | i) is linear in the
    predictions (`EngagementModel.stay_weights`). With a memoryless leave hazard a listener who
    stays is worth a whole session again, so continuation = the mean session return `ranker`
    realizes: in production its logs, here the sessions of `batch`'s users (seeded from `seed`,
    `batch` just reset). Realized, not predicted: the predictions are off by a world-dependent
    offset (the best candidates' value, MusicQueue 1.24 predicted vs 0.94 realized per track,
    KuaiRand -0.04 vs 0.69), which leaves greedy's ranking alone but would scale the lookahead.
    """
    weights = np.asarray(env_config.weight_vector(), np.float64)
    sessions = rollout(ranker, env_config, batch.num_users, seed, batch.simulator)
    continuation = float((sessions.returns @ weights).mean())
    slope = batch.observe.engagement.stay_weights(batch.state.users.fatigue)
    log.info(
        "warm start: a listener who stays is worth %.3g (the session return of the ranker it starts at): "
        "%+.3g per predicted skip, %+.3g per predicted completion",
        continuation,
        continuation * slope[OBJECTIVE_NAMES.index("skips")],
        continuation * slope[OBJECTIVE_NAMES.index("completions")],
    )
    return (continuation * slope).astype(np.float32)


def warm_start(model: BaseAlgorithm, config: TrainConfig, env_config: EnvConfig, users: int = 1024) -> None:
    """Start a slate policy at greedy's ranking, its boost and lookahead (`policy.warm_start*`), on fresh users.

    The users come from their own seeds (`config.seed` + 10**6 + i), so the training env's
    random streams are the same with and without a warm start.
    """
    simulator = find_slate_env(model.get_env()).batch.simulator
    batch = SessionBatch(env_config.simulator, users, simulator)
    batch.seed(config.seed + 10**6 + np.arange(users))
    policy = model.policy
    assert isinstance(policy, SlateScoringPolicy)
    boost = config.policy.warm_start_boost
    ranker = GreedyRanker(simulator, np.asarray(env_config.weight_vector(), np.float32), promoted_boost=boost)
    observation = batch.reset()
    item_weights = ranker.item_weights(observation["items"].shape[2])
    if config.policy.warm_start_lookahead and env_config.simulator.surface == "queue":
        lookahead = stay_value_weights(ranker, env_config, batch, config.seed + 10**6)
        item_weights[predicted_columns(simulator.catalog)] += lookahead
    repeat_cost = None
    if policy.context_lags:
        state, weights = batch.state, np.asarray(env_config.weight_vector(), np.float32)
        users, ids = state.users, state.candidate_ids
        exposure = genre_exposure_of(users.genre_exposure, simulator.catalog.genre[ids])
        costs = batch.observe.engagement.repeat_cost(ids, users.taste, users.premium, users.fatigue, exposure, weights)
        cost = float(costs[state.candidate_mask.astype(bool)].mean())
        memory = env_config.simulator.dynamics.artist_memory
        repeat_cost = np.where(np.arange(1, policy.context_lags + 1) <= memory, cost, 0.0)
        log.info("warm start: a same-artist pick up to %d slots back costs %.3g (predicted)", memory, cost)
    beta = warm_start_at_ranker(policy.scorer, observation, item_weights, config.policy.warm_start, repeat_cost)
    log.info("warm start: slates are Plackett-Luce around greedy + %.3g per promoted track (beta %.3g)", boost, beta)


def build_model(config: TrainConfig, env: VecEnv, tensorboard_dir: Path) -> BaseAlgorithm:
    """A fresh SB3 model with the config's hyperparameters (only those the algorithm takes)."""
    hp = config.hyperparameters
    common: dict[str, Any] = dict(
        learning_rate=hp.learning_rate, gamma=hp.gamma, seed=config.seed, tensorboard_log=str(tensorboard_dir)
    )
    if config.algo in SLATE_POLICY_ALGOS:
        simulator_config = find_slate_env(env).batch.config
        queue_context = config.policy.queue_context and simulator_config.surface == "queue"
        policy_kwargs = dict(
            hidden=config.policy.hidden,
            attention=config.policy.attention,
            context_lags=simulator_config.slate_size - 1 if queue_context else 0,
        )
        on_policy = dict(
            n_steps=hp.n_steps,
            gae_lambda=hp.gae_lambda,
            ent_coef=hp.ent_coef,
            vf_coef=hp.vf_coef,
            max_grad_norm=hp.max_grad_norm,
        )
        if config.algo == "ppo":
            on_policy.update(
                batch_size=hp.batch_size, n_epochs=hp.n_epochs, clip_range=hp.clip_range, slot_credit=hp.slot_credit
            )
        return ALGORITHMS[config.algo](SlateScoringPolicy, env, policy_kwargs=policy_kwargs, **on_policy, **common)
    off_policy = dict(
        buffer_size=hp.buffer_size,
        learning_starts=hp.learning_starts,
        batch_size=hp.batch_size,
        # SB3's CombinedExtractor keys an nn.ModuleDict by observation key, and "items" clashes
        # with ModuleDict.items; our flattening extractor sidesteps that.
        policy_kwargs=dict(
            net_arch=[config.policy.hidden, config.policy.hidden],
            features_extractor_class=SlateObservationExtractor,
            features_extractor_kwargs=dict(drop_key=True),
        ),
    )
    return ALGORITHMS[config.algo]("MultiInputPolicy", env, **off_policy, **common)


def hparams_of(config: TrainConfig) -> dict[str, Any]:
    hp = config.hyperparameters
    return {
        "algo": config.algo,
        "env": config.env.id,
        "num_envs": config.env.num_envs,
        "learning_rate": hp.learning_rate,
        "gamma": hp.gamma,
        "hidden": config.policy.hidden,
        "attention": int(config.policy.attention),
        "seed": config.seed,
    }


def export_scorer(
    model: BaseAlgorithm,
    config: TrainConfig,
    env_config: EnvConfig,
    run_dir: Path,
    selected_timesteps: int | None = None,
) -> Path:
    """Write scorer.onnx and model_card.json for a slate-policy model (its weights as they are now)."""
    policy = model.policy
    assert isinstance(policy, SlateScoringPolicy)
    slate_env = find_slate_env(model.get_env())
    catalog = slate_env.batch.simulator.catalog
    path = export_onnx(policy.serving_module(), run_dir / "scorer.onnx")
    card = model_card(
        policy.scorer,
        user_features=user_feature_names(catalog),
        item_features=item_feature_names(catalog),
        slate_size=env_config.simulator.slate_size,
        objective_names=list(OBJECTIVE_NAMES),
        weights=env_config.weight_vector(),
        env_id=config.env.id,
        config_hash=config.digest(),
        extra={
            "name": f"{config.algo}-policy",
            "trained_timesteps": int(model.num_timesteps),
            "selected_timesteps": int(model.num_timesteps if selected_timesteps is None else selected_timesteps),
        },
    )
    atomic_write_json(run_dir / "model_card.json", card)
    return path


def train(config: TrainConfig, resume: bool = False, evaluate: bool = True, progress_bar: bool = True) -> RunResult:
    """Train (or resume) the run described by `config`; see the module docstring for outputs."""
    run_dir = Path(config.run_dir) if config.run_dir else default_run_dir(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = config.model_copy(update={"run_dir": str(run_dir)})
    atomic_write_bytes(run_dir / "config.yaml", yaml.safe_dump(config.model_dump(), sort_keys=False).encode())
    torch.set_num_threads(config.torch_threads)
    set_random_seed(config.seed)

    inner_env, env_config = build_env(config)
    algo_class = ALGORITHMS[config.algo]
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if resume and checkpoint is None:
        log.warning("no checkpoint in %s yet: starting this run from the beginning", run_dir)
    if checkpoint is not None:
        model = restore_checkpoint(checkpoint, algo_class, inner_env, tensorboard_log=str(run_dir / "tb"))
        log.info("resumed from %s at %d timesteps", checkpoint, model.num_timesteps)
    else:
        env = (
            VecNormalize(inner_env, norm_obs=False, norm_reward=True, gamma=config.hyperparameters.gamma)
            if config.env.normalize_reward
            else inner_env
        )
        model = build_model(config, env, run_dir / "tb")
        if config.algo in SLATE_POLICY_ALGOS and config.policy.warm_start is not None:
            warm_start(model, config, env_config)

    remaining = config.total_timesteps - model.num_timesteps
    constraint = config.scalarization.constraint
    floor = (constraint.objective, constraint.floor) if constraint is not None else None
    simulator = find_slate_env(model.get_env()).batch.simulator
    selection = (
        BestServedPolicy(run_dir, config.selection, env_config, simulator, floor, threads=config.torch_threads)
        if config.algo in SLATE_POLICY_ALGOS and config.selection.every is not None
        else None
    )
    callbacks = CallbackList(
        [
            ObjectiveLogger(env_config.reward_weights, hparams_of(config)),
            PeriodicCheckpoint(run_dir, config.checkpoint_every),
            *([LagrangeMultiplier(constraint.learning_rate)] if constraint is not None else []),
            *([selection] if selection is not None else []),
        ]
    )
    start = time.perf_counter()
    if remaining > 0:
        log.info(
            "training %s on %s for %d timesteps (%d users in parallel)",
            config.algo.upper(),
            config.env.id,
            remaining,
            config.env.num_envs,
        )
        model.learn(
            remaining,
            callback=callbacks,
            reset_num_timesteps=checkpoint is None,
            tb_log_name="tb",
            progress_bar=progress_bar,
        )
    train_seconds = time.perf_counter() - start
    save_checkpoint(model, run_dir)  # the last weights: what a resumed, longer run continues from
    selected = None
    if selection is not None:
        assert isinstance(model.policy, SlateScoringPolicy)
        selected = selection.restore_best(model.policy)
        log.info("serving the weights validated best, from %d of %d timesteps", selected, model.num_timesteps)
    buffer = io.BytesIO()
    model.save(buffer)
    atomic_write_bytes(run_dir / "model.zip", buffer.getvalue())

    scorer_path = (
        export_scorer(model, config, env_config, run_dir, selected) if config.algo in SLATE_POLICY_ALGOS else None
    )
    evaluation = None
    if evaluate and scorer_path is not None:
        comparison = evaluate_run(
            scorer_path,
            env_config,
            config.evaluation,
            run_dir,
            simulator,
            constraint=floor,
            selection=selection.summary() if selection is not None else None,
        )
        title = f"{config.algo.upper()} policy on {config.env.id} ({model.num_timesteps:,} timesteps)"
        write_report(comparison, run_dir / "report", title)
        evaluation = comparison.summary
    return RunResult(run_dir, model, scorer_path, evaluation, train_seconds)
