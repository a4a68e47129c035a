"""The one evaluation code path: a policy and baseline rankers on the same simulated users.

`train_agent.py` calls `evaluate_run` for its end-of-run summary (`evaluation.json`, and the
report of `agents.evaluation.report` in the run's `report/`);
`scripts/evaluate_policy.py` calls `compare` (which `evaluate_run` also uses) and renders the
full report from its result. Both therefore see identical numbers for identical settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.baselines import Ranker, StateAwareRanker, make_baselines
from agents.config import EvaluationSection
from agents.evaluation.rollout import SessionOutcomes, rollout
from agents.evaluation.stats import constraint_summary, format_table, pareto_front, summarize
from agents.export import atomic_write_json
from agents.onnx_scorer import OnnxScorer
from envs.config import EnvConfig
from simulators import OBJECTIVE_NAMES, SessionSimulator

log = logging.getLogger("segue.evaluate")

SCHEMA = "segue-evaluation/1"
REFERENCE = "policy"


@dataclass(frozen=True)
class Comparison:
    """Per-session outcomes of every ranker and their summary (the `evaluation.json` payload)."""

    outcomes: dict[str, SessionOutcomes]
    summary: dict[str, Any]


def evaluate_rankers(
    rankers: list[Ranker | StateAwareRanker],
    env_config: EnvConfig,
    sessions: int,
    seed: int,
    simulator: SessionSimulator | None = None,
) -> dict[str, SessionOutcomes]:
    """Roll every ranker out on the same `sessions` users (common random numbers)."""
    simulator = simulator or SessionSimulator(env_config.simulator)
    names = [ranker.name for ranker in rankers]
    if len(set(names)) != len(names):
        raise ValueError(f"ranker names must be unique, got {names}")
    return {ranker.name: rollout(ranker, env_config, sessions, seed, simulator) for ranker in rankers}


def simulator_version(env_config: EnvConfig) -> dict[str, str]:
    """What identifies the simulated world: package version and the simulator config's sha256."""
    digest = hashlib.sha256(json.dumps(env_config.simulator.model_dump(), sort_keys=True).encode()).hexdigest()
    return {"segue": "0.1.0", "simulator_config_sha256": digest}


def compare(
    policy: Ranker,
    env_config: EnvConfig,
    baselines: list[str] | tuple[str, ...],
    sessions: int,
    seed: int,
    simulator: SessionSimulator | None = None,
    constraint: tuple[str, float] | None = None,
) -> Comparison:
    """Evaluate `policy` (renamed "policy") and the named baselines on common random numbers.

    `simulator` is the world to evaluate in (e.g. the fitted KuaiRand world, see
    `envs.build_simulator`); by default the synthetic one that `env_config` describes.
    `constraint` (objective, floor per track) adds the ``constraint`` section: each ranker's
    share with its CI and whether the policy meets the floor.
    """
    start = time.perf_counter()
    policy.name = REFERENCE
    weights = np.asarray(env_config.weight_vector(), dtype=np.float32)
    simulator = simulator or SessionSimulator(env_config.simulator)
    rankers = [policy, *make_baselines(list(baselines), simulator, weights, seed=seed)]
    outcomes = evaluate_rankers(rankers, env_config, sessions, seed, simulator)
    labels = {r.name: getattr(r, "label", r.name) for r in rankers}
    summary: dict[str, Any] = {"schema": SCHEMA}
    summary.update(summarize(outcomes, weights, reference=REFERENCE, seed=seed, labels=labels))
    deployable = {r.name for r in rankers if not isinstance(r, StateAwareRanker)}
    summary["pareto_front_deployable"] = pareto_front(
        {
            n: (p["satisfaction"]["mean"], p["business"]["mean"])
            for n, p in summary["policies"].items()
            if n in deployable
        }
    )
    if constraint is not None:
        summary["constraint"] = constraint_summary(outcomes, *constraint, reference=REFERENCE, seed=seed)
    summary["settings"] = {
        "sessions": sessions,
        "seed": seed,
        "reference": REFERENCE,
        "baselines": list(baselines),
        "objectives": list(OBJECTIVE_NAMES),
        "weights": dict(zip(OBJECTIVE_NAMES, map(float, weights), strict=False)),
        "surface": env_config.simulator.surface,
        "slate_size": env_config.simulator.slate_size,
        "max_steps": env_config.simulator.max_steps,
        "simulator_version": simulator_version(env_config),
        "seconds": round(time.perf_counter() - start, 2),
    }
    return Comparison(outcomes, summary)


def evaluate_run(
    scorer_path: Path,
    env_config: EnvConfig,
    settings: EvaluationSection,
    run_dir: Path,
    simulator: SessionSimulator | None = None,
    constraint: tuple[str, float] | None = None,
    selection: dict[str, Any] | None = None,
) -> Comparison:
    """Compare the exported scorer with baselines; write `evaluation.json`; log a table.

    `selection` (`agents.selection.BestServedPolicy.summary`) records which checkpoint the scorer is.
    """
    scorer = OnnxScorer(scorer_path, threads=2)
    comparison = compare(
        scorer, env_config, settings.baselines, settings.sessions, settings.seed, simulator, constraint=constraint
    )
    if selection is not None:
        comparison.summary["selection"] = selection
    atomic_write_json(run_dir / "evaluation.json", comparison.summary)
    log.info(
        "evaluation on %d sessions (same users for every ranker):\n%s",
        settings.sessions,
        format_table(comparison.summary, REFERENCE),
    )
    if constraint is not None:
        c = comparison.summary["constraint"]
        share = c["shares"][REFERENCE]
        log.info(
            "constraint %s per track >= %.3f: policy %.3f (95%% CI %.3f .. %.3f): %s",
            c["objective"], c["floor"], share["mean"], share["low"], share["high"], c["verdict"],
        )
    return comparison
