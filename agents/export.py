"""Export the scoring policy to ONNX with a JSON model card: what a serving stack loads.

The ONNX graph takes ``user float32[B, du]``, ``items float32[B, N, di]``, ``mask bool[B, N]``
and returns ``scores float32[B, N]``, with B and N dynamic. A queue policy's graph decodes the
queue slot by slot inside (`agents.networks.QueueDecoder`), so its top K by score *is* the
queue, in order. The model card says what every
input column means (feature order), how to turn scores into a slate (top K), which objectives
and weights the policy was trained for, and which versions and config produced it. Both files
are written atomically (temporary file + rename), so a crash never leaves a half-written model.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.networks import MASKED_SCORE, ItemScorer

ONNX_OPSET = 17
INPUT_NAMES = ("user", "items", "mask")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; artifacts are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=False) + "\n").encode())


def export_onnx(scorer: nn.Module, path: str | Path, example_candidates: int = 12) -> Path:
    """Trace `scorer` (an `ItemScorer` or `QueueDecoder`) to ONNX at `path` (dynamic B and N)."""
    path = Path(path)
    scorer = scorer.eval()
    user = torch.zeros(2, scorer.user_dim)
    items = torch.zeros(2, example_candidates, scorer.item_dim)
    mask = torch.ones(2, example_candidates, dtype=torch.bool)
    axes = {
        "user": {0: "batch"},
        "items": {0: "batch", 1: "candidates"},
        "mask": {0: "batch", 1: "candidates"},
        "scores": {0: "batch", 1: "candidates"},
    }
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "scorer.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                scorer,
                (user, items, mask),
                str(staged),
                input_names=list(INPUT_NAMES),
                output_names=["scores"],
                dynamic_axes=axes,
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        atomic_write_bytes(path, staged.read_bytes())
    return path


def model_card(
    scorer: ItemScorer,
    *,
    user_features: list[str],
    item_features: list[str],
    slate_size: int,
    objective_names: list[str],
    weights: list[float],
    env_id: str,
    config_hash: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON description of an exported scorer (schema documented in README 'Serving')."""
    import gymnasium
    import onnx
    import stable_baselines3

    if len(user_features) != scorer.user_dim or len(item_features) != scorer.item_dim:
        raise ValueError(
            f"feature names ({len(user_features)} user, {len(item_features)} item) do not match the scorer "
            f"({scorer.user_dim}, {scorer.item_dim})"
        )
    if scorer.context_lags:
        slate = (
            f"the top {slate_size} candidates by score, best first: the graph decodes the queue slot by slot "
            f"(scores {slate_size}..1), a candidate losing repeat_penalty[lag - 1] when the pick lag slots "
            "earlier has its artist_key"
        )
    else:
        slate = f"the top {slate_size} candidates by score, best first"
    card = {
        "format": "segue-scorer/1",
        "model": "scorer.onnx",
        "inputs": {
            "user": {"dtype": "float32", "shape": ["batch", len(user_features)], "features": user_features},
            "items": {
                "dtype": "float32",
                "shape": ["batch", "candidates", len(item_features)],
                "features": item_features,
            },
            "mask": {"dtype": "bool", "shape": ["batch", "candidates"], "meaning": "true for real candidates"},
        },
        "outputs": {
            "scores": {
                "dtype": "float32",
                "shape": ["batch", "candidates"],
                "masked_value": MASKED_SCORE,
                "slate": slate,
            }
        },
        "slate_size": slate_size,
        "objectives": {"names": objective_names, "weights": dict(zip(objective_names, weights))},
        "environment": env_id,
        "config_sha256": config_hash,
        "architecture": {
            "class": "ItemScorer",
            "hidden": scorer.hidden,
            "attention": scorer.attention is not None,
            "queue_context_lags": scorer.context_lags,
            "repeat_penalty": [round(float(x), 6) for x in scorer.repeat_penalty.detach()],
            "parameters": int(sum(p.numel() for p in scorer.parameters())),
        },
        "versions": {
            "segue": "0.1.0",
            "torch": torch.__version__,
            "stable_baselines3": stable_baselines3.__version__,
            "gymnasium": gymnasium.__version__,
            "onnx": onnx.__version__,
            "onnx_opset": ONNX_OPSET,
            "numpy": np.__version__,
        },
    }
    card.update(extra or {})
    return card
