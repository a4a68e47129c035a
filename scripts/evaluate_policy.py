#!/usr/bin/env python
"""Evaluate a trained policy against every baseline ranker and write an HTML/Markdown/JSON report.

    python scripts/evaluate_policy.py --run runs/<name>            # report in runs/<name>/report/
    python scripts/evaluate_policy.py --policy path/to/scorer.onnx --out reports/x
    python scripts/evaluate_policy.py ope --data ../shared/data/open_bandit_dataset

The policy and the baselines meet the same simulated users (common random numbers). The report
also carries the off-policy check on the Open Bandit Dataset when its folder is present
(`ope` runs that check alone and prints it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_OBD = ROOT.parent / "shared" / "data" / "open_bandit_dataset"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from agents.baselines import BASELINE_NAMES

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", type=Path, help="run folder of scripts/train_agent.py (scorer.onnx + config.yaml)")
    source.add_argument("--policy", type=Path, help="an exported scorer.onnx (its model_card.json names the env)")
    parser.add_argument(
        "--env-config",
        type=Path,
        default=None,
        help="with --policy: env YAML (default: the env named in the model card, default config)",
    )
    parser.add_argument("--sessions", type=int, default=2000, help="simulated sessions per policy")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the evaluation users")
    parser.add_argument(
        "--baselines",
        nargs="+",
        default=list(BASELINE_NAMES),
        choices=BASELINE_NAMES,
        help="baseline rankers to compare with",
    )
    parser.add_argument("--out", type=Path, default=None, help="report folder (default <run>/report or reports/<name>)")
    parser.add_argument(
        "--obd-data",
        type=Path,
        default=DEFAULT_OBD,
        help="Open Bandit Dataset folder for the off-policy section (skipped if absent)",
    )
    parser.add_argument("--no-ope", action="store_true", help="leave the off-policy section out")
    parser.add_argument("--min-propensity", type=float, default=1e-3, help="clip logging propensities below this")
    sub = parser.add_subparsers(dest="command")
    ope = sub.add_parser("ope", help="off-policy check on OBD only: random-policy CTR from BTS logs vs on-policy")
    ope.add_argument("--data", type=Path, default=DEFAULT_OBD, help="Open Bandit Dataset folder")
    ope.add_argument("--min-propensity", type=float, default=1e-3, help="clip logging propensities below this")
    ope.add_argument("--json", type=Path, default=None, help="also write the result to this JSON file")
    return parser.parse_args(argv)


def print_ope(section: dict) -> None:
    print(f"Uniform-random click rate (%), 95% CI; BTS propensities clipped at {section['min_propensity']:g}")
    for c in section["campaigns"]:
        on = c["on_policy"]
        print(
            f"  {c['campaign']:<6} on-policy (random logs, {c['random_rows']} rows, {c['random_clicks']} clicks): "
            f"{100 * on['value']:.3f} [{100 * on['low']:.3f}, {100 * on['high']:.3f}]"
        )
        for name, e in c["estimates"].items():
            print(
                f"         {name:<14} (BTS logs, {c['bts_rows']} rows, {c['clipped_rows']} clipped): "
                f"{100 * e['value']:.3f} [{100 * e['low']:.3f}, {100 * e['high']:.3f}]"
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s  %(message)s", datefmt="%H:%M:%S")
    from agents.evaluation.obd import LogValidationError, random_policy_report

    if args.command == "ope":
        if not args.data.is_dir():
            print(f"error: no Open Bandit Dataset folder at {args.data}", file=sys.stderr)
            return 2
        try:
            section = random_policy_report(args.data, args.min_propensity)
        except LogValidationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print_ope(section)
        if args.json:
            args.json.write_text(json.dumps(section, indent=2) + "\n")
        return 0
    if args.run is None and args.policy is None:
        print("error: give --run RUN_DIR or --policy SCORER.onnx (or the `ope` subcommand)", file=sys.stderr)
        return 2

    from agents.config import load_train_config
    from agents.evaluation.evaluator import compare
    from agents.evaluation.report import write_report
    from agents.onnx_scorer import OnnxScorer
    from envs import build_simulator, env_config_for
    from simulators.config import ConfigError

    try:
        if args.run is not None:
            config = load_train_config(args.run / "config.yaml")
            env_id = config.env.id
            env_config = env_config_for(env_id, config.env.config, config.env.overrides)
            scorer_path, name, out = args.run / "scorer.onnx", args.run.name, args.run / "report"
        else:
            scorer_path, name = args.policy, args.policy.parent.name or "policy"
            card_path = args.policy.with_name("model_card.json")
            card = json.loads(card_path.read_text()) if card_path.is_file() else {}
            env_id = card.get("environment", "segue/MusicQueue-v0")
            env_config = env_config_for(env_id, args.env_config)
            out = ROOT / "reports" / name
        policy = OnnxScorer(scorer_path, threads=2)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or out
    start = time.perf_counter()
    comparison = compare(
        policy, env_config, args.baselines, args.sessions, args.seed, build_simulator(env_id, env_config)
    )
    off_policy = None
    if not args.no_ope and args.obd_data.is_dir():
        off_policy = random_policy_report(args.obd_data, args.min_propensity, args.seed)
    elif not args.no_ope:
        logging.warning("no Open Bandit Dataset at %s: the report has no off-policy section", args.obd_data)
    write_report(comparison, out, f"Segue policy evaluation: {name}", off_policy)
    seconds = time.perf_counter() - start
    total = comparison.summary["paired_differences"]
    print(f"\nEvaluated {name} and {len(args.baselines)} baselines on {args.sessions:,} sessions in {seconds:.0f} s.")
    for baseline, diff in total.items():
        t = diff["total"]
        print(f"  policy - {baseline:<15} total {t['mean']:+7.2f}  (95% CI {t['low']:+.2f} .. {t['high']:+.2f})")
    print(f"Report: {out / 'report.html'}  (also report.md, report.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
