"""The one evaluation code path: a policy and baseline rankers on the same simulated users.

`train_agent.py` calls `evaluate_run` for its end-of-run summary; `evaluate_policy.py` builds
its full report on `evaluate_rankers`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents.baselines import Ranker, make_baselines
from agents.config import EvaluationSection
from agents.evaluation.rollout import SessionOutcomes, rollout
from agents.evaluation.stats import format_table, summarize
from agents.export import atomic_write_json
from agents.onnx_scorer import OnnxScorer
from envs.config import EnvConfig
from simulators import OBJECTIVE_NAMES, SessionSimulator

log = logging.getLogger("segue.evaluate")


def evaluate_rankers(
    rankers: list[Ranker], env_config: EnvConfig, sessions: int, seed: int
) -> dict[str, SessionOutcomes]:
    """Roll every ranker out on the same `sessions` users (common random numbers)."""
    simulator = SessionSimulator(env_config.simulator)
    names = [ranker.name for ranker in rankers]
    if len(set(names)) != len(names):
        raise ValueError(f"ranker names must be unique, got {names}")
    return {ranker.name: rollout(ranker, env_config, sessions, seed, simulator) for ranker in rankers}


def evaluate_run(
    scorer_path: Path, env_config: EnvConfig, settings: EvaluationSection, run_dir: Path
) -> dict[str, Any]:
    """Compare the exported scorer with baselines; write `evaluation.json`; log a table."""
    start = time.perf_counter()
    policy = OnnxScorer(scorer_path)
    policy.name = "policy"
    weights = np.asarray(env_config.weight_vector(), dtype=np.float32)
    simulator = SessionSimulator(env_config.simulator)
    rankers: list[Ranker] = [policy, *make_baselines(settings.baselines, simulator, weights, seed=settings.seed)]
    outcomes = evaluate_rankers(rankers, env_config, settings.sessions, settings.seed)
    summary = summarize(outcomes, weights, reference="policy", seed=settings.seed)
    summary["settings"] = {
        "sessions": settings.sessions,
        "seed": settings.seed,
        "objectives": list(OBJECTIVE_NAMES),
        "weights": env_config.reward_weights,
        "seconds": round(time.perf_counter() - start, 2),
    }
    atomic_write_json(run_dir / "evaluation.json", summary)
    log.info("evaluation on %d sessions (same users for every ranker):\n%s", settings.sessions,
             format_table(summary, "policy"))
    return summary
