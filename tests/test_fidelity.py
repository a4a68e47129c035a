"""Fidelity gates: the rules, the shipped report, the training refusal and the score CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import envs
from simulators.calibration.likelihood import ResponseModel
from simulators.fidelity import FidelityGates, load_report, mssd_gates, parameter_gate, response_gates, section_gates

ROOT = Path(__file__).resolve().parent.parent
GATES = FidelityGates()


def response_block(**changes: float) -> dict:
    block = {
        "mean_pred": 0.20,
        "mean_obs": 0.21,
        "mean_se": 0.01,
        "ece": 0.015,
        "ece_null_p95": 0.02,
        "log_loss_gain": 0.01,
        "log_loss_gain_ci": [0.002, 0.02],
        "best_baseline": "item",
    }
    block.update(changes)
    return block


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({}, set()),
        ({"mean_obs": 0.221}, {"click.mean"}),
        ({"ece": 0.021}, {"click.ece"}),
        ({"log_loss_gain_ci": [-0.001, 0.02]}, {"click.log_loss_gain"}),
    ],
)
def test_response_gates(changes: dict, failed: set) -> None:
    results = response_gates({"click": response_block(**changes)}, GATES)
    assert {r.gate for r in results if not r.passed} == failed


def mssd_block(outside: int, rate_diff: float) -> dict:
    obs = np.full(20, 0.5)
    sim = obs.copy()
    sim[:outside] += 0.05  # far outside 2 SE
    se = np.full(20, 0.005)
    rates = {"skip_1": 0.4, "skip_2": 0.5, "skip_3": 0.6, "not_skipped": 0.3}
    return {
        "observed": {"skip_2_by_position": obs.tolist(), "skip_2_by_position_se": se.tolist(), "rates": rates},
        "simulated": {
            "skip_2_by_position": sim.tolist(),
            "skip_2_by_position_se": se.tolist(),
            "rates": {**rates, "skip_3": 0.6 + rate_diff},
        },
    }


@pytest.mark.parametrize(
    ("outside", "rate_diff", "failed"), [(2, 0.009, set()), (3, 0.0, {"mssd_curve"}), (0, 0.011, {"mssd_rates"})]
)
def test_mssd_gates(outside: int, rate_diff: float, failed: set) -> None:
    assert {r.gate for r in mssd_gates(mssd_block(outside, rate_diff), GATES) if not r.passed} == failed


def test_parameter_gate_detects_overrides() -> None:
    simulator = {"response": {"early_skip_threshold": 0.5}}
    assert parameter_gate({"response.early_skip_threshold": 0.5}, simulator, 1e-6).passed
    result = parameter_gate({"response.early_skip_threshold": 0.4}, simulator, 1e-6)
    assert not result.passed and "response.early_skip_threshold" in result.detail


def _shipped_gates(section: str) -> list:
    report = load_report(envs.FIDELITY_REPORT)
    body = report["sections"][section]
    results = section_gates(body, FidelityGates.model_validate(report["gates_config"]))
    assert [r.as_dict() for r in results] == body["gates"]  # the stored verdicts are the recomputed ones
    return results


def test_shipped_kuairand_fit_passes_its_gates() -> None:
    results = _shipped_gates("kuairand")
    assert results and all(r.passed for r in results), [r.detail for r in results if not r.passed]


def test_shipped_music_queue_fit_passes_its_gates() -> None:
    results = _shipped_gates("music_queue")
    assert all(r.passed for r in results), [r.detail for r in results if not r.passed]


@pytest.mark.parametrize("env_id", sorted(envs.FIDELITY_SECTIONS))
def test_shipped_env_configs_have_the_calibrated_parameters(env_id: str) -> None:
    parameters = [g for g in envs.fidelity_check(env_id) if g.gate == "parameters"]
    assert len(parameters) == 1 and parameters[0].passed, parameters[0].detail


def test_overridden_or_uncalibrated_simulators_fail() -> None:
    override = {"simulator.response.early_skip_threshold": 2.5}
    failed = [g.gate for g in envs.fidelity_check("segue/MusicQueue-v0", overrides=override) if not g.passed]
    assert "parameters" in failed
    assert [g.gate for g in envs.fidelity_check("segue/MusicShelf-v0") if not g.passed] == ["report"]


def test_train_agent_refuses_an_unfit_simulator() -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train_agent.py"),
            "--total-timesteps",
            "8",
            "--set",
            "env.overrides={simulator.response.early_skip_threshold: 2.5}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3, run.stderr
    assert "parameters" in run.stderr and "--allow-unfit-simulator" in run.stderr


def test_score_cli_folds_in_unseen_users(tmp_path: Path) -> None:
    model = ResponseModel.load(envs.kuairand.DEFAULT_MODEL)
    rng = np.random.default_rng(0)
    users, events = 12, 10
    items = rng.integers(0, len(model.item_ids), users * events)
    duration = model.item_duration_s[items]
    log = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(10**6, 10**6 + users), events),
            "item_id": model.item_ids[items],
            "timestamp": np.tile(np.arange(events), users),
            "item_duration_s": duration,
            "play_time_s": duration * rng.choice([0.05, 0.5, 1.0], users * events, p=[0.8, 0.15, 0.05]),
            "click": rng.random(users * events) < 0.2,
            "long_view": rng.random(users * events) < 0.1,
        }
    )
    log[["click", "long_view"]] = log[["click", "long_view"]].astype(int)
    path = tmp_path / "small.csv"
    log.to_csv(path, index=False)
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "calibrate_simulator.py"),
            "score",
            "--logs",
            str(path),
            "--bootstrap",
            "50",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["unseen_users_folded_in"] == users
    for name in ("click", "long_view", "watch_past_early", "watch_complete"):
        block = out["responses"][name]
        assert block["n"] == users * events // 2
        for key in ("log_loss", "brier", "auc", "ece", "ece_null_p95", "mean_pred", "mean_obs", "log_loss_gain_ci"):
            assert key in block
        assert {"global", "item", "duration_bucket"} <= set(block["baselines"])


def test_cli_help_explains_every_flag() -> None:
    for sub, flags in (
        ("fit", ("--data", "--out", "--only", "--set", "--install")),
        ("score", ("--model", "--logs", "--fold-in", "--bootstrap")),
    ):
        out = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "calibrate_simulator.py"), sub, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        assert all(flag in out for flag in flags), out
