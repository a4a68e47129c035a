"""The CI-sized Pareto sweep end to end on Ray Tune: report, TensorBoard, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.sweep.config import SweepConfig, load_sweep_config

ROOT = Path(__file__).resolve().parent.parent
CI_CONFIG = ROOT / "configs" / "sweep" / "pareto_ci.yaml"


def _sweep(out: Path) -> list[str]:
    # cpus_per_trial=2 runs the trials one after the other, so a kill can land between them.
    return [sys.executable, str(ROOT / "scripts" / "sweep.py"), "--config", str(CI_CONFIG), "--out", str(out),
            "--set", "cpus_per_trial=2"]


def _tags(folder: Path) -> dict[str, list[str]]:
    files = sorted(folder.rglob("events.out.tfevents.*"))
    assert files, f"no TensorBoard event file under {folder}"
    accumulator = EventAccumulator(str(files[0].parent), size_guidance={"images": 1})
    accumulator.Reload()
    return accumulator.Tags()


def test_ci_sweep_survives_a_kill_and_reports_both_fronts(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    sweep = load_sweep_config(CI_CONFIG)
    first = out / "trials" / sweep.trial_name(sweep.weights[0], sweep.seeds[0]) / "trial.json"
    process = subprocess.Popen(_sweep(out), cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 400
    while not first.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first.is_file(), "the first trial did not finish"
    os.killpg(process.pid, signal.SIGKILL)  # the driver and its Ray processes, mid-sweep
    process.wait()
    finished_at = first.stat().st_mtime

    done = subprocess.run(_sweep(out), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert first.stat().st_mtime == finished_at, "the finished trial was trained again"
    assert "hypervolume learned" in done.stdout

    report = json.loads((out / "sweep.json").read_text())
    assert report["schema"] == "segue-sweep/1"
    assert [t["weights"] for t in report["trials"]] == sweep.weights
    hv = report["hypervolume"]
    assert hv["learned"] > 0 and hv["boosted_greedy"] > 0 and hv["ratio"] == pytest.approx(
        hv["learned"] / hv["boosted_greedy"])
    assert len(report["boosted_greedy"]) == len(sweep.boost_weights)
    assert "data:image/png;base64," in (out / "sweep.html").read_text()
    assert (out / "plots" / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for trial in report["trials"]:
        folder = out / "trials" / trial["name"]
        assert "objectives/listening_minutes" in _tags(folder / "tb" / "tb_1")["scalars"]
        assert (folder / "tb" / "final").is_dir() and (folder / "scorer.onnx").is_file()
    assert "sweep/pareto_front" in _tags(out / "tb" / "sweep")["images"]


def test_sweep_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="weights\\[1\\]"):
        SweepConfig(weights=[[1.0, 0.0], [1.0]])
    with pytest.raises(ValueError, match="unknown"):
        SweepConfig(objectives=["listening_minutes", "likes"], weights=[[1.0, 0.0]])
    with pytest.raises(ValueError, match="2 or 3"):
        SweepConfig(objectives=["listening_minutes"], weights=[[1.0]])
