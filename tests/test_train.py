"""The main job: every algorithm trains end to end; checkpoints resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.baselines import GreedyRanker
from agents.checkpoint import find_slate_env
from agents.config import TrainConfig, load_train_config
from agents.train import build_env, stay_value_weights, train
from envs.core import SessionBatch
from simulators import OBJECTIVE_NAMES, ConfigError

ROOT = Path(__file__).resolve().parent.parent
SMALL_ENV = {
    "simulator.catalog.num_items": 600,
    "simulator.catalog.num_artists": 120,
    "simulator.max_steps": 6,
    "simulator.candidates.num_candidates": 30,
    "simulator.slate_size": 4,
}


def small_config(tmp_path: Path, algo: str = "ppo", **extra: object) -> TrainConfig:
    tree = {
        "algo": algo,
        "total_timesteps": 512,
        "run_dir": str(tmp_path / algo),
        "checkpoint_every": 128,
        "env": {"overrides": SMALL_ENV, "num_envs": 8},
        "policy": {"hidden": 16},
        "hyperparameters": {"n_steps": 16, "batch_size": 64, "n_epochs": 1, "buffer_size": 1000, "learning_starts": 64},
        "evaluation": {"sessions": 20},
    }
    tree.update(extra)
    return TrainConfig.model_validate(tree)


@pytest.mark.parametrize("algo", ["ppo", "a2c", "sac", "td3", "dqn"])
def test_every_algorithm_trains_end_to_end(algo: str, tmp_path: Path) -> None:
    result = train(small_config(tmp_path, algo))
    run = result.run_dir
    assert result.model.num_timesteps >= 512
    for name in ("config.yaml", "model.zip", "checkpoints/latest.json"):
        assert (run / name).exists(), name
    assert list((run / "tb").rglob("events.out.tfevents.*"))
    if algo in ("ppo", "a2c"):
        assert (run / "scorer.onnx").is_file() and (run / "model_card.json").is_file()
        evaluation = json.loads((run / "evaluation.json").read_text())
        assert {"policy", "random", "popularity", "greedy"} <= set(evaluation["policies"])
        assert json.loads((run / "report" / "report.json").read_text())["policies"] == evaluation["policies"]
        assert (run / "report" / "report.html").is_file()


def test_tensorboard_has_a_curve_per_objective(tmp_path: Path) -> None:
    result = train(small_config(tmp_path, total_timesteps=1024), evaluate=False)
    events = next((result.run_dir / "tb").rglob("events.out.tfevents.*"))
    tags = set(EventAccumulator(str(events.parent)).Reload().Tags()["scalars"])
    expected = {f"objectives/{name}" for name in OBJECTIVE_NAMES}
    expected |= {"sessions/length", "sessions/skip_rate", "policy/entropy", "train/entropy_loss"}
    expected |= {"selection/scalarized", "selection/listening_minutes", "selection/guardrail_shortfall"}
    assert expected <= tags, expected - tags


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hyperparameters\.learnin_rate: unknown key"):
        load_train_config(overrides={"hyperparameters.learnin_rate": 0.1})
    with pytest.raises(ConfigError, match="batch_size"):
        load_train_config(overrides={"hyperparameters.batch_size": 10**6})
    with pytest.raises(ConfigError, match="algo"):
        load_train_config(overrides={"algo": "trpo"})


def _script(*args: str, **kwargs: object) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train_agent.py"), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **kwargs,
    )


def test_refuses_an_unfit_simulator_and_names_the_gate() -> None:
    process = _script("--set", "env.overrides={simulator.response.affinity_scale: 1.0}")
    out = process.communicate(timeout=120)[0]
    assert process.returncode == 3, out
    assert "refusing to train" in out and "--allow-unfit-simulator" in out


def test_help_explains_every_flag() -> None:
    out = _script("--help").communicate(timeout=60)[0]
    for flag in ("--config", "--set", "--algo", "--total-timesteps", "--seed", "--run-dir", "--resume",
                 "--allow-unfit-simulator"):
        assert flag in out


def _write_config(tmp_path: Path, total: int) -> Path:
    config = small_config(
        tmp_path, total_timesteps=total, checkpoint_every=256, selection={"every": 1024, "sessions": 200}
    )
    path = tmp_path / "train.yaml"
    import yaml

    tree = config.model_dump()
    tree.pop("run_dir")
    path.write_text(yaml.safe_dump(tree))
    return path


def _policy_parameters(run: Path) -> dict[str, torch.Tensor]:
    from stable_baselines3 import PPO

    return {k: v.clone() for k, v in PPO.load(run / "model.zip").policy.state_dict().items()}


@pytest.mark.slow
def test_sigkill_then_resume_continues_from_the_checkpoint(tmp_path: Path) -> None:
    config = _write_config(tmp_path, total=6144)
    # The tiny test world is not a calibrated simulator, so the fidelity gate needs the override.
    common = ("--config", str(config), "--seed", "3", "--allow-unfit-simulator")
    # Reference: the same run without interruption.
    reference = tmp_path / "reference"
    assert _script(*common, "--run-dir", str(reference), "--no-eval").wait(timeout=600) == 0

    run = tmp_path / "killed"
    process = _script(*common, "--run-dir", str(run), "--no-eval")
    latest = run / "checkpoints" / "latest.json"
    deadline = time.time() + 300
    while time.time() < deadline and not (latest.exists() and json.loads(latest.read_text())["num_timesteps"] >= 2048):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    killed_at = json.loads(latest.read_text())["num_timesteps"]
    assert 0 < killed_at < 6144 and not (run / "model.zip").exists()

    resumed = _script("--resume", "--run-dir", str(run), "--no-eval", "--allow-unfit-simulator")
    out = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, out
    assert "resumed from" in out and str(killed_at) in out
    # Timesteps, optimizer state, normalization statistics and RNG state all came back: the
    # resumed run ends with exactly the weights of the uninterrupted one.
    for (name, a), b in zip(_policy_parameters(reference).items(), _policy_parameters(run).values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    events = list((run / "tb").rglob("events.out.tfevents.*"))
    assert events
    # ... and its selection of the served checkpoint validated the same weights the same way.
    history = [json.loads((r / "selection" / "history.json").read_text()) for r in (reference, run)]
    assert history[0] == history[1] and len(history[0]["validations"]) == 7  # 0, 1024, ..., 6144


def test_kuairand_feed_trains_and_evaluates_in_its_fitted_world(tmp_path: Path) -> None:
    config = small_config(tmp_path, env={"id": "segue/KuaiRandFeed-v0", "num_envs": 8})
    result = train(config)
    evaluation = json.loads((result.run_dir / "evaluation.json").read_text())
    assert {"policy", "greedy"} <= set(evaluation["policies"])
    card = json.loads((result.run_dir / "model_card.json").read_text())
    assert card["environment"] == "segue/KuaiRandFeed-v0"


@pytest.mark.parametrize(("env_id", "skip_sign"), [("segue/MusicQueue-v0", -1), ("segue/KuaiRandFeed-v0", 1)])
def test_the_lookahead_start_follows_who_leaves_after_a_skip(env_id: str, skip_sign: int) -> None:
    # MSSD listeners leave less after an early skip than after a late one (the lookahead then
    # lowers the weight on predicted skips); KuaiRand viewers leave more (it raises it). Both
    # leave more after a completion than after a late skip, which lowers the completions weight.
    config = load_train_config(overrides={"env.id": env_id})
    env, env_config = build_env(config)
    batch = SessionBatch(env_config.simulator, 256, find_slate_env(env).batch.simulator)
    batch.seed(np.arange(256))
    batch.reset()
    greedy = GreedyRanker(batch.simulator, np.asarray(env_config.weight_vector(), np.float32))
    delta = stay_value_weights(greedy, env_config, batch, seed=0)
    skips, completions = delta[OBJECTIVE_NAMES.index("skips")], delta[OBJECTIVE_NAMES.index("completions")]
    assert skip_sign * skips > 0.2 and completions < -0.05, delta
    assert np.count_nonzero(delta) == 2, delta
