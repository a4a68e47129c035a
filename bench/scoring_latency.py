#!/usr/bin/env python
"""Serving latency of the exported scorer: one request of N candidates, one thread.

Measures onnxruntime wall time per `OnnxScorer.score` call (input checks included) for a
single user with N candidates, and reports p50/p90/p99. Target: p99 <= 1 ms at N = 500.
Usage: python bench/scoring_latency.py [--model runs/<run>/scorer.onnx] [--candidates 500] [--requests 5000]
Without --model it exports an untrained scorer with the default env's feature sizes
(latency depends on the architecture, not on the weights).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def default_model(folder: Path, hidden: int, attention: bool) -> Path:
    from agents.export import export_onnx
    from agents.networks import ItemScorer
    from envs import env_config_for
    from simulators import ObservationBuilder, SessionSimulator

    config = env_config_for("segue/MusicQueue-v0").simulator
    builder = ObservationBuilder(config, SessionSimulator(config).catalog)
    return export_onnx(ItemScorer(builder.user_dim, builder.item_dim, hidden, attention), folder / "scorer.onnx")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="scorer.onnx to time (default: export an untrained default scorer)")
    parser.add_argument("--candidates", type=int, default=500, help="N candidates per request")
    parser.add_argument("--requests", type=int, default=5000, help="timed requests (after 200 warm-up requests)")
    parser.add_argument("--hidden", type=int, default=64, help="width of the default scorer (without --model)")
    parser.add_argument("--attention", action="store_true", help="default scorer with candidate attention")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    from agents.onnx_scorer import OnnxScorer

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or default_model(Path(tmp), args.hidden, args.attention)
        scorer = OnnxScorer(path, threads=1)
        rng = np.random.default_rng(0)
        user = rng.standard_normal((1, scorer.user_dim)).astype(np.float32)
        items = rng.standard_normal((1, args.candidates, scorer.item_dim)).astype(np.float32)
        mask = np.ones((1, args.candidates), bool)
        for _ in range(200):
            scorer.score(user, items, mask)
        times = np.empty(args.requests)
        for i in range(args.requests):
            start = time.perf_counter()
            scorer.score(user, items, mask)
            times[i] = time.perf_counter() - start
    ms = times * 1e3
    result = {
        "candidates": args.candidates,
        "requests": args.requests,
        "threads": 1,
        "model": str(args.model or f"untrained ItemScorer(hidden={args.hidden}, attention={args.attention})"),
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }
    print(json.dumps(result, indent=2))
    print(
        f"N={args.candidates}: p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms "
        f"({'meets' if result['p99_ms'] <= 1.0 else 'misses'} the 1 ms p99 target)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
