"""Config validation: bad keys and values fail at load time, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from envs import env_config_for
from simulators import ConfigError, SimulatorConfig, load_simulator_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_defaults_validate() -> None:
    config = SimulatorConfig()
    assert config.slate_size <= config.candidates.num_candidates <= config.catalog.num_items


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"response\.afinity_scale: unknown key"):
        load_simulator_config(overrides={"response.afinity_scale": 1.0})


def test_out_of_range_value_is_named() -> None:
    with pytest.raises(ConfigError, match=r"dynamics\.fatigue_decay"):
        load_simulator_config(overrides={"dynamics.fatigue_decay": 1.5})


def test_cross_field_rules() -> None:
    with pytest.raises(ConfigError, match="slate_size"):
        load_simulator_config(overrides={"slate_size": 200})
    with pytest.raises(ConfigError, match="min_candidates"):
        load_simulator_config(overrides={"candidates.min_candidates": 3})
    with pytest.raises(ConfigError, match="duration_min_s"):
        load_simulator_config(overrides={"catalog.duration_min_s": 1000.0})


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_simulator_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("slate_size: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_simulator_config(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_simulator_config(listed)


@pytest.mark.parametrize("env_id", ["segue/MusicQueue-v0", "segue/MusicShelf-v0"])
def test_shipped_env_configs_validate(env_id: str) -> None:
    config = env_config_for(env_id)
    assert set(config.reward_weights) <= {
        "listening_minutes",
        "completions",
        "skips",
        "promoted_streams",
        "discovery",
        "revenue",
    }


def test_unknown_objective_weight_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown objective"):
        env_config_for("segue/MusicQueue-v0", overrides={"reward_weights": {"clicks": 1.0}})
