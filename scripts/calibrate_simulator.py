#!/usr/bin/env python
"""Calibrate Segue's simulators against real data and write the fidelity report that gates training.

Subcommands:
  fit    fit the KuaiRand response models (likelihood) and the music queue (MSSD moments),
         write parameters + report.{json,md,html} + plots/ to --out; --install also copies the
         shipped artifacts into configs/calibrated/.
  score  score any log in the Segue schema (or KuaiRand's raw format) with a fitted model and
         print JSON: per response n, log_loss, brier, auc, ece, ece_null_p95, mean_pred,
         mean_obs, each baseline's metrics and the paired log-loss gain over the best one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulators.config import ConfigError, set_dotted  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
CALIBRATED = ROOT / "configs" / "calibrated"
QUEUE_PARAMS = "music_queue_mssd_v2.yaml"
KUAIRAND_MODEL = "kuairand_feed_v1.npz"
REPORT_NAME = "fidelity_v2.json"

MSSD_NOTE = (
    "Targets: aggregate statistics of the Spotify Music Streaming Sessions Dataset (mini) -- B. Brost, "
    "R. Mehrotra, T. Jehan, 'The Music Streaming Sessions Dataset', Proc. WWW 2019, arXiv:1901.09851 -- "
    "transcribed from public notebook outputs (no raw rows; research use)."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n")[1],
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser(
        "fit", help="fit both calibrations and write the report", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    fit.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder holding kuairand_1k_random/ and mssd_mini_reference_stats/",
    )
    fit.add_argument(
        "--out",
        type=Path,
        default=ROOT / "runs" / "calibration",
        help="output folder: parameters, report.json/md/html, plots/",
    )
    fit.add_argument("--only", choices=["kuairand", "mssd"], default=None, help="run just one of the two fits")
    fit.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a calibration setting by dotted path, e.g. moments.max_evaluations=200 or "
        "likelihood.num_factors=8 (see simulators/calibration/config.py); repeatable",
    )
    fit.add_argument(
        "--start",
        type=Path,
        default=None,
        help="simulator YAML (e.g. a previous configs/calibrated/music_queue_mssd_v*.yaml) whose values start the "
        "MSSD search instead of the simulator defaults",
    )
    fit.add_argument(
        "--install",
        action="store_true",
        help=f"copy the parameters and report.json into {CALIBRATED.relative_to(ROOT)}/ (the shipped files)",
    )
    score = sub.add_parser(
        "score",
        help="score a log with a fitted model; prints JSON",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    score.add_argument("--model", type=Path, default=CALIBRATED / KUAIRAND_MODEL, help="fitted model (.npz from fit)")
    score.add_argument(
        "--logs",
        type=Path,
        required=True,
        help="log file: CSV in the Segue schema (simulators/logs.py) or KuaiRand's raw log",
    )
    score.add_argument(
        "--fold-in",
        type=float,
        default=0.5,
        help="share of each unseen user's events (by time) used to infer that user; the rest is scored",
    )
    score.add_argument("--bootstrap", type=int, default=1000, help="user-bootstrap draws for the gain CI")
    return parser.parse_args(argv)


def _overrides(items: list[str]) -> dict:
    import yaml

    tree: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        set_dotted(tree, key.strip(), yaml.safe_load(value))
    return tree


def _read_log(path: Path):  # noqa: ANN202 (pandas DataFrame)
    import pandas as pd

    from simulators.logs import load_events, load_kuairand

    header = pd.read_csv(path, nrows=0).columns
    return load_kuairand(path) if "video_id" in header else load_events(path)


def run_fit(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from tqdm import tqdm

    from simulators.calibration.config import CalibrationConfig
    from simulators.calibration.moments import load_mssd_targets
    from simulators.calibration.pipeline import fit_event_log, fit_mssd
    from simulators.calibration.report import REPORT_SCHEMA, write_report
    from simulators.config import SimulatorConfig, format_validation_error, read_yaml
    from simulators.logs import KUAIRAND_ATTRIBUTION, load_kuairand

    try:
        config = CalibrationConfig.model_validate(_overrides(args.overrides))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "--set")) from None
    args.out.mkdir(parents=True, exist_ok=True)
    sections = {}
    notes = []
    if args.only in (None, "kuairand"):
        log_path = args.data / "kuairand_1k_random" / "log_random.csv.gz"
        frame = load_kuairand(log_path)
        event_fit = fit_event_log(frame, config.likelihood, config.gates, log=tqdm.write)
        metadata = json.dumps(
            {
                "attribution": KUAIRAND_ATTRIBUTION,
                "source": str(log_path.name),
                "fitted_parameters": event_fit.section["fitted_parameters"],
            }
        )
        event_fit.model.save(args.out / KUAIRAND_MODEL, metadata, extra=event_fit.baselines.to_arrays())
        sections["kuairand"] = event_fit.section
        notes.append(KUAIRAND_ATTRIBUTION)
    if args.only in (None, "mssd"):
        observed = load_mssd_targets(args.data / "mssd_mini_reference_stats")
        start = read_yaml(args.start).get("simulator", {}) if args.start is not None else {}
        base = SimulatorConfig.model_validate({**start, "slate_size": 10, "candidates": {"num_candidates": 100}})
        with tqdm(total=config.moments.max_evaluations, desc="MSSD moments fit", unit="eval") as bar:

            def progress(evaluations: int, best: float) -> None:
                bar.update(1)
                bar.set_postfix(best=f"{best:.1f}")

            fit, section = fit_mssd(base, observed, config.moments, config.gates, progress)
        sections["music_queue"] = section
        _write_queue_params(args.out / QUEUE_PARAMS, fit.parameters, section)
        notes.append(MSSD_NOTE)
    for section in sections.values():
        section["passed"] = all(g["passed"] for g in section["gates"])
    report = {
        "schema": REPORT_SCHEMA,
        "data_note": " ".join(notes),
        "gates_config": config.gates.model_dump(),
        "calibration_config": config.model_dump(mode="json"),
        "sections": sections,
    }
    paths = write_report(report, args.out)
    for name, section in sections.items():
        verdict = (
            "PASS"
            if section["passed"]
            else "FAIL: " + ", ".join(g["gate"] for g in section["gates"] if not g["passed"])
        )
        print(f"{name}: {verdict}")
    print(f"report: {paths['html']} (also {paths['md'].name}, {paths['json'].name}, plots/)")
    if args.install:
        CALIBRATED.mkdir(parents=True, exist_ok=True)
        shutil.copy(paths["json"], CALIBRATED / REPORT_NAME)
        for name in (KUAIRAND_MODEL, QUEUE_PARAMS):
            if (args.out / name).exists():
                shutil.copy(args.out / name, CALIBRATED / name)
        print(
            f"installed into {CALIBRATED}/; copy the fitted values into configs/music_queue.yaml and "
            "configs/kuairand_feed.yaml if they changed (tests/test_fidelity.py checks they agree)"
        )
    return 0


def _write_queue_params(path: Path, parameters: dict[str, float], section: dict) -> None:
    import yaml

    tree: dict = {}
    for key, value in parameters.items():
        set_dotted(tree, key, round(float(value), 6))
    mssd = section["mssd"]
    header = [
        f"# segue/MusicQueue-v0 parameters calibrated to MSSD aggregates ({QUEUE_PARAMS}), written by",
        "#   python scripts/calibrate_simulator.py fit --install",
        f"# {MSSD_NOTE}",
        f"# Logging policy: {section['logging_policy']}.",
        f"# Fit: SMM objective {mssd['objective']:.1f} after {mssd['evaluations']} evaluations; report chi2 "
        f"{mssd['report_chi2']:.1f} on {mssd['num_moments']} moments.",
        "# Gates: "
        + "; ".join(f"{g['gate']} {'PASS' if g['passed'] else 'FAIL'} ({g['detail']})" for g in section["gates"]),
    ]
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump({"simulator": tree}, sort_keys=False))


def run_score(args: argparse.Namespace) -> int:
    import numpy as np

    from simulators.calibration.evaluation import Baselines, predict_held_out, score_report
    from simulators.calibration.likelihood import ResponseModel
    from simulators.fidelity import FidelityGates, response_gates

    if not 0 < args.fold_in < 1:
        raise ConfigError(f"--fold-in must lie in (0, 1), got {args.fold_in}")
    if not args.model.is_file():
        raise FileNotFoundError(f"model not found: {args.model} (run `calibrate_simulator.py fit` first)")
    model = ResponseModel.load(args.model)
    with np.load(args.model, allow_pickle=False) as arrays:
        baselines = Baselines.from_arrays(arrays)
    frame = _read_log(args.logs)
    unseen = int((~np.isin(np.unique(frame["user_id"]), model.user_ids)).sum())
    scored = predict_held_out(model, baselines, frame, args.fold_in)
    responses = score_report(scored, model.event_names, draws=args.bootstrap)
    for block in responses.values():
        block.pop("reliability")
    out = {
        "model": str(args.model),
        "logs": str(args.logs),
        "users": int(frame["user_id"].nunique()),
        "unseen_users_folded_in": unseen,
        "fold_in": args.fold_in,
        "responses": responses,
        "gates": [g.as_dict() for g in response_gates(responses, FidelityGates())],
    }
    print(json.dumps(out, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run_fit(args) if args.command == "fit" else run_score(args)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
