"""CI-sized version of the claim that the default learner beats the greedy ranker.

The default main job (configs/train_default.yaml: PPO, warm start at greedy's ranking) on the
KuaiRand-calibrated feed, with a fifth of the default training and fewer evaluation sessions,
fixed seeds. Full-size numbers for both worlds and three seeds: docs/beating_greedy.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config import load_train_config
from agents.train import train


@pytest.mark.slow
def test_default_learner_beats_greedy_on_the_kuairand_feed(tmp_path: Path) -> None:
    config = load_train_config(
        overrides={
            "env.id": "segue/KuaiRandFeed-v0",
            "total_timesteps": 40_000,
            "checkpoint_every": 40_000,
            "torch_threads": 1,
            "run_dir": str(tmp_path / "run"),
            "evaluation.sessions": 3000,
            "evaluation.baselines": ["greedy"],
        }
    )
    result = train(config, progress_bar=False)
    assert result.evaluation is not None
    gain = result.evaluation["paired_differences"]["greedy"]
    assert gain["total"]["low"] > 0, gain["total"]  # the 95% CI of policy - greedy lies above 0
    assert gain["listening_minutes"]["mean"] > 0, gain["listening_minutes"]
