"""Load an exported scorer for serving: numpy and onnxruntime only (no torch, no pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

MASKED_SCORE = np.float32(-1.0e9)


class OnnxScorer:
    """Scores candidate sets with an exported `scorer.onnx`, validated against its model card.

    Args:
        path: the `.onnx` file, or the folder holding `scorer.onnx` and `model_card.json`.
        threads: onnxruntime intra-op threads (1 for latency-critical serving).
    """

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        model_path = folder / "scorer.onnx" if path.is_dir() else path
        if not model_path.is_file():
            raise FileNotFoundError(f"no ONNX scorer at {model_path}; export one with scripts/train_agent.py")
        card_path = folder / "model_card.json"
        self.card: dict[str, Any] = json.loads(card_path.read_text()) if card_path.is_file() else {}
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        shapes = {i.name: i.shape for i in self.session.get_inputs()}
        self.user_dim = int(shapes["user"][1])
        self.item_dim = int(shapes["items"][2])
        self.slate_size = int(self.card.get("slate_size", 1))
        self.name = self.card.get("name", "policy")

    def score(self, user: np.ndarray, items: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Scores float32[B, N] for user [B, du], items [B, N, di], mask [B, N]."""
        user = np.ascontiguousarray(user, dtype=np.float32)
        items = np.ascontiguousarray(items, dtype=np.float32)
        mask = np.ascontiguousarray(mask, dtype=bool)
        if user.ndim != 2 or user.shape[1] != self.user_dim:
            raise ValueError(f"user must be float32[B, {self.user_dim}], got shape {user.shape}")
        if items.ndim != 3 or items.shape[2] != self.item_dim or items.shape[0] != user.shape[0]:
            raise ValueError(f"items must be float32[{user.shape[0]}, N, {self.item_dim}], got shape {items.shape}")
        if mask.shape != items.shape[:2]:
            raise ValueError(f"mask must have shape {items.shape[:2]} (batch, candidates), got {mask.shape}")
        if not (np.isfinite(user).all() and np.isfinite(items).all()):
            raise ValueError("user and items must be finite (found NaN or inf)")
        return self.session.run(["scores"], {"user": user, "items": items, "mask": mask})[0]
