"""Segue's Gymnasium face: registered environments and the batched VecEnv factory.

Importing this package registers ``segue/MusicQueue-v0``, ``segue/MusicShelf-v0`` and
``segue/KuaiRandFeed-v0``; without the import, ``gymnasium.make("envs:segue/MusicQueue-v0")``
imports it for you.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envs.config import CONFIG_DIR, DEFAULT_WEIGHTS, EnvConfig, resolve_env_config
from envs.core import SessionBatch
from envs.kuairand import KuaiRandFeedEnv, build_kuairand_simulator
from envs.music import MusicQueueEnv, MusicShelfEnv, SegueSessionEnv
from envs.scalarization import Chebyshev, Constrained, Linear
from envs.vec_env import SlateVecEnv
from envs.vector_env import SlateVectorEnv
from envs.wrappers import ChebyshevScalarization, LinearScalarization
from simulators import SessionSimulator

#: Registered id -> (entry point, default config file under configs/).
ENV_IDS: dict[str, tuple[str, str]] = {
    "segue/MusicQueue-v0": ("envs.music:MusicQueueEnv", "music_queue.yaml"),
    "segue/MusicShelf-v0": ("envs.music:MusicShelfEnv", "music_shelf.yaml"),
    "segue/KuaiRandFeed-v0": ("envs.kuairand:KuaiRandFeedEnv", "kuairand_feed.yaml"),
}

#: Envs whose simulator is not built from the config alone (fitted worlds): id -> builder.
SIMULATOR_BUILDERS: dict[str, Any] = {"segue/KuaiRandFeed-v0": build_kuairand_simulator}

#: The shipped fidelity report and the section of it that covers each calibrated env.
FIDELITY_REPORT = CONFIG_DIR / "calibrated" / "fidelity_v2.json"
FIDELITY_SECTIONS: dict[str, str] = {"segue/MusicQueue-v0": "music_queue", "segue/KuaiRandFeed-v0": "kuairand"}

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
    scalarization: Any = None,
    **dotted: Any,
) -> SlateVecEnv:
    """Build the native batched SB3 VecEnv for a registered Segue env.

    Args:
        env_id: e.g. ``"segue/MusicQueue-v0"``.
        num_envs: concurrent sessions B (all stepped in one simulator call).
        seed: env i is seeded with seed + i.
        config: YAML path, mapping or EnvConfig (default: the env's file in `configs/`).
        overrides: dotted-key overrides, e.g. ``{"simulator.slate_size": 5}``.
        weights: linear scalarization weights (name map or sequence); default from the config.
        scalarization: an `envs.scalarization` object for B = num_envs instead (Chebyshev,
            Lagrangian constraint).
        **dotted: more overrides with ``__`` for dots, e.g. ``simulator__slate_size=5``.
    """
    merged = dict(overrides or {})
    merged.update({key.replace("__", "."): value for key, value in dotted.items()})
    env_config = env_config_for(env_id, config, merged)
    simulator = build_simulator(env_id, env_config)
    return SlateVecEnv(env_config, num_envs, seed, weights=weights, simulator=simulator, scalarization=scalarization)


def build_simulator(env_id: str, env_config: EnvConfig) -> SessionSimulator:
    """The simulator `env_id` runs on: a fitted world where the env has one, else the config's."""
    builder = SIMULATOR_BUILDERS.get(env_id)
    return builder(env_config.simulator) if builder is not None else SessionSimulator(env_config.simulator)


def fidelity_check(env_id: str, config: Any = None, overrides: dict[str, Any] | None = None) -> list[Any]:
    """The fidelity gates (`simulators.fidelity.GateResult`) of the simulator `env_id` would use.

    An env without a shipped report gets a single failed "report" gate: it is uncalibrated.
    """
    from simulators.fidelity import GateResult, check_report_section

    if env_id not in FIDELITY_SECTIONS:
        return [
            GateResult(
                "report",
                False,
                f"no fidelity report covers {env_id}: its simulator is not calibrated",
                "calibrate it with scripts/calibrate_simulator.py, or train anyway with --allow-unfit-simulator",
            )
        ]
    simulator = env_config_for(env_id, config, overrides).simulator.model_dump()
    return [
        *check_report_section(FIDELITY_REPORT, FIDELITY_SECTIONS[env_id], simulator),
        _unchanged_world(env_id, simulator),
    ]


def _unchanged_world(env_id: str, simulator: dict[str, Any]) -> Any:
    """Gate "world": the simulator equals the shipped, calibrated one apart from reward constants.

    The fit only stores the parameters it moved, but every other value (affinity scale, slate
    size, catalog, dynamics) shaped the statistics it matched, so changing any of them voids
    the report too. `objectives` only prices outcomes and may change freely.
    """
    from simulators.config import flatten
    from simulators.fidelity import GateResult

    shipped = flatten(env_config_for(env_id).simulator.model_dump())
    changed = sorted(
        key
        for key, value in flatten(simulator).items()
        if not key.startswith("objectives.") and shipped.get(key) != value
    )
    return GateResult(
        "world",
        not changed,
        "the simulator is the calibrated one" if not changed else f"changed from the calibrated world: {changed}",
        "drop these overrides (reward weights and objectives.* may change), refit with "
        "scripts/calibrate_simulator.py, or train anyway with --allow-unfit-simulator",
    )


__all__ = [
    "DEFAULT_WEIGHTS",
    "ENV_IDS",
    "EnvConfig",
    "FIDELITY_REPORT",
    "KuaiRandFeedEnv",
    "Chebyshev",
    "ChebyshevScalarization",
    "Constrained",
    "Linear",
    "LinearScalarization",
    "build_simulator",
    "MusicQueueEnv",
    "MusicShelfEnv",
    "SegueSessionEnv",
    "SessionBatch",
    "SlateVecEnv",
    "SlateVectorEnv",
    "env_config_for",
    "fidelity_check",
    "make_vec_env",
]
