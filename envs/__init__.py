"""Segue's Gymnasium face: registered environments and the batched VecEnv factory.

Importing this package registers ``segue/MusicQueue-v0`` and ``segue/MusicShelf-v0``; without
the import, ``gymnasium.make("envs:segue/MusicQueue-v0")`` imports it for you.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envs.config import DEFAULT_WEIGHTS, EnvConfig, resolve_env_config
from envs.core import SessionBatch
from envs.music import MusicQueueEnv, MusicShelfEnv, SegueSessionEnv
from envs.vec_env import SlateVecEnv
from envs.vector_env import SlateVectorEnv
from envs.wrappers import LinearScalarization, weight_array

#: Registered id -> (entry point, default config file under configs/).
ENV_IDS: dict[str, tuple[str, str]] = {
    "segue/MusicQueue-v0": ("envs.music:MusicQueueEnv", "music_queue.yaml"),
    "segue/MusicShelf-v0": ("envs.music:MusicShelfEnv", "music_shelf.yaml"),
}

for _env_id, (_entry_point, _) in ENV_IDS.items():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point=_entry_point, disable_env_checker=True)  # vector reward


def env_config_for(env_id: str, config: Any = None, overrides: dict[str, Any] | None = None) -> EnvConfig:
    """The validated EnvConfig that `env_id` would use with these arguments."""
    if env_id not in ENV_IDS:
        raise ValueError(f"unknown Segue env id {env_id!r}; known: {sorted(ENV_IDS)}")
    return resolve_env_config(config, ENV_IDS[env_id][1], overrides)


def make_vec_env(
    env_id: str,
    num_envs: int,
    seed: int | None = None,
    *,
    config: Any = None,
    overrides: dict[str, Any] | None = None,
    weights: Any = None,
    **dotted: Any,
) -> SlateVecEnv:
    """Build the native batched SB3 VecEnv for a registered Segue env.

    Args:
        env_id: e.g. ``"segue/MusicQueue-v0"``.
        num_envs: concurrent sessions B (all stepped in one simulator call).
        seed: env i is seeded with seed + i.
        config: YAML path, mapping or EnvConfig (default: the env's file in `configs/`).
        overrides: dotted-key overrides, e.g. ``{"simulator.slate_size": 5}``.
        weights: scalarization weights (name map or sequence); default from the config.
        **dotted: more overrides with ``__`` for dots, e.g. ``simulator__slate_size=5``.
    """
    merged = dict(overrides or {})
    merged.update({key.replace("__", "."): value for key, value in dotted.items()})
    return SlateVecEnv(env_config_for(env_id, config, merged), num_envs, seed=seed, weights=weights)


__all__ = [
    "DEFAULT_WEIGHTS",
    "ENV_IDS",
    "EnvConfig",
    "LinearScalarization",
    "MusicQueueEnv",
    "MusicShelfEnv",
    "SegueSessionEnv",
    "SessionBatch",
    "SlateVecEnv",
    "SlateVectorEnv",
    "env_config_for",
    "make_vec_env",
    "weight_array",
]
