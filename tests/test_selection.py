"""The run serves its best validated checkpoint, by the guardrail rule, without changing training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from agents.checkpoint import find_slate_env
from agents.evaluation.rollout import rollout
from agents.onnx_scorer import OnnxScorer
from agents.selection import best_validation
from agents.train import build_env, train
from simulators import OBJECTIVE_NAMES, ConfigError
from tests.test_train import small_config

VALIDATION = {"every": 512, "sessions": 200, "seed": 777}


def _history(run: Path) -> dict:
    return json.loads((run / "selection" / "history.json").read_text())


def test_the_exported_scorer_is_the_best_validated_checkpoint(tmp_path: Path) -> None:
    fast = {"n_steps": 16, "batch_size": 64, "n_epochs": 1, "learning_rate": 0.01}
    config = small_config(tmp_path, total_timesteps=2048, seed=1, selection=VALIDATION, hyperparameters=fast)
    result = train(config, progress_bar=False)
    history = _history(result.run_dir)
    validations = history["validations"]
    assert [entry["timesteps"] for entry in validations] == [0, 512, 1024, 1536, 2048]
    best = max(validations, key=lambda entry: entry["scalarized"])
    assert best["timesteps"] == history["selected_timesteps"] != 2048  # this seed's last update is not its best
    # Replaying the exported scorer on the validation users reproduces the selected validation.
    _, env_config = build_env(config)
    simulator = find_slate_env(result.model.get_env()).batch.simulator
    sessions = rollout(OnnxScorer(result.run_dir / "scorer.onnx"), env_config, 200, 777, simulator)
    weights = np.asarray(env_config.weight_vector())
    assert (sessions.returns @ weights).mean() == pytest.approx(best["scalarized"], rel=1e-6)
    card = json.loads((result.run_dir / "model_card.json").read_text())
    assert (card["trained_timesteps"], card["selected_timesteps"]) == (2048, best["timesteps"])
    assert result.evaluation is not None and result.evaluation["selection"] == history
    report = (result.run_dir / "report" / "report.md").read_text()
    assert f"checkpoint at {best['timesteps']:,} of 2,048 timesteps" in report


@pytest.mark.parametrize(("baseline", "margin_se"), [("greedy", 0.0), ("random", 1.0)])
def test_a_checkpoint_that_loses_a_guardrail_is_passed_over(baseline: str, margin_se: float, tmp_path: Path) -> None:
    """Against greedy no checkpoint of this small run listens as long (the one closest is served, not the
    best total); against random all clear it by an SE (the best total is served)."""
    selection = dict(VALIDATION, guardrails=["listening_minutes"], guardrail_baseline=baseline, guardrail_se=margin_se)
    config = small_config(tmp_path, total_timesteps=2048, seed=3, selection=selection)
    history = _history(train(config, evaluate=False, progress_bar=False).run_dir)
    floor = history["baseline"]["objectives"]["listening_minutes"]
    validations = history["validations"]
    margins = {e["timesteps"]: e["guardrail_margins"]["listening_minutes"] for e in validations}
    for entry in validations:
        margin = margins[entry["timesteps"]]
        assert margin["mean"] == pytest.approx(entry["objectives"]["listening_minutes"] - floor)
        assert entry["guardrail_shortfall"] == pytest.approx(max(margin_se * margin["se"] - margin["mean"], 0.0))
    eligible = [e for e in validations if margins[e["timesteps"]]["mean"] >= margin_se * margins[e["timesteps"]]["se"]]
    assert len(eligible) == (0 if baseline == "greedy" else len(validations))
    best_total = max(validations, key=lambda e: e["scalarized"])
    closest = max(validations, key=lambda e: margins[e["timesteps"]]["mean"])
    expected = max(eligible, key=lambda e: e["scalarized"]) if eligible else closest
    assert history["selected_timesteps"] == expected["timesteps"]
    assert (expected is best_total) == (baseline == "random")


def test_the_constraint_comes_before_the_guardrails_and_they_before_the_total() -> None:
    def entry(total: float, guardrail: float = 0.0, constraint: float = 0.0) -> dict:
        return {"scalarized": total, "guardrail_shortfall": guardrail, "constraint_shortfall": constraint}

    candidates = [entry(9.0, constraint=0.01), entry(8.0, guardrail=0.2), entry(7.0, guardrail=0.1), entry(5.0)]
    assert best_validation(candidates) is candidates[3]
    assert best_validation(candidates[:3]) is candidates[2]  # the smallest guardrail shortfall
    assert best_validation(candidates[:2]) is candidates[1]  # any constraint shortfall loses
    tied = [entry(5.0), entry(5.0)]
    assert best_validation(tied) is tied[0]


def test_a_constrained_run_validates_its_constraint_share(tmp_path: Path) -> None:
    constraint = {"objective": "promoted_streams", "floor": 0.2, "initial_multiplier": 3.0}
    scalarization = {"constraint": constraint}
    config = small_config(tmp_path, total_timesteps=1024, selection=VALIDATION, scalarization=scalarization)
    result = train(config, progress_bar=False)
    history = _history(result.run_dir)
    best = best_validation(history["validations"])
    assert best["timesteps"] == history["selected_timesteps"]
    assert best["constraint_shortfall"] == pytest.approx(max(0.2 - best["constraint_share"], 0.0))
    # The served scorer, replayed on the validation users, has the share its validation recorded.
    _, env_config = build_env(config)
    simulator = find_slate_env(result.model.get_env()).batch.simulator
    sessions = rollout(OnnxScorer(result.run_dir / "scorer.onnx"), env_config, 200, 777, simulator)
    share = sessions.returns[:, OBJECTIVE_NAMES.index("promoted_streams")].sum() / sessions.tracks.sum()
    assert share == pytest.approx(best["constraint_share"], rel=1e-9)
    assert "share of the constrained objective" in (result.run_dir / "report" / "report.md").read_text()


def test_validating_does_not_change_what_training_learns(tmp_path: Path) -> None:
    def last_weights(selection: dict) -> dict[str, torch.Tensor]:
        config = small_config(tmp_path / str(selection["every"]), total_timesteps=1024, selection=selection)
        run = train(config, evaluate=False, progress_bar=False).run_dir
        latest = json.loads((run / "checkpoints" / "latest.json").read_text())["checkpoint"]
        return PPO.load(run / "checkpoints" / latest / "model.zip").policy.state_dict()

    plain, validated = last_weights({"every": None}), last_weights(dict(VALIDATION, every=256))
    for name, value in plain.items():
        torch.testing.assert_close(validated[name], value, rtol=0, atol=0, msg=name)


def test_selection_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="overlap the evaluation users.*selection.seed"):
        small_config(tmp_path, selection={"seed": 0}, evaluation={"sessions": 20, "seed": 100})
    with pytest.raises(ValueError, match="guardrails .*'minutes'.* are not objectives"):
        small_config(tmp_path, selection={"guardrails": ["minutes"]})
    with pytest.raises(ValueError, match="guardrail_baseline 'greed' is not a baseline"):
        small_config(tmp_path, selection={"guardrail_baseline": "greed"})
    from agents.config import load_train_config

    with pytest.raises(ConfigError, match="selection.seed"):
        load_train_config(overrides={"selection.seed": 12345})
