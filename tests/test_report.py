"""The evaluation report: files and schema, every plot embedded, a clean headless-Chromium render,
and the evaluate_policy.py script end to end on a tiny run."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml

from agents.config import TrainConfig
from agents.evaluation.evaluator import compare
from agents.evaluation.obd import random_policy_report
from agents.evaluation.report import REPORT_FILES, write_report
from agents.export import atomic_write_json, export_onnx, model_card
from agents.networks import ItemScorer
from agents.onnx_scorer import OnnxScorer
from envs import env_config_for
from simulators import OBJECTIVE_NAMES, ObservationBuilder, SessionSimulator, item_feature_names, user_feature_names

ROOT = Path(__file__).resolve().parent.parent
OBD = ROOT.parent / "shared" / "data" / "open_bandit_dataset"
SMALL_ENV = {"simulator.catalog.num_items": 600, "simulator.catalog.num_artists": 120, "simulator.max_steps": 6,
             "simulator.candidates.num_candidates": 30, "simulator.slate_size": 4}
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
PLOTS = 6


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with an untrained exported scorer: what the report needs, without training."""
    run = tmp_path_factory.mktemp("run")
    config = TrainConfig.model_validate({"run_dir": str(run), "env": {"overrides": SMALL_ENV}})
    (run / "config.yaml").write_text(yaml.safe_dump(config.model_dump(), sort_keys=False))
    env_config = env_config_for(config.env.id, None, SMALL_ENV)
    simulator = SessionSimulator(env_config.simulator)
    builder = ObservationBuilder(env_config.simulator, simulator.catalog)
    scorer = ItemScorer(builder.user_dim, builder.item_dim, hidden=8)
    export_onnx(scorer, run / "scorer.onnx")
    card = model_card(scorer, user_features=user_feature_names(simulator.catalog),
                      item_features=item_feature_names(simulator.catalog), slate_size=4,
                      objective_names=list(OBJECTIVE_NAMES), weights=env_config.weight_vector(),
                      env_id=config.env.id, config_hash=config.digest(), extra={"name": "tiny"})
    atomic_write_json(run / "model_card.json", card)
    return run


@pytest.fixture(scope="module")
def report_dir(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_config = env_config_for("segue/MusicQueue-v0", None, SMALL_ENV)
    comparison = compare(OnnxScorer(tiny_run), env_config, ["random", "greedy", "mmr", "oracle"], 120, 5)
    off_policy = random_policy_report(OBD) if OBD.is_dir() else None
    out = tmp_path_factory.mktemp("report")
    write_report(comparison, out, "tiny report", off_policy)
    return out


def test_report_files_and_schema(report_dir: Path) -> None:
    for name in REPORT_FILES:
        assert (report_dir / name).is_file(), name
    report = json.loads((report_dir / "report.json").read_text())
    assert report["schema"] == "segue-evaluation/1"
    assert report["settings"]["sessions"] == 120 and report["settings"]["simulator_version"]["simulator_config_sha256"]
    assert list(report["policies"]) == ["policy", "random", "greedy", "mmr", "oracle"]
    assert report["policies"]["oracle"]["label"] == "oracle (upper reference)"
    for row in report["policies"].values():
        for key in ("total", "satisfaction", "business", *OBJECTIVE_NAMES, "session_length", "artist_diversity"):
            assert row[key]["low"] <= row[key]["mean"] <= row[key]["high"], key
        assert 0 < row["catalog_coverage"] <= 1 and row["skip_rate_by_position"]
    assert set(report["paired_differences"]) == {"random", "greedy", "mmr", "oracle"}
    assert report["pareto_front"] and "oracle" not in report["pareto_front_deployable"]
    markdown = (report_dir / "report.md").read_text()
    assert "oracle (upper reference)" in markdown and "plots/objective_space.png" in markdown


def test_html_embeds_every_plot_as_decodable_png(report_dir: Path, tmp_path: Path) -> None:
    page = (report_dir / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == (PLOTS if OBD.is_dir() else PLOTS - 1)
    for i, data in enumerate(images):
        png = tmp_path / f"{i}.png"
        png.write_bytes(base64.b64decode(data))
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[0] > 100 and pixels.std() > 0.01
    assert "http://" not in page and "https://" not in page  # opens offline


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium; .ci/run does it)")
def test_html_renders_in_headless_chromium(report_dir: Path, tmp_path: Path) -> None:
    url = (report_dir / "report.html").resolve().as_uri()
    flags = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*flags, "--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    images = len(re.findall(r"<img ", dom.stdout))
    assert images >= PLOTS - 1
    assert f'data-images-decoded="{images}/{images}"' in dom.stdout, "an embedded image failed to decode"
    console_errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
    assert not console_errors, console_errors
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1400,3000", url], capture_output=True,
                   timeout=120, check=True)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1400)
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"


def test_evaluate_policy_script_writes_the_report(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate_policy.py"), "--run", str(tiny_run), "--sessions", "40",
         "--baselines", "random", "greedy", "oracle", "--no-ope", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "policy - greedy" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["sessions"] == 40 and report["off_policy"] is None
    assert np.isfinite(report["policies"]["policy"]["total"]["mean"])


def test_evaluate_policy_script_rejects_missing_inputs(tmp_path: Path) -> None:
    script = str(ROOT / "scripts" / "evaluate_policy.py")
    proc = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--run" in proc.stderr
    proc = subprocess.run([sys.executable, script, "--policy", str(tmp_path / "none.onnx")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "no ONNX scorer" in proc.stderr
