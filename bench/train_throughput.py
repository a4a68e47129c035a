#!/usr/bin/env python
"""PPO training throughput: Segue's batched VecEnv beside CartPole-v1 on 8 DummyVecEnv copies.

Both runs happen in the same process, one after the other, so the ratio compares like with
like on this machine. Segue uses the main job's default config (configs/train_default.yaml:
64 users in one SlateVecEnv, the Plackett-Luce slate scorer); CartPole uses SB3's default PPO
with MlpPolicy. A cProfile pass over the Segue run reports the share of wall time spent in the
simulator (SessionBatch.step + resets + observations) versus the learner.
Usage: python bench/train_throughput.py [--timesteps 32768] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from agents.config import load_train_config  # noqa: E402
from agents.train import build_env, build_model  # noqa: E402


def segue_model(tmp: Path) -> PPO:
    config = load_train_config()
    env, _ = build_env(config)
    return build_model(config, env, tmp)


def frames_per_second(model: PPO, timesteps: int) -> float:
    model.learn(1024)  # warm-up (allocations, first rollout)
    start = time.perf_counter()
    model.learn(timesteps, reset_num_timesteps=False)
    return timesteps / (time.perf_counter() - start)


def simulator_share(timesteps: int, tmp: Path) -> dict[str, float]:
    model = segue_model(tmp)
    profiler = cProfile.Profile()
    profiler.enable()
    model.learn(timesteps)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(row[3] for key, row in stats.stats.items() if key[2] == "learn")

    def cumulative(file_suffix: str, name: str) -> float:
        return sum(row[3] for key, row in stats.stats.items() if key[0].endswith(file_suffix) and key[2] == name)

    env_step = cumulative("envs/vec_env.py", "step_wait")
    simulator = cumulative("envs/core.py", "step") + cumulative("envs/core.py", "reset")
    train = cumulative("stable_baselines3/ppo/ppo.py", "train")
    return {
        "profiled_seconds": total,
        "simulator_share": simulator / total,
        "vec_env_share": env_step / total,
        "ppo_update_share": train / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timesteps", type=int, default=32768, help="timed timesteps per algorithm run")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the main job uses 2)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        segue = frames_per_second(segue_model(Path(tmp)), args.timesteps)
        cartpole_env = sb3_make_vec_env(lambda: gym.make("CartPole-v1"), n_envs=8, seed=0, vec_env_cls=DummyVecEnv)
        cartpole = frames_per_second(PPO("MlpPolicy", cartpole_env, seed=0), args.timesteps)
        profile = simulator_share(args.timesteps // 2, Path(tmp))
    result = {
        "timesteps": args.timesteps,
        "torch_threads": args.threads,
        "segue_music_queue_fps": segue,
        "cartpole_8x_dummy_fps": cartpole,
        "ratio": segue / cartpole,
        **profile,
    }
    print(json.dumps(result, indent=2))
    print(
        f"PPO frames/s: MusicQueue (64 users, one SlateVecEnv) {segue:,.0f} vs CartPole-v1 (8 DummyVecEnv) "
        f"{cartpole:,.0f}: ratio {segue / cartpole:.2f}; simulator share of wall time "
        f"{100 * profile['simulator_share']:.0f}%, PPO update {100 * profile['ppo_update_share']:.0f}%"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
