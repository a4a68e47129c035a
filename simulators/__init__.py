"""Segue's world: a batched, numpy-only listening-session simulator.

Import cost and dependencies stay small on purpose (numpy, pydantic, pyyaml): calibration jobs
and serving-side tools use this package without gymnasium or torch.
"""

from simulators.config import ConfigError, SimulatorConfig, load_simulator_config
from simulators.items import CandidateGenerator, Catalog, catalog_from_tracks, make_catalog
from simulators.objectives import NUM_OBJECTIVES, OBJECTIVE_NAMES, objective_bounds
from simulators.observation import ObservationBuilder, item_feature_names, predicted_columns, user_feature_names
from simulators.random import UserStreams
from simulators.session import SessionSimulator, SessionState, StepResult
from simulators.users import UserState

__all__ = [
    "Catalog",
    "CandidateGenerator",
    "ConfigError",
    "NUM_OBJECTIVES",
    "OBJECTIVE_NAMES",
    "ObservationBuilder",
    "SessionSimulator",
    "SessionState",
    "SimulatorConfig",
    "StepResult",
    "UserState",
    "UserStreams",
    "item_feature_names",
    "load_simulator_config",
    "catalog_from_tracks",
    "make_catalog",
    "objective_bounds",
    "predicted_columns",
    "user_feature_names",
]
