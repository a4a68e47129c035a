#!/usr/bin/env python
"""Simulator throughput: user-steps per second of Segue against a pure-numpy reference.

What is timed, per batch size B and surface:

* ``vec``: `envs.SlateVecEnv.step` (SB3 API) — simulator step, observation of all users,
  auto-reset of finished users and the observation of the reset rows, rewards and infos.
* ``sim``: the raw simulator path without the env wrapper: `SessionSimulator.step`,
  `ObservationBuilder.__call__`, `reset_rows` of finished users and their observation.
* ``single``: one `gymnasium.make(env_id)` env (B=1), `env.step` plus `env.reset()` whenever
  the episode ends.

Actions are random valid slates (K distinct candidate indices per row), either cycled from a
pre-drawn bank of 8 (``bank``: pure env cost, as the reference does) or drawn fresh every step
(``fresh``: env plus a cheap vectorised policy). Each repeat runs whole steps for at least
``--min-time`` seconds; medians, minima and maxima are over ``--repeats`` repeats.

The reference is ``shared/bench/numpy_limit.py`` (a toy batched numpy simulator), measured in
the same process at the same B so that the ratio is free of machine noise between runs.

Run from the repository root:
    .venv/bin/python bench/sim_throughput.py
    .venv/bin/python bench/sim_throughput.py --batch 1 1024 --repeats 5 --json results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench"
sys.path.insert(0, str(REPO))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from simulators import ObservationBuilder, SessionSimulator, UserStreams  # noqa: E402

SURFACES = {"shelf": "segue/MusicShelf-v0", "queue": "segue/MusicQueue-v0"}
BANK_SIZE = 8


def random_slates(rng: np.random.Generator, batch: int, n: int, k: int) -> np.ndarray:
    """K distinct candidate indices per row: int64[batch, k]."""
    keys = rng.random((batch, n), dtype=np.float32)
    return np.argpartition(keys, k - 1, axis=1)[:, :k].astype(np.int64)


def timed_repeats(step: Callable[[int], int], repeats: int, min_time: float) -> list[float]:
    """Run `step(i)` (returns user-steps done) until `min_time` passes, `repeats` times: rates."""
    for i in range(10):  # warm-up: first-touch page faults, caches
        step(i)
    rates = []
    for _ in range(repeats):
        done, i = 0, 0
        t0 = time.perf_counter()
        while True:
            done += step(i)
            i += 1
            if (i & 7) == 0 and time.perf_counter() - t0 >= min_time:
                break
        rates.append(done / (time.perf_counter() - t0))
    return rates


def action_source(fresh: bool, batch: int, n: int, k: int, seed: int) -> Callable[[int], np.ndarray]:
    """Slates for step i: cycled from a pre-drawn bank, or drawn fresh."""
    rng = np.random.default_rng(seed)
    if fresh:
        return lambda i: random_slates(rng, batch, n, k)
    bank = [random_slates(rng, batch, n, k) for _ in range(BANK_SIZE)]
    return lambda i: bank[i % BANK_SIZE]


def vec_env_stepper(env_id: str, batch: int, fresh: bool, seed: int) -> tuple[Callable[[int], int], Any]:
    vec = envs.make_vec_env(env_id, batch, seed=seed)
    vec.reset()
    slates = action_source(fresh, batch, vec.action_space.nvec[0], len(vec.action_space.nvec), seed)

    def step(i: int) -> int:
        vec.step(slates(i))
        return batch

    return step, vec


def simulator_stepper(env_id: str, batch: int, fresh: bool, seed: int) -> Callable[[int], int]:
    """The raw path `SessionBatch`/`SlateVecEnv` run, without the env bookkeeping."""
    config = envs.env_config_for(env_id).simulator
    sim = SessionSimulator(config)
    observe = ObservationBuilder(config, sim.catalog)
    streams = UserStreams(np.arange(batch) + seed)
    state = sim.reset(streams)
    observe(state)
    slates = action_source(fresh, batch, sim.num_candidates, sim.slate_size, seed)

    def step(i: int) -> int:
        result = sim.step(state, slates(i), streams)
        obs = observe(state)
        ended = np.flatnonzero(result.terminated | result.truncated)
        if ended.size:
            sim.reset_rows(state, ended, streams)
            fresh_obs = observe(state, ended)
            for key in obs:
                obs[key][ended] = fresh_obs[key]
        return batch

    return step


def single_env_stepper(env_id: str, fresh: bool, seed: int) -> Callable[[int], int]:
    env = gym.make(env_id)
    env.reset(seed=seed)
    n, k = int(env.action_space.nvec[0]), len(env.action_space.nvec)
    slates = action_source(fresh, 1, n, k, seed)

    def step(i: int) -> int:
        _, _, terminated, truncated, _ = env.step(slates(i)[0])
        if terminated or truncated:
            env.reset()
        return 1

    return step


def memory_per_user(vec: Any) -> dict[str, float]:
    """Bytes per simulated user: session state plus one observation of each user."""
    batch = vec.batch
    obs = batch.observe(batch.state)
    state_bytes = batch.state.nbytes() + batch.streams.keys.nbytes + batch.streams.counters.nbytes
    obs_bytes = sum(value.nbytes for value in obs.values())
    b = batch.num_users
    return {"state_bytes_per_user": state_bytes / b, "observation_bytes_per_user": obs_bytes / b}


def summary(rates: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "runs": rates}


def reference(batch: int, n: int, k: int, repeats: int, min_time: float, fresh: bool) -> dict[str, Any]:
    sys.path.insert(0, str(REFERENCE_DIR))
    from numpy_limit import measure

    r = measure(
        batch,
        n_items=n,
        dim=32,
        slate_size=k,
        repeats=repeats,
        min_time=min_time,
        with_policy=fresh,
        scoring="gather",
        seed=0,
    )
    return summary(r["user_steps_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1, 64, 1024, 16384],
        help="batch sizes B (concurrent users) to measure (default: 1 64 1024 16384)",
    )
    parser.add_argument(
        "--surfaces",
        nargs="+",
        choices=sorted(SURFACES),
        default=["shelf", "queue"],
        help="which envs: shelf = segue/MusicShelf-v0 (N=10, K=2),\n"
        "queue = segue/MusicQueue-v0 (N=100, K=10) (default: both)",
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=["vec", "sim"],
        default=["vec", "sim"],
        help="vec = SlateVecEnv.step, sim = raw simulator + observation + auto-reset",
    )
    parser.add_argument(
        "--actions",
        nargs="+",
        choices=["bank", "fresh"],
        default=["bank", "fresh"],
        help="bank = cycle 8 pre-drawn random slates, fresh = new random slates per step",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (default: 5)")
    parser.add_argument("--min-time", type=float, default=1.0, help="minimum seconds per repeat (default: 1.0)")
    parser.add_argument("--no-single", action="store_true", help="skip the single gymnasium.make env (B=1)")
    parser.add_argument("--no-reference", action="store_true", help="skip the numpy_limit.py reference")
    parser.add_argument("--seed", type=int, default=0, help="seed of users and random slates (default: 0)")
    parser.add_argument("--json", metavar="FILE", help="also write all results (every repeat) to FILE as JSON")
    args = parser.parse_args()

    meta = {
        "numpy": np.__version__,
        "python": platform.python_version(),
        "repeats": args.repeats,
        "min_time_s": args.min_time,
        "argv": sys.argv[1:],
    }
    print(
        f"numpy {meta['numpy']}, python {meta['python']}; {args.repeats} repeats x >= {args.min_time}s; "
        "user-steps/s: median [min, max]"
    )
    rows: list[dict[str, Any]] = []
    header = (
        f"{'surface':>7} {'path':>6} {'actions':>7} {'B':>6} {'user-steps/s':>13} {'min':>12} {'max':>12} "
        f"{'us/step':>9} {'reference':>12} {'ratio':>6}"
    )
    print(header)
    for surface in args.surfaces:
        env_id = SURFACES[surface]
        cfg = envs.env_config_for(env_id).simulator
        n, k = cfg.candidates.num_candidates, cfg.slate_size
        for batch in args.batch:
            for actions in args.actions:
                fresh = actions == "fresh"
                ref = None if args.no_reference else reference(batch, n, k, args.repeats, args.min_time, fresh)
                for path in args.paths:
                    row: dict[str, Any] = {
                        "surface": surface,
                        "env_id": env_id,
                        "N": n,
                        "K": k,
                        "path": path,
                        "actions": actions,
                        "batch": batch,
                    }
                    if path == "vec":
                        step, vec = vec_env_stepper(env_id, batch, fresh, args.seed)
                        row.update(memory_per_user(vec))
                    else:
                        step = simulator_stepper(env_id, batch, fresh, args.seed)
                    row["user_steps_per_s"] = summary(timed_repeats(step, args.repeats, args.min_time))
                    if ref is not None:
                        row["reference_user_steps_per_s"] = ref
                        row["ratio_to_reference"] = row["user_steps_per_s"]["median"] / ref["median"]
                    rows.append(row)
                    s = row["user_steps_per_s"]
                    ref_text = f"{ref['median']:>12,.0f} {row['ratio_to_reference']:>6.2f}" if ref else ""
                    print(
                        f"{surface:>7} {path:>6} {actions:>7} {batch:>6} {s['median']:>13,.0f} {s['min']:>12,.0f} "
                        f"{s['max']:>12,.0f} {1e6 * batch / s['median']:>9.1f} {ref_text}",
                        flush=True,
                    )
        mem = next((r for r in rows if r["surface"] == surface and "state_bytes_per_user" in r), None)
        if mem:
            print(
                f"{surface:>7} memory per user: state {mem['state_bytes_per_user']:.0f} B + observation "
                f"{mem['observation_bytes_per_user']:.0f} B"
            )

    if not args.no_single:
        print(f"\n{'surface':>7} {'single env steps/s':>19} {'min':>10} {'max':>10} {'us/step':>9}")
        for surface in args.surfaces:
            for actions in args.actions:
                rates = summary(
                    timed_repeats(
                        single_env_stepper(SURFACES[surface], actions == "fresh", args.seed),
                        args.repeats,
                        args.min_time,
                    )
                )
                rows.append(
                    {
                        "surface": surface,
                        "env_id": SURFACES[surface],
                        "path": "single",
                        "actions": actions,
                        "batch": 1,
                        "steps_per_s": rates,
                    }
                )
                print(
                    f"{surface:>7} {actions:>6} {rates['median']:>12,.0f} {rates['min']:>10,.0f} "
                    f"{rates['max']:>10,.0f} {1e6 / rates['median']:>9.1f}",
                    flush=True,
                )

    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
