"""segue/KuaiRandFeed-v0: a short-video feed with real KuaiRand users and videos.

The world comes from the likelihood fit on KuaiRand-1K's random-exposure log (see
`simulators.calibration`): videos keep their real durations and fitted latent factors, users
are drawn from the fitted user table, and the watch outcome (early skip / partial / complete)
follows the fitted, calibrated ordered logit. Derived from KuaiRand-1K (Gao et al., CIKM 2022),
CC BY-SA 4.0; the attribution is also stored inside the parameter file.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from envs.config import CONFIG_DIR, EnvConfig
from envs.music import SegueSessionEnv
from simulators import SessionSimulator
from simulators.config import SimulatorConfig
from simulators.users import UserPopulation

DEFAULT_MODEL = CONFIG_DIR / "calibrated" / "kuairand_feed_v1.npz"


@functools.lru_cache(maxsize=4)
def _world(path: str):  # noqa: ANN202 (FittedWorld; built once per process and file)
    from simulators.calibration.likelihood import ResponseModel
    from simulators.calibration.world import world_from_model

    return world_from_model(ResponseModel.load(path))


def build_kuairand_simulator(config: SimulatorConfig, model_path: str | Path = DEFAULT_MODEL) -> SessionSimulator:
    """A queue simulator over the fitted KuaiRand videos, drawing users from the fitted table."""
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"KuaiRand parameters not found: {path}; run `scripts/calibrate_simulator.py fit --install` to create them"
        )
    world = _world(str(path.resolve()))
    simulator = SessionSimulator(config, catalog=world.catalog)
    simulator.population = UserPopulation(world.catalog, config.users, table=world.users)
    return simulator


class KuaiRandFeedEnv(SegueSessionEnv):
    """## Description

    A user scrolling a short-video feed built from KuaiRand-1K. At every step the ranker sees
    the user and N candidate videos (drawn uniformly from ~4,800 real videos) and returns K
    videos in order; the simulated user watches them in order, each ending as an **early
    skip** (< 20 % watched), **partial** view or **completion**, and may leave after any video.

    ## Action Space

    `MultiDiscrete([N] * K)` (default N=100, K=5), same rules as `MusicQueueEnv`.

    ## Observation Space

    `Dict(user, items, mask)` as in `MusicQueueEnv`; the embedding is the fitted latent
    factor vector padded to unit norm (dim = factors + 3), durations are real.

    ## Rewards

    The six-objective vector of `MusicQueueEnv`. KuaiRand has no business tags or tiers, so
    promoted_streams stays 0 and revenue counts free-tier streams.

    ## Starting State

    A user drawn uniformly from the fitted training users (taste and skip propensity fitted,
    patience from the config), with no session memory.

    ## Episode End

    Terminated when the user leaves (leave hazard: the simulator's default, *not* calibrated:
    the random-exposure log has no session ends) or after `max_steps` slates, which, as in
    `MusicQueueEnv`, is reported as termination because the horizon is observable.

    ## Arguments

    `gymnasium.make("segue/KuaiRandFeed-v0", config=None, overrides=None, model_path=None)`:
    `config` as for `MusicQueueEnv` (default `configs/kuairand_feed.yaml`); `model_path` the
    fitted parameter file (default `configs/calibrated/kuairand_feed_v1.npz`).

    ## Version History

    - v0: initial release (parameters kuairand_feed_v1).
    """

    surface = "queue"
    default_config_file = "kuairand_feed.yaml"

    def __init__(
        self,
        config: str | Path | EnvConfig | dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        model_path: str | Path | None = None,
    ) -> None:
        from envs.config import resolve_env_config

        env_config = resolve_env_config(config, self.default_config_file, overrides)
        simulator = build_kuairand_simulator(env_config.simulator, model_path or DEFAULT_MODEL)
        super().__init__(env_config, simulator=simulator)
