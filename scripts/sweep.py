#!/usr/bin/env python
"""Pareto sweep: one policy per weight vector x seed on Ray Tune, compared with boosted greedy.

Trains every (weight vector, seed) of the sweep YAML as its own run (TensorBoard run, checkpoints,
evaluation on common users), traces the business-boosted greedy baseline over its boost weights,
and writes sweep.json / sweep.md / sweep.html with both fronts and their hypervolumes to --out.
Rerun the same command after an interruption: finished trials are kept, the rest resume.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.config import parse_overrides  # noqa: E402
from simulators.config import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: python scripts/sweep.py --config configs/sweep/pareto_ci.yaml --out runs/sweep-ci",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "sweep" / "pareto.yaml",
                        help="sweep YAML (fields documented in agents/sweep/config.py)")
    parser.add_argument("--out", type=Path, default=None,
                        help="sweep folder: trials/, ray/, tb/, sweep.json/.md/.html (default runs/sweep-<name>)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address (e.g. ray://head:10001 or auto); default: a local Ray on this "
                        "machine's cores")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a sweep field by dotted path, e.g. seeds=[0,1] or "
                        "train_overrides={total_timesteps: 20000}; repeatable; values parse as YAML")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s  %(message)s", datefmt="%H:%M:%S")
    from agents.sweep.config import load_sweep_config

    try:
        sweep = load_sweep_config(args.config, parse_overrides(args.overrides))
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or ROOT / "runs" / f"sweep-{sweep.name}"

    from agents.sweep.runner import run_sweep

    try:
        result = run_sweep(sweep, out, args.address)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from agents.sweep.report import sweep_summary

    hv = sweep_summary(result)["hypervolume"]
    ratio = "n/a" if hv["ratio"] is None else f"{hv['ratio']:.3f}"
    print(f"\n{len(result.trials)} trials in {result.trial_seconds:.0f} s; hypervolume learned {hv['learned']:.4g} vs "
          f"boosted greedy {hv['boosted_greedy']:.4g} (ratio {ratio})")
    print(f"report: {out / 'sweep.html'} (also sweep.md, sweep.json, plots/pareto.png)")
    print(f"TensorBoard: tensorboard --logdir {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
