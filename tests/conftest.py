"""Shared fixtures: small, fast configs of both surfaces."""

from __future__ import annotations

import pytest

from simulators import SessionSimulator, SimulatorConfig, load_simulator_config


def small_config(surface: str = "queue", **overrides: object) -> SimulatorConfig:
    base = {
        "surface": surface,
        "catalog.num_items": 600,
        "catalog.num_artists": 120,
        "candidates.num_candidates": 20 if surface == "queue" else 8,
        "slate_size": 5 if surface == "queue" else 2,
        "max_steps": 8,
    }
    base.update(overrides)
    return load_simulator_config(overrides=base)


@pytest.fixture(params=["queue", "shelf"])
def surface(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def simulator(surface: str) -> SessionSimulator:
    return SessionSimulator(small_config(surface))
