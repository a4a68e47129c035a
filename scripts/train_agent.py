#!/usr/bin/env python
"""Train a slate sequencing policy on a Segue environment (the main job).

With no arguments: PPO with the Plackett-Luce slate scorer on segue/MusicQueue-v0, using
configs/train_default.yaml. The run folder gets the resolved config, TensorBoard logs,
checkpoints, the final model, scorer.onnx + model_card.json and an evaluation against
baseline rankers on the same simulated users.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.config import DEFAULT_TRAIN_CONFIG, load_train_config, parse_overrides  # noqa: E402
from simulators.config import ConfigError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: python scripts/train_agent.py --total-timesteps 50000 --set policy.attention=true",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"training YAML (default configs/{DEFAULT_TRAIN_CONFIG.name}; with --resume: the run's own config.yaml)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field by its dotted path, e.g. hyperparameters.learning_rate=1e-3 "
        "or env.overrides={simulator.slate_size: 5}; repeatable; values parse as YAML",
    )
    parser.add_argument(
        "--algo",
        choices=["ppo", "a2c", "sac", "td3", "dqn"],
        default=None,
        help="SB3 algorithm (PPO/A2C: Plackett-Luce slates; SAC/TD3: score vectors; DQN: slot by slot)",
    )
    parser.add_argument("--total-timesteps", type=int, default=None, help="slates to serve in training")
    parser.add_argument("--seed", type=int, default=None, help="seed of torch, training users and sampling")
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="run folder (default runs/<algo>-<env>-<timestamp>); required with --resume",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir from its latest checkpoint (after a crash or kill)",
    )
    parser.add_argument("--no-eval", action="store_true", help="skip the end-of-run evaluation against baselines")
    parser.add_argument(
        "--allow-unfit-simulator",
        action="store_true",
        help="train even if the env's simulator fails its fidelity report (configs/calibrated/fidelity_v2.json), "
        "has none, or overrides a calibrated parameter",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s  %(message)s", datefmt="%H:%M:%S")
    try:
        overrides = parse_overrides(args.overrides)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for key, value in (("algo", args.algo), ("total_timesteps", args.total_timesteps), ("seed", args.seed)):
        if value is not None:
            overrides[key] = value
    if args.resume:
        if args.run_dir is None:
            print("error: --resume needs --run-dir (the folder of the run to continue)", file=sys.stderr)
            return 2
        if args.config is None:
            saved = args.run_dir / "config.yaml"
            if not saved.is_file():
                print(f"error: {saved} not found; is {args.run_dir} a Segue run folder?", file=sys.stderr)
                return 2
            args.config = saved
    if args.run_dir is not None:
        overrides["run_dir"] = str(args.run_dir)
    try:
        config = load_train_config(args.config, overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from envs import fidelity_check

    failed = [g for g in fidelity_check(config.env.id, config.env.config, config.env.overrides) if not g.passed]
    if failed and args.allow_unfit_simulator:
        print(f"warning: training on {config.env.id} although its simulator fails fidelity gate(s): "
              + ", ".join(g.gate for g in failed), file=sys.stderr)
    elif failed:
        print(f"error: refusing to train on {config.env.id}: its simulator fails fidelity gate(s)", file=sys.stderr)
        for gate in failed:
            print(f"  {gate.gate}: {gate.detail}\n    to proceed: {gate.remedy}", file=sys.stderr)
        print("  or pass --allow-unfit-simulator to train on it anyway", file=sys.stderr)
        return 3

    from agents.train import train

    result = train(config, resume=args.resume, evaluate=not args.no_eval)
    run = result.run_dir
    print(
        f"\nTrained {config.algo.upper()} for {result.model.num_timesteps:,} timesteps "
        f"in {result.train_seconds:.0f} s. Artifacts in {run}/:"
    )
    for name, what in (
        ("config.yaml", "resolved configuration"),
        ("tb/", "TensorBoard event files"),
        ("checkpoints/", "checkpoints (resume with --resume --run-dir)"),
        ("model.zip", "SB3 model with the served weights (optimizer state of the last update)"),
        ("selection/", "validations of the served ranking during training (history.json)"),
        ("scorer.onnx", "scoring policy for serving (onnxruntime + numpy)"),
        ("model_card.json", "input schema, objectives, weights, versions"),
        ("evaluation.json", "policy vs baselines on common simulated users"),
        ("report/report.html", "the evaluation report: tables with CIs and plots (also .md, .json)"),
    ):
        if (run / name.rstrip("/")).exists():
            print(f"  {run / name}  - {what}")
    print(f"\nTensorBoard: tensorboard --logdir {run.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
