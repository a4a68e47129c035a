"""Plackett-Luce slate probabilities: sampling, exact slate and prefix propensities, position marginals.

A Plackett-Luce (PL) policy with logits s[b, i] fills slot 1 with candidate i with probability
softmax(s)[i], then slot 2 from the remaining candidates, and so on. Its probabilities are what
off-policy estimators need:

- the *slate* propensity pi(a_1..a_K | x) (IPS, SNIPS, DR over whole slates),
- the *prefix* propensities pi(a_1..a_k | x) for every k (reward-interaction IPS),
- the *position marginals* pi(a at slot k | x) (independent IPS and the direct method).

The first two are exact products; the marginals sum over ordered prefixes, computed exactly by
enumeration (feasible for the small slates of bandit-style logs, refused beyond `MAX_PREFIXES`).
All arrays are float64 with a leading batch axis B; masked candidates have probability 0.
"""

from __future__ import annotations

import numpy as np

#: Ordered prefixes enumerated per row by `position_marginals` before it refuses (memory bound).
MAX_PREFIXES = 200_000


def masked_logits(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float64[B, N] logits with masked candidates at -inf."""
    return np.where(np.asarray(mask, bool), np.asarray(logits, np.float64), -np.inf)


def prefix_log_probabilities(logits: np.ndarray, mask: np.ndarray, slate: np.ndarray) -> np.ndarray:
    """log pi(a_1..a_k | x) for k = 1..K: float64[B, K] (the last column is the slate propensity)."""
    z = masked_logits(logits, mask)
    z = z - z.max(axis=1, keepdims=True)
    weight = np.exp(z)
    remaining = weight.sum(axis=1)
    chosen = np.take_along_axis(weight, slate, axis=1)  # [B, K]
    log_step = np.empty(slate.shape, np.float64)
    with np.errstate(divide="ignore"):  # a masked pick has probability 0: log 0 = -inf is the answer
        for j in range(slate.shape[1]):
            log_step[:, j] = np.log(chosen[:, j]) - np.log(np.maximum(remaining, 1e-300))
            remaining = remaining - chosen[:, j]
    return np.cumsum(log_step, axis=1)


def slate_log_probability(logits: np.ndarray, mask: np.ndarray, slate: np.ndarray) -> np.ndarray:
    """log pi(slate | x): float64[B] for slates int[B, K] of distinct candidates."""
    return prefix_log_probabilities(logits, mask, slate)[:, -1]


def position_marginals(logits: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """pi(candidate i at slot j | x) for j < k: float64[B, k, N], exact.

    Sums P(prefix) * w_i / (Z - W(prefix)) over the ordered prefixes of length j that exclude i,
    growing the prefix set one slot at a time (N**j prefixes at slot j, impossible ones weigh 0).
    """
    z = masked_logits(logits, mask)
    weight = np.exp(z - z.max(axis=1, keepdims=True))
    b, n = weight.shape
    if n ** max(k - 1, 0) > MAX_PREFIXES:
        raise ValueError(f"exact position marginals need {n}**{k - 1} prefixes per row; use N**(k-1) <= {MAX_PREFIXES}")
    total = weight.sum(axis=1)
    prob = np.ones((b, 1))
    removed = np.zeros((b, 1))
    used = np.zeros((b, 1, n), bool)
    marginals = np.empty((b, k, n))
    for j in range(k):
        step = np.where(used, 0.0, weight[:, None, :]) / np.maximum(total[:, None] - removed, 1e-300)[:, :, None]
        joint = prob[:, :, None] * step  # [B, P, N]: P(prefix, then i)
        marginals[:, j] = joint.sum(axis=1)
        if j + 1 < k:
            prob = joint.reshape(b, -1)
            removed = (removed[:, :, None] + weight[:, None, :]).reshape(b, -1)
            used = (used[:, :, None, :] | np.eye(n, dtype=bool)[None, None]).reshape(b, -1, n)
    return marginals
