"""Training callbacks: per-objective TensorBoard curves and periodic checkpoints."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HParam

from agents.checkpoint import save_checkpoint
from simulators import OBJECTIVE_NAMES


class ObjectiveLogger(BaseCallback):
    """Logs, per rollout, the mean episode return of every objective and session statistics.

    TensorBoard tags: ``objectives/<name>`` (mean per-session return), ``objectives/scalarized``,
    ``sessions/length`` (slates), ``sessions/tracks``, ``sessions/skip_rate`` (early skips per
    track), ``sessions/completed`` (sessions finished in the rollout), ``policy/entropy``
    (slate entropy estimate on a sample of the rollout), and the objective weights plus the main
    hyperparameters as TensorBoard hparams.

    Args:
        weights: scalarization weights by objective name.
        hparams: hyperparameters to show next to the weights.
    """

    def __init__(self, weights: dict[str, float], hparams: dict[str, Any]) -> None:
        super().__init__()
        self.weights = weights
        self.hparams = hparams
        self._episodes: dict[str, list[float]] = defaultdict(list)

    def _on_training_start(self) -> None:
        hparams = {f"weight/{name}": float(self.weights.get(name, 0.0)) for name in OBJECTIVE_NAMES}
        hparams.update(self.hparams)
        metrics = {f"objectives/{name}": 0.0 for name in OBJECTIVE_NAMES}
        self.logger.record("hparams", HParam(hparams, metrics), exclude=("stdout", "log", "json", "csv"))

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            episode = info.get("episode_objectives")
            if episode is None:
                continue
            for name, value in episode.items():
                self._episodes[name].append(value)
            self._episodes["scalarized"].append(info["episode"]["r"])
            self._episodes["length"].append(info["episode"]["l"])
            tracks = info.get("episode_tracks", 0)
            self._episodes["tracks"].append(tracks)
            self._episodes["skip_rate"].append(-episode["skips"] / tracks if tracks else 0.0)
        return True

    def _on_rollout_end(self) -> None:
        if self._episodes:
            for name in (*OBJECTIVE_NAMES, "scalarized"):
                self.logger.record(f"objectives/{name}", float(np.mean(self._episodes[name])))
            self.logger.record("sessions/length", float(np.mean(self._episodes["length"])))
            self.logger.record("sessions/tracks", float(np.mean(self._episodes["tracks"])))
            self.logger.record("sessions/skip_rate", float(np.mean(self._episodes["skip_rate"])))
            self.logger.record("sessions/completed", len(self._episodes["length"]))
            self._episodes.clear()
        entropy = self._policy_entropy()
        if entropy is not None:
            self.logger.record("policy/entropy", entropy)

    def _policy_entropy(self) -> float | None:
        buffer = self.locals.get("rollout_buffer")
        if buffer is None or not hasattr(self.model.policy, "get_distribution"):
            return None
        observations = buffer.observations
        sample = (
            {key: value[-1][:256] for key, value in observations.items()} if isinstance(observations, dict) else None
        )
        if sample is None:
            return None
        with torch.no_grad():
            obs_tensor, _ = self.model.policy.obs_to_tensor(sample)
            entropy = self.model.policy.get_distribution(obs_tensor).entropy()
        return None if entropy is None else float(entropy.mean())


class PeriodicCheckpoint(BaseCallback):
    """Checkpoints the whole training state every `every` timesteps, at rollout boundaries.

    Saving at the *start* of a rollout means the previous update is complete and nothing of the
    coming rollout exists yet, so a resumed run continues exactly where this one stood.

    Args:
        run_dir: the run folder (checkpoints go to `run_dir/checkpoints/`).
        every: interval in timesteps.
    """

    def __init__(self, run_dir: Path, every: int) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.every = every
        self._last = 0

    def _on_training_start(self) -> None:
        self._last = self.model.num_timesteps

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps - self._last >= self.every:
            save_checkpoint(self.model, self.run_dir)
            self._last = self.model.num_timesteps

    def _on_step(self) -> bool:
        return True
