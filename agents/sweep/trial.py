"""One sweep trial: train a policy for one weight vector and seed, evaluate it, report to Ray Tune.

A trial is an ordinary training run (`agents.train.train`) in ``<out>/trials/<trial name>/``,
so it has its own TensorBoard run, checkpoints and `evaluation.json`. A retried trial (after a
crash) resumes from its last checkpoint instead of starting over, and a finished trial leaves
`trial.json` (its reported metrics): if Ray restarts it because the sweep was killed before Ray
recorded it as finished, the trial reports that file again instead of training.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from agents.checkpoint import latest_checkpoint
from agents.config import TrainConfig, load_train_config
from agents.export import atomic_write_json
from agents.sweep.config import SweepConfig
from agents.train import train
from simulators import OBJECTIVE_NAMES

#: Evaluation metrics of a trial, per objective: f"{objective}/{mean|low|high}".
STATISTICS = ("mean", "low", "high")


def trial_config(sweep: SweepConfig, weights: list[float], seed: int, run_dir: Path) -> TrainConfig:
    """The TrainConfig of one trial: the base config with this trial's weights, seed and folder."""
    base = load_train_config(sweep.train_config, sweep.train_overrides)
    reward_weights = dict.fromkeys(OBJECTIVE_NAMES, 0.0)
    reward_weights.update(zip(sweep.objectives, map(float, weights), strict=True))
    tree = base.model_dump()
    tree["seed"] = seed
    tree["run_dir"] = str(run_dir)
    tree["torch_threads"] = max(1, int(sweep.cpus_per_trial))
    weight_overrides = {f"reward_weights.{k}": v for k, v in reward_weights.items()}
    tree["env"]["overrides"] = {**tree["env"]["overrides"], **weight_overrides}
    tree["scalarization"]["scales"] = sweep.scales
    tree["evaluation"] = {"sessions": sweep.evaluation_sessions, "seed": sweep.evaluation_seed, "baselines": []}
    return TrainConfig.model_validate(tree)


def trial_metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    """Flat per-objective evaluation metrics of the trained policy."""
    row = evaluation["policies"]["policy"]
    return {f"{name}/{stat}": float(row[name][stat]) for name in OBJECTIVE_NAMES for stat in STATISTICS}


def write_final_hparams(
    run_dir: Path, config: TrainConfig, weights: dict[str, float], metrics: dict[str, float]
) -> None:
    """TensorBoard hparams of the trial with its *final evaluated* per-objective values."""
    from torch.utils.tensorboard import SummaryWriter

    hparams: dict[str, Any] = {f"weight/{k}": v for k, v in weights.items()}
    hparams.update(seed=config.seed, algo=config.algo, total_timesteps=config.total_timesteps)
    final = {f"final/{name}": metrics[f"{name}/mean"] for name in OBJECTIVE_NAMES}
    with SummaryWriter(str(run_dir / "tb" / "final")) as writer:
        writer.add_hparams(hparams, final, run_name=".")


def run_trial(params: dict[str, Any], sweep: dict[str, Any], out: str) -> None:
    """Ray Tune function trainable: `params` holds "weights" and "seed" from the grid."""
    from ray import tune

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = SweepConfig.model_validate(sweep)
    weights, seed = list(params["weights"]), int(params["seed"])
    run_dir = Path(out) / "trials" / config.trial_name(weights, seed)
    finished = run_dir / "trial.json"
    if finished.is_file():
        tune.report(json.loads(finished.read_text()))
        return
    train_config = trial_config(config, weights, seed, run_dir)
    result = train(train_config, resume=latest_checkpoint(run_dir) is not None, progress_bar=False)
    assert result.evaluation is not None, "sweep trials train slate policies (ppo or a2c), which are evaluated"
    metrics = trial_metrics(result.evaluation)
    write_final_hparams(run_dir, train_config, dict(zip(config.objectives, weights, strict=True)), metrics)
    metrics["train_seconds"] = result.train_seconds
    atomic_write_json(finished, metrics)
    tune.report(metrics)
