"""ONNX export: parity with torch, agreement with SB3's predict, loading without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from agents.baselines import top_k
from agents.export import export_onnx, model_card
from agents.networks import ItemScorer, QueueDecoder
from agents.onnx_scorer import OnnxScorer
from agents.policies import SlateScoringPolicy
from envs import make_vec_env

SMALL = {
    "simulator.catalog.num_items": 600,
    "simulator.catalog.num_artists": 120,
    "simulator.max_steps": 6,
    "simulator.candidates.num_candidates": 30,
    "simulator.slate_size": 4,
}


@pytest.fixture(
    scope="module", params=[(False, 0), (True, 0), (True, 3)], ids=["mlp", "attention", "queue_context"]
)
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[PPO, Path]:
    attention, context_lags = request.param
    env = make_vec_env("segue/MusicQueue-v0", 8, seed=0, overrides=SMALL)
    model = PPO(
        SlateScoringPolicy,
        env,
        n_steps=16,
        batch_size=64,
        n_epochs=1,
        seed=0,
        policy_kwargs={"hidden": 16, "attention": attention, "context_lags": context_lags},
    )
    model.learn(256)
    with torch.no_grad():  # make scores far from uniform so parity is meaningful
        for p in model.policy.scorer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    path = export_onnx(serving_module(model), tmp_path_factory.mktemp("export") / "scorer.onnx")
    return model, path


def serving_module(model: PPO) -> torch.nn.Module:
    """What is exported (`SlateScoringPolicy.serving_module`)."""
    assert isinstance(model.policy, SlateScoringPolicy)
    return model.policy.serving_module()


def random_inputs(rng: np.random.Generator, b: int, n: int, module: torch.nn.Module) -> tuple[np.ndarray, ...]:
    """Random inputs; for a queue decoder the key column holds 4 artists, so keys repeat."""
    user = rng.standard_normal((b, module.user_dim)).astype(np.float32)
    items = rng.standard_normal((b, n, module.item_dim)).astype(np.float32)
    if isinstance(module, QueueDecoder):
        items[:, :, -1] = rng.integers(0, 4, size=(b, n))
    mask = rng.random((b, n)) > 0.3
    mask[:, 0] = True
    return user, items, mask


def test_onnx_matches_torch_at_several_candidate_counts(trained: tuple[PPO, Path]) -> None:
    model, path = trained
    module, onnx = serving_module(model).eval(), OnnxScorer(path)  # onnxruntime on one thread
    rng = np.random.default_rng(0)
    # The torch reference on one thread too: at 200 candidates torch's multi-threaded attention sums
    # in another order and lands 3e-5 away, so the test passed or failed with the thread count an
    # earlier test in the same worker had left.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for n in (1, 5, 30, 200):
            user, items, mask = random_inputs(rng, 7, n, module)
            with torch.no_grad():
                expected = module(torch.from_numpy(user), torch.from_numpy(items), torch.from_numpy(mask)).numpy()
            got = onnx.score(user, items, mask)
            assert np.abs(got - expected).max() <= 1e-5
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("trained", [(True, 3)], ids=["queue_context"], indirect=True)
def test_exported_queue_is_the_policy_mode_with_artists_spaced(trained: tuple[PPO, Path]) -> None:
    model, path = trained
    policy = model.policy
    user, items, mask = random_inputs(np.random.default_rng(1), 64, 30, serving_module(model))
    mask[:] = True
    learned = policy.scorer.repeat_penalty.detach().clone()
    try:
        with torch.no_grad():
            policy.scorer.repeat_penalty.fill_(1e3)
            onnx = OnnxScorer(export_onnx(serving_module(model), path.parent / "spaced.onnx"))
            obs = {"user": torch.from_numpy(user), "items": torch.from_numpy(items), "mask": torch.from_numpy(mask)}
            mode = policy.get_distribution(obs).mode().numpy()
    finally:
        with torch.no_grad():
            policy.scorer.repeat_penalty.copy_(learned)
    queue = top_k(onnx.score(user, items, mask), mask, policy.slate_size)
    np.testing.assert_array_equal(queue, mode)
    artists = np.take_along_axis(items[:, :, -1], queue, axis=1)
    for lag in (1, 2, 3):  # 4 artists, lags 1-3 penalised: the 4 slots hold 4 different artists
        assert (artists[:, lag:] != artists[:, :-lag]).all()


def test_onnx_top_k_equals_sb3_deterministic_predict(trained: tuple[PPO, Path]) -> None:
    model, path = trained
    env = model.get_env()
    obs = env.reset()
    onnx = OnnxScorer(path)
    for _ in range(5):
        action, _ = model.predict(obs, deterministic=True)
        scores = onnx.score(obs["user"], obs["items"], obs["mask"])
        np.testing.assert_array_equal(top_k(scores, obs["mask"], action.shape[1]), action)
        obs, *_ = env.step(action)


def test_onnx_scores_are_permutation_equivariant(trained: tuple[PPO, Path]) -> None:
    _, path = trained
    onnx = OnnxScorer(path)
    rng = np.random.default_rng(1)
    user = rng.standard_normal((2, onnx.user_dim)).astype(np.float32)
    items = rng.standard_normal((2, 50, onnx.item_dim)).astype(np.float32)
    mask = np.ones((2, 50), bool)
    perm = rng.permutation(50)
    np.testing.assert_allclose(
        onnx.score(user, items[:, perm], mask), onnx.score(user, items, mask)[:, perm], atol=1e-5
    )


def test_bad_inputs_are_rejected_with_shapes_named(trained: tuple[PPO, Path]) -> None:
    _, path = trained
    onnx = OnnxScorer(path)
    user = np.zeros((2, onnx.user_dim), np.float32)
    items = np.zeros((2, 5, onnx.item_dim), np.float32)
    with pytest.raises(ValueError, match="user must be"):
        onnx.score(user[:, :-1], items, np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="mask must have shape"):
        onnx.score(user, items, np.ones((2, 4), bool))
    items[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        onnx.score(user, items, np.ones((2, 5), bool))
    with pytest.raises(FileNotFoundError, match="no ONNX scorer"):
        OnnxScorer(path.parent / "missing.onnx")


def test_loading_for_scoring_needs_neither_torch_nor_pickle(trained: tuple[PPO, Path]) -> None:
    _, path = trained
    code = (
        "import sys, numpy as np\n"
        "from agents.onnx_scorer import OnnxScorer\n"
        f"s = OnnxScorer({str(path)!r})\n"
        "u, i = np.zeros((1, s.user_dim), np.float32), np.zeros((1, 3, s.item_dim), np.float32)\n"
        "x = s.score(u, i, np.ones((1, 3), bool))\n"
        "print(x.shape, [m for m in ('torch', 'pickle', 'stable_baselines3', 'gymnasium') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("(1, 3)")
    assert "torch" not in out.stdout and "stable_baselines3" not in out.stdout


def test_model_card_describes_inputs_and_objectives(tmp_path: Path) -> None:
    scorer = ItemScorer(3, 2, hidden=8)
    card = model_card(
        scorer,
        user_features=["a", "b", "c"],
        item_features=["x", "y"],
        slate_size=4,
        objective_names=["m", "n"],
        weights=[1.0, 0.5],
        env_id="segue/MusicQueue-v0",
        config_hash="abc",
    )
    assert card["inputs"]["user"]["features"] == ["a", "b", "c"]
    assert card["objectives"]["weights"] == {"m": 1.0, "n": 0.5}
    assert card["versions"]["onnx_opset"] >= 17
    json.dumps(card)
    with pytest.raises(ValueError, match="feature names"):
        model_card(
            scorer,
            user_features=["a"],
            item_features=["x", "y"],
            slate_size=4,
            objective_names=[],
            weights=[],
            env_id="",
            config_hash="",
        )
