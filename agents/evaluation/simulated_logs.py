"""Slate logs with known truth: one request per simulated user, served by a Plackett-Luce policy.

Off-policy estimators are validated where the answer is known. `log_first_requests` serves
each user's first request with the stochastic `LoggingPolicy` and records what a production
log would hold (the slate, per-slot rewards, exact slate, prefix and position propensities);
`on_policy_value` runs a target policy on *fresh* users of the same population, which is the
true value the estimators should recover. The per-slot reward is the slot's listening minutes,
so a slate's reward is the step's `listening_minutes` objective.

With the leave hazard and in-slate interactions switched off (`position_based_overrides`), the
reward of slot k depends only on the item there: the position-based model independent IPS
assumes. With them on (the default queue), it depends on slots 1..k: the cascade assumption of
reward-interaction IPS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.baselines import LoggingPolicy
from agents.evaluation.plackett_luce import position_marginals, prefix_log_probabilities
from envs.config import EnvConfig
from envs.core import SessionBatch

#: Simulator overrides that make slot rewards independent of the other slots.
POSITION_BASED_OVERRIDES = {
    "simulator.leave.base_logit": -20.0,
    "simulator.response.genre_fatigue_weight": 0.0,
    "simulator.response.artist_repeat_penalty": 0.0,
}


@dataclass(frozen=True)
class SlateLog:
    """n logged requests with slates of K slots from N candidates.

    Attributes:
        observation: the logged contexts, ``{user: [n, du], items: [n, N, di], mask: [n, N]}``.
        slate: int64[n, K] candidate indices shown, slot order.
        reward: float64[n, K] per-slot reward (listening minutes).
        prefix_propensity: float64[n, K] pi_0(a_1..a_k | x); the last column is the slate propensity.
        position_propensity: float64[n, K] pi_0(a_k at slot k | x).
    """

    observation: dict[str, np.ndarray]
    slate: np.ndarray
    reward: np.ndarray
    prefix_propensity: np.ndarray
    position_propensity: np.ndarray

    @property
    def slate_propensity(self) -> np.ndarray:
        return self.prefix_propensity[:, -1]


def _first_request(env_config: EnvConfig, users: int, seed: int) -> tuple[SessionBatch, dict[str, np.ndarray]]:
    batch = SessionBatch(env_config.simulator, users)
    batch.seed(seed + np.arange(users))
    return batch, batch.reset()


def target_propensities(
    policy: LoggingPolicy, observation: dict[str, np.ndarray], slate: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A PL policy's prefix propensities float64[n, K], position marginals of the logged slate
    float64[n, K], and full position marginals float64[n, K, N] (for the direct method)."""
    logits = policy.logits(observation["user"], observation["items"], observation["mask"])
    prefix = np.exp(prefix_log_probabilities(logits, observation["mask"], slate))
    marginals = position_marginals(logits, observation["mask"], slate.shape[1])
    shown = np.take_along_axis(marginals, slate[:, :, None], axis=2)[:, :, 0]
    return prefix, shown, marginals


def log_first_requests(env_config: EnvConfig, logging: LoggingPolicy, users: int, seed: int) -> SlateLog:
    """Serve `users` first requests (users seeded seed, seed+1, ...) with `logging` and log them."""
    batch, obs = _first_request(env_config, users, seed)
    logging.score(obs["user"], obs["items"], obs["mask"])
    slate = logging.last_slate
    assert slate is not None
    _, result = batch.step(slate)
    prefix, shown, _ = target_propensities(logging, obs, slate)
    return SlateLog(obs, slate, result.listened_s.astype(np.float64) / 60.0, prefix, shown)


def on_policy_value(env_config: EnvConfig, target: LoggingPolicy, users: int, seed: int) -> float:
    """Mean first-request slate reward of `target` on `users` fresh users: the truth for OPE."""
    batch, obs = _first_request(env_config, users, seed)
    target.score(obs["user"], obs["items"], obs["mask"])
    assert target.last_slate is not None
    _, result = batch.step(target.last_slate)
    return float(result.listened_s.sum(axis=1).mean() / 60.0)


class SlotRewardModel:
    """Least-squares reward model q(x, a, k) for the direct method and doubly robust estimates.

    Features: taste-item affinity, popularity, duration, and one intercept per slot. Deliberately
    simple: DM inherits its misspecification, DR corrects it with the importance-weighted residual.
    """

    def __init__(self, embedding_dim: int) -> None:
        self.d = embedding_dim
        self.coef: np.ndarray | None = None

    def features(self, observation: dict[str, np.ndarray], k: int) -> np.ndarray:
        """float64[n, K, N, F] features of every candidate in every slot."""
        user, items = observation["user"], observation["items"]
        d = self.d
        per_item = np.stack(
            [np.einsum("bnd,bd->bn", items[:, :, :d], user[:, :d]), items[:, :, d], items[:, :, d + 1]], axis=-1
        ).astype(np.float64)
        n, m, _ = per_item.shape
        slots = np.broadcast_to(np.eye(k)[None, :, None, :], (n, k, m, k))
        return np.concatenate([np.broadcast_to(per_item[:, None], (n, k, m, 3)), slots], axis=-1)

    def fit(self, log: SlateLog) -> SlotRewardModel:
        phi = self.features(log.observation, log.slate.shape[1])
        shown = np.take_along_axis(phi, log.slate[:, :, None, None], axis=2)[:, :, 0]
        self.coef = np.linalg.lstsq(shown.reshape(-1, shown.shape[-1]), log.reward.ravel(), rcond=None)[0]
        return self

    def predict(self, observation: dict[str, np.ndarray], k: int) -> np.ndarray:
        """q(x, a, k): float64[n, K, N]."""
        assert self.coef is not None, "fit the model first"
        return self.features(observation, k) @ self.coef
