"""Which weights a run serves: the best validated checkpoint, not whatever the last update left.

PPO improves the *sampled* Plackett-Luce policy; what is served is its mode (the top-K queue),
and the two can drift apart: on the calibrated worlds the mode of the warm start often beats the
mode after 150k slates (docs/beating_greedy.md). So every `selection.every` timesteps the run
exports the serving module, rolls it out on a fixed set of validation users (common random
numbers, disjoint from the training and evaluation users), and keeps the policy weights that
scored best on the scalarized objective, among those that beat a baseline ranker on every
guardrail objective by `guardrail_se` standard errors of the paired per-session difference (at 1,500
users the listening-time difference has an SE of about 0.4 minutes on MusicQueue, as large as the
margins in question, so comparing means would pass a checkpoint no better than greedy half the
time). The end-of-run evaluation, on its own users, then measures the selected weights without the
selection's optimism.

Validation reads no training random stream, so a run trains identically with selection on or off.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from agents.baselines import make_baselines
from agents.config import SelectionSection
from agents.evaluation.rollout import SessionOutcomes, rollout
from agents.export import atomic_write_bytes, atomic_write_json, export_onnx
from agents.onnx_scorer import OnnxScorer
from agents.policies import SlateScoringPolicy
from envs.config import EnvConfig
from simulators import OBJECTIVE_NAMES, SessionSimulator

log = logging.getLogger("segue.selection")


class BestServedPolicy(BaseCallback):
    """Validates the served ranking during training and keeps the best weights (see the module docstring).

    State lives in `run_dir/selection/`: `history.json` (one entry per validation) and
    `best_policy.pt` (the policy's state dict), both written atomically, so a resumed run
    continues the same selection.

    Args:
        run_dir: the run folder.
        settings: the config's `selection` section.
        env_config: the env the policy is trained on.
        simulator: its world (the fitted one for KuaiRand).
        constraint: the training's floor (objective, share per track started), if it has one: a
            checkpoint below it on the validation users is passed over before any other rule.
        threads: onnxruntime threads for the validation rollouts.
    """

    def __init__(
        self,
        run_dir: Path,
        settings: SelectionSection,
        env_config: EnvConfig,
        simulator: SessionSimulator,
        constraint: tuple[str, float] | None = None,
        threads: int = 1,
    ) -> None:
        super().__init__()
        assert settings.every is not None, "selection.every = null means no selection callback"
        self.folder = Path(run_dir) / "selection"
        self.settings, self.env_config, self.simulator, self.threads = settings, env_config, simulator, threads
        self.constraint = constraint
        self.weights = np.asarray(env_config.weight_vector(), np.float64)
        self.guardrail_index = [OBJECTIVE_NAMES.index(name) for name in settings.guardrails]
        (baseline,) = make_baselines([settings.guardrail_baseline], simulator, self.weights.astype(np.float32))
        self.baseline_returns = self._rollout(baseline).returns
        self.baseline = {"name": settings.guardrail_baseline, **self._means(self.baseline_returns)}
        self.history: list[dict[str, Any]] = []
        if (self.folder / "history.json").is_file():
            self.history = json.loads((self.folder / "history.json").read_text())["validations"]

    def _on_training_start(self) -> None:
        if not self.history:  # a resumed run validates on the schedule of the run it continues
            self._validate()

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps - self.history[-1]["timesteps"] >= self.settings.every:
            self._validate()

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self.history[-1]["timesteps"] != self.model.num_timesteps:
            self._validate()
            self.logger.dump(self.model.num_timesteps)  # no rollout follows to write it

    def _rollout(self, ranker: Any) -> SessionOutcomes:
        s = self.settings
        return rollout(ranker, self.env_config, s.sessions, s.seed, self.simulator)

    def _means(self, returns: np.ndarray) -> dict[str, Any]:
        return {
            "scalarized": float((returns @ self.weights).mean()),
            "objectives": dict(zip(OBJECTIVE_NAMES, map(float, returns.mean(axis=0)), strict=True)),
        }

    def _validate(self) -> None:
        policy = self.model.policy
        assert isinstance(policy, SlateScoringPolicy)
        training, start = policy.training, time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            scorer = OnnxScorer(export_onnx(policy.serving_module(), Path(tmp) / "scorer.onnx"), self.threads)
            sessions = self._rollout(scorer)
        policy.set_training_mode(training)  # export_onnx switched the scorer to eval mode
        returns = sessions.returns
        difference = (returns - self.baseline_returns)[:, self.guardrail_index]
        mean, error = difference.mean(axis=0), difference.std(axis=0) / np.sqrt(len(difference))
        entry = {"timesteps": int(self.model.num_timesteps), **self._means(returns)}
        entry["guardrail_margins"] = {
            name: {"mean": float(m), "se": float(e)} for name, m, e in zip(self.settings.guardrails, mean, error)
        }
        entry["guardrail_shortfall"] = float(np.max(self.settings.guardrail_se * error - mean, initial=0.0))
        if self.constraint is not None:
            objective, floor = self.constraint
            share = returns[:, OBJECTIVE_NAMES.index(objective)].sum() / max(int(sessions.tracks.sum()), 1)
            entry["constraint_share"] = float(share)
            entry["constraint_shortfall"] = float(max(floor - share, 0.0))
        best = self._best()
        self.history.append(entry)
        if best is None or best_validation([best, entry]) is entry:
            buffer = io.BytesIO()
            torch.save({"timesteps": entry["timesteps"], "state_dict": policy.state_dict()}, buffer)
            atomic_write_bytes(self.folder / "best_policy.pt", buffer.getvalue())
        atomic_write_json(self.folder / "history.json", self.summary())
        for name, value in (("scalarized", entry["scalarized"]), *entry["objectives"].items()):
            self.logger.record(f"selection/{name}", value)
        self.logger.record("selection/guardrail_shortfall", entry["guardrail_shortfall"])
        log.info(
            "validation at %d timesteps (%.1f s): scalarized %.3f (%s %.3f), guardrail shortfall %.3f; best so far: %d",
            entry["timesteps"],
            time.perf_counter() - start,
            entry["scalarized"],
            self.baseline["name"],
            self.baseline["scalarized"],
            entry["guardrail_shortfall"],
            self._best()["timesteps"],
        )

    def _best(self) -> dict[str, Any] | None:
        return best_validation(self.history) if self.history else None

    def summary(self) -> dict[str, Any]:
        """The selection as saved in `history.json` and shown in the evaluation report."""
        s = self.settings
        best = self._best()
        return {
            "sessions": s.sessions,
            "seed": s.seed,
            "guardrails": list(s.guardrails),
            "guardrail_se": s.guardrail_se,
            "baseline": self.baseline,
            "selected_timesteps": None if best is None else best["timesteps"],
            "validations": self.history,
        }

    def restore_best(self, policy: SlateScoringPolicy) -> int:
        """Load the selected weights into `policy`; returns the timesteps they were saved at."""
        saved = torch.load(self.folder / "best_policy.pt", weights_only=True)
        best = self._best()
        if best is None or saved["timesteps"] != best["timesteps"]:
            raise RuntimeError(
                f"{self.folder} is inconsistent (best_policy.pt does not hold the best validation in history.json); "
                "delete the folder and resume to validate again"
            )
        policy.load_state_dict(saved["state_dict"])
        return int(saved["timesteps"])


def best_validation(validations: list[dict[str, Any]]) -> dict[str, Any]:
    """The entry to serve: the training's constraint first, then the guardrails (no shortfall beats any,
    a smaller one beats a larger), then the scalarized total; the earlier entry on a tie."""

    def rank(entry: dict[str, Any]) -> tuple[float, float, float]:
        return (-entry.get("constraint_shortfall", 0.0), -entry["guardrail_shortfall"], entry["scalarized"])

    return max(validations, key=rank)
