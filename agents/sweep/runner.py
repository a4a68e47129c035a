"""Run a sweep on Ray Tune, then trace the baseline front and write the sweep report.

Ray Tune does the scheduling: one trial per (weight vector, seed) from a grid search, each
reserving `cpus_per_trial` CPUs, so a local run fills the machine's cores and a cluster run
(`address`) fills the cluster. Failed trials are retried up to `max_failures` times (resuming
from their checkpoints); an interrupted sweep restarted with the same `--out` restores the
experiment and reruns only the trials that had not finished.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents.baselines import GreedyRanker, RandomRanker
from agents.config import load_train_config
from agents.evaluation.evaluator import evaluate_rankers
from agents.evaluation.stats import mean_ci
from agents.sweep.config import SweepConfig
from agents.sweep.report import SweepResult, TrialPoint, write_sweep_report
from agents.sweep.trial import STATISTICS, run_trial
from envs import build_simulator, env_config_for
from simulators import OBJECTIVE_NAMES

log = logging.getLogger("segue.sweep")


def run_trials(sweep: SweepConfig, out: Path, address: str | None = None) -> list[TrialPoint]:
    """Train and evaluate every trial on Ray Tune (restoring an interrupted sweep in `out`)."""
    import ray
    from ray import tune

    out = out.resolve()
    storage = out / "ray"
    experiment = storage / sweep.name
    if address is None:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    else:
        ray.init(address=address, ignore_reinit_error=True)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, sweep=sweep.model_dump(), out=str(out)), {"cpu": sweep.cpus_per_trial}
        )
        if tune.Tuner.can_restore(str(experiment)):
            log.info("restoring the interrupted sweep in %s (finished trials are kept)", experiment)
            tuner = tune.Tuner.restore(str(experiment), trainable, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"weights": tune.grid_search(sweep.weights), "seed": tune.grid_search(sweep.seeds)},
                run_config=tune.RunConfig(
                    name=sweep.name,
                    storage_path=str(storage),
                    failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
                    verbose=1,
                ),
            )
        results = tuner.fit()
    finally:
        ray.shutdown()
    failed = [str(r.error).splitlines()[0] for r in results if r.error is not None]
    if failed:
        raise RuntimeError(
            f"{len(failed)} trial(s) failed after {sweep.max_failures} retries: {failed}; rerun the same command "
            "to retry them (finished trials are kept)"
        )
    points = []
    for result in results:
        weights, seed = list(result.config["weights"]), int(result.config["seed"])
        objectives = {name: {s: float(result.metrics[f"{name}/{s}"]) for s in STATISTICS} for name in OBJECTIVE_NAMES}
        points.append(TrialPoint(sweep.trial_name(weights, seed), weights, seed, objectives,
                                 float(result.metrics["train_seconds"])))
    order = {tuple(map(float, w)): i for i, w in enumerate(sweep.weights)}
    return sorted(points, key=lambda p: (order[tuple(map(float, p.weights))], p.seed))


def baseline_points(sweep: SweepConfig) -> tuple[list[TrialPoint], dict[str, dict[str, float]]]:
    """The boosted-greedy front (one point per boost) and the random ranker, on the trials' users."""
    base = load_train_config(sweep.train_config, sweep.train_overrides)
    env_config = env_config_for(base.env.id, base.env.config, base.env.overrides)
    simulator = build_simulator(base.env.id, env_config)
    weights = np.asarray(env_config.weight_vector(), dtype=np.float32)
    rankers: list[Any] = [RandomRanker(sweep.evaluation_seed)]
    for boost in sweep.boost_weights:
        ranker = GreedyRanker(simulator, weights, promoted_boost=boost)
        ranker.name = f"boosted_greedy_{boost:g}"
        rankers.append(ranker)
    outcomes = evaluate_rankers(rankers, env_config, sweep.evaluation_sessions, sweep.evaluation_seed, simulator)

    def summary(name: str) -> dict[str, dict[str, float]]:
        returns = outcomes[name].returns
        return {n: mean_ci(returns[:, i], sweep.evaluation_seed) for i, n in enumerate(OBJECTIVE_NAMES)}

    greedy = [TrialPoint(f"boosted_greedy_{b:g}", [b], 0, summary(f"boosted_greedy_{b:g}"), 0.0)
              for b in sweep.boost_weights]
    return greedy, summary("random")


def run_sweep(sweep: SweepConfig, out: Path, address: str | None = None) -> SweepResult:
    """The whole sweep: trials on Ray, the baseline front, and the report in `out`."""
    start = time.perf_counter()
    trials = run_trials(sweep, out, address)
    trial_seconds = time.perf_counter() - start
    greedy, random_point = baseline_points(sweep)
    result = SweepResult(sweep, trials, greedy, random_point, trial_seconds, time.perf_counter() - start)
    write_sweep_report(result, out)
    return result
