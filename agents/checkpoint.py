"""Checkpoints that survive SIGKILL: everything needed to continue a run exactly.

A checkpoint folder holds the SB3 model (weights, optimizer state, last observation, timestep
counters), the reward-normalization statistics, the simulated users in mid-session with their
random streams, and the RNG states of torch, numpy and Python. It is written to a temporary
folder and renamed into place, then `checkpoints/latest.json` is atomically repointed, so a
kill at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from agents.export import atomic_write_json
from envs.vec_env import SlateVecEnv

KEEP = 2


def checkpoint_root(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def find_slate_env(env: VecEnv) -> SlateVecEnv:
    """The SlateVecEnv under any stack of VecEnv wrappers."""
    while isinstance(env, VecEnvWrapper):
        env = env.venv
    if not isinstance(env, SlateVecEnv):
        raise TypeError(f"expected a SlateVecEnv at the bottom of the wrapper stack, got {type(env).__name__}")
    return env


def find_vec_normalize(env: VecEnv) -> VecNormalize | None:
    while isinstance(env, VecEnvWrapper):
        if isinstance(env, VecNormalize):
            return env
        env = env.venv
    return None


def _env_arrays(env: SlateVecEnv) -> dict[str, np.ndarray]:
    batch = env.batch
    arrays = {f"users.{f.name}": getattr(batch.state.users, f.name) for f in fields(batch.state.users)}
    arrays.update(
        {
            "candidate_ids": batch.state.candidate_ids,
            "candidate_mask": batch.state.candidate_mask,
            "stream_keys": batch.streams.keys,
            "stream_counters": batch.streams.counters,
            "episode_return": batch.episode_return,
            "episode_length": batch.episode_length,
            "episode_tracks": batch.episode_tracks,
            "scalar_return": env.scalar_return,
        }
    )
    arrays.update({f"scalarization.{key}": value for key, value in env.scalarization.state().items()})
    return arrays


def _restore_env_arrays(env: SlateVecEnv, arrays: dict[str, np.ndarray]) -> None:
    batch = env.batch
    expected = batch.num_users
    if arrays["candidate_ids"].shape[0] != expected:
        raise ValueError(
            f"checkpoint holds {arrays['candidate_ids'].shape[0]} users but the env has {expected}; "
            "resume with the run's own config.yaml"
        )
    for f in fields(batch.state.users):
        getattr(batch.state.users, f.name)[...] = arrays[f"users.{f.name}"]
    batch.state.candidate_ids[...] = arrays["candidate_ids"]
    batch.state.candidate_mask[...] = arrays["candidate_mask"]
    batch.streams.keys[...] = arrays["stream_keys"]
    batch.streams.counters[...] = arrays["stream_counters"]
    batch.episode_return[...] = arrays["episode_return"]
    batch.episode_length[...] = arrays["episode_length"]
    batch.episode_tracks[...] = arrays["episode_tracks"]
    env.scalar_return[...] = arrays["scalar_return"]
    prefix = "scalarization."
    env.scalarization.load_state({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})


def save_checkpoint(model: BaseAlgorithm, run_dir: Path) -> Path:
    """Write a complete checkpoint of `model` and its env; returns the checkpoint folder."""
    root = checkpoint_root(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{model.num_timesteps:012d}"
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
    try:
        model.save(staging / "model.zip")
        env = model.get_env()
        assert env is not None
        normalizer = find_vec_normalize(env)
        if normalizer is not None:
            normalizer.save(str(staging / "vecnormalize.pkl"))
            # VecNormalize drops its running discounted returns when pickled; keep them.
            np.save(staging / "vecnormalize_returns.npy", normalizer.returns)
        if isinstance(model, OffPolicyAlgorithm):
            model.save_replay_buffer(staging / "replay_buffer.pkl")
        np.savez(staging / "env_state.npz", **_env_arrays(find_slate_env(env)))
        torch.save(
            {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
            staging / "rng.pt",
        )
        atomic_write_json(staging / "meta.json", {"num_timesteps": model.num_timesteps, "saved_at": time.time()})
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    atomic_write_json(root / "latest.json", {"checkpoint": name, "num_timesteps": model.num_timesteps})
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint `latest.json` points to, or None if the run has none yet."""
    pointer = checkpoint_root(run_dir) / "latest.json"
    if not pointer.is_file():
        return None
    folder = checkpoint_root(run_dir) / json.loads(pointer.read_text())["checkpoint"]
    return folder if (folder / "meta.json").is_file() else None


def restore_checkpoint(
    folder: Path, algo_class: type[BaseAlgorithm], inner_env: VecEnv, **load_kwargs: Any
) -> BaseAlgorithm:
    """Load model, normalization statistics, env state and RNG states from `folder`.

    Args:
        folder: a checkpoint folder written by `save_checkpoint`.
        algo_class: the SB3 algorithm class (PPO, A2C, ...).
        inner_env: a freshly built env stack of the run's config *without* VecNormalize; the
            saved normalizer (if the run used one) is loaded around it.
    """
    normalizer_file = folder / "vecnormalize.pkl"
    env: VecEnv = inner_env
    if normalizer_file.is_file():
        env = VecNormalize.load(str(normalizer_file), inner_env)
        env.returns = np.load(folder / "vecnormalize_returns.npy")
    # force_reset=False keeps the saved last observation, so learn() continues the sessions in
    # flight instead of resetting the env (which would break exact continuation).
    model = algo_class.load(folder / "model.zip", env=env, force_reset=False, **load_kwargs)
    if isinstance(model, OffPolicyAlgorithm) and (folder / "replay_buffer.pkl").is_file():
        model.load_replay_buffer(folder / "replay_buffer.pkl")
    with np.load(folder / "env_state.npz") as data:
        _restore_env_arrays(find_slate_env(env), dict(data))
    rng = torch.load(folder / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
    return model
