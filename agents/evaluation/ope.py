"""Off-policy estimates of a target policy's value from logs of another (the logging) policy.

Notation: logged rounds i = 1..n with context x_i, shown action (item or slate) a_i, reward r_i
and logging propensity p0_i = pi_0(a_i | x_i); p_i = pi(a_i | x_i) is the target policy's
probability of the same action, and w_i = p_i / p0_i the importance weight. Every estimator
returns an `Estimate` with a 95% percentile-bootstrap CI over the logged rounds
(scipy.stats.bootstrap; rounds are resampled as units, slates with all their positions).

=========================  =================================================================
``ips``                    (1/n) sum_i w_i r_i. Inverse propensity scoring, the Horvitz-Thompson
                           estimator (Horvitz & Thompson, JASA 1952). Unbiased when p0 > 0
                           wherever p > 0.
``snips``                  sum_i w_i r_i / sum_i w_i. Self-normalized IPS (Swaminathan &
                           Joachims, "The Self-Normalized Estimator for Counterfactual
                           Learning", NeurIPS 2015): slightly biased, consistent, lower variance.
``direct_method``          (1/n) sum_i E_{a ~ pi(.|x_i)} q(x_i, a) for a reward model q; as good
                           as q (Dudik, Langford & Li, ICML 2011, the DM baseline).
``doubly_robust``          DM + (1/n) sum_i w_i (r_i - q(x_i, a_i)). Unbiased if the propensities
                           are right, low variance if q is good ("Doubly Robust Policy
                           Evaluation and Learning", Dudik, Langford & Li, ICML 2011).
``independent_ips``        Slates, position-based model: (1/n) sum_i sum_k w_ik r_ik with
                           w_ik = pi(a_ik at k | x_i) / pi_0(a_ik at k | x_i), the position
                           marginals (IIPS; Li, Kim, Kveton et al., "Offline Evaluation of
                           Ranking Policies with Click Models", KDD 2018). Unbiased when the
                           reward at slot k depends only on the item at k.
``reward_interaction_ips``  Slates, cascade model: (1/n) sum_i sum_k w_i,1:k r_ik with prefix
                           weights w_i,1:k = pi(a_i1..a_ik | x_i) / pi_0(a_i1..a_ik | x_i)
                           (RIPS; McInerney, Brost, Chandar et al., "Counterfactual Evaluation of
                           Slate Recommendations with Sequential Reward Interactions", KDD
                           2020). Unbiased when the reward at k depends on slots 1..k only.
=========================  =================================================================

`min_propensity` clips logging propensities from below before dividing (a standard variance
control that biases IPS-type estimates slightly downward); estimates report how many rounds
were clipped. Inputs are checked: propensities must be finite and in (0, 1], and errors name
the offending positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A policy-value estimate with its 95% bootstrap CI."""

    estimator: str
    value: float
    low: float
    high: float
    n: int
    clipped: int = 0

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def check_propensities(name: str, propensity: np.ndarray, allow_zero: bool = False) -> np.ndarray:
    """float64 copy of `propensity`, or ValueError naming the bad positions (NaN, <= 0, > 1).

    Target propensities may be 0 (`allow_zero`): the target never takes that action.
    """
    p = np.asarray(propensity, dtype=np.float64)
    bad = ~np.isfinite(p) | (p > 1) | ((p < 0) if allow_zero else (p <= 0))
    if bad.any():
        where = np.argwhere(bad)
        shown = ", ".join(str(tuple(int(i) for i in w) if w.size > 1 else int(w[0])) for w in where[:5])
        rule = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(
            f"{name}: {int(bad.sum())} value(s) outside {rule} or not finite, at {shown}"
            f"{' ...' if len(where) > 5 else ''} (e.g. {p[tuple(where[0])]!r})"
        )
    return p


def _weights(target: np.ndarray, logging: np.ndarray, min_propensity: float) -> tuple[np.ndarray, int]:
    target = check_propensities("target propensity", target, allow_zero=True)
    logging = check_propensities("logging propensity", logging)
    if target.shape != logging.shape:
        raise ValueError(f"target and logging propensities differ in shape: {target.shape} vs {logging.shape}")
    clipped = int((logging < min_propensity).sum())
    return target / np.maximum(logging, min_propensity), clipped


def _check_rewards(reward: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    r = np.asarray(reward, dtype=np.float64)
    if r.shape != shape:
        raise ValueError(f"rewards must have shape {shape}, got {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError(
            f"rewards: {int((~np.isfinite(r)).sum())} value(s) are not finite, first at "
            f"{tuple(int(i) for i in np.argwhere(~np.isfinite(r))[0])}"
        )
    return r


def bootstrap(
    name: str,
    columns: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    seed: int = 0,
    resamples: int = 2000,
    clipped: int = 0,
) -> Estimate:
    """Estimate = statistic(*columns) with a paired percentile-bootstrap CI over rows.

    `statistic(*columns, axis=-1)` must be vectorised over a trailing row axis.
    """
    n = columns[0].shape[0]
    value = float(statistic(*columns, axis=-1))
    if n < 2 or all(np.all(c == c[0]) for c in columns):
        return Estimate(name, value, value, value, n, clipped)
    result = stats.bootstrap(
        columns,
        statistic,
        paired=True,
        vectorized=True,
        confidence_level=CONFIDENCE,
        n_resamples=resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
        batch=250,
    )
    interval = result.confidence_interval
    return Estimate(name, value, float(interval.low), float(interval.high), n, clipped)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _ratio(weighted_reward: np.ndarray, weight: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(weighted_reward, axis=axis) / np.maximum(np.sum(weight, axis=axis), 1e-300)


def ips(
    reward: np.ndarray,
    target: np.ndarray,
    logging: np.ndarray,
    min_propensity: float = 0.0,
    seed: int = 0,
    resamples: int = 2000,
) -> Estimate:
    """Inverse propensity scoring (Horvitz-Thompson): rewards, target and logging propensities float[n]."""
    w, clipped = _weights(target, logging, min_propensity)
    r = _check_rewards(reward, w.shape)
    return bootstrap("ips", (w * r,), _mean, seed, resamples, clipped)


def snips(
    reward: np.ndarray,
    target: np.ndarray,
    logging: np.ndarray,
    min_propensity: float = 0.0,
    seed: int = 0,
    resamples: int = 2000,
) -> Estimate:
    """Self-normalized IPS (Swaminathan & Joachims 2015): float[n] inputs as in `ips`."""
    w, clipped = _weights(target, logging, min_propensity)
    r = _check_rewards(reward, w.shape)
    return bootstrap("snips", (w * r, w), _ratio, seed, resamples, clipped)


def direct_method(model_value: np.ndarray, seed: int = 0, resamples: int = 2000) -> Estimate:
    """Direct method: per-round model value under the target, E_{a ~ pi(.|x_i)} q(x_i, a), float[n].

    The CI covers the sampling of contexts given the model, not the model's own error.
    """
    q = _check_rewards(model_value, np.shape(model_value))
    return bootstrap("direct_method", (q,), _mean, seed, resamples)


def doubly_robust(
    reward: np.ndarray,
    target: np.ndarray,
    logging: np.ndarray,
    model_logged: np.ndarray,
    model_value: np.ndarray,
    min_propensity: float = 0.0,
    seed: int = 0,
    resamples: int = 2000,
) -> Estimate:
    """Doubly robust (Dudik et al. 2011): model_logged = q(x_i, a_i), model_value = E_pi q(x_i, .), float[n]."""
    w, clipped = _weights(target, logging, min_propensity)
    r = _check_rewards(reward, w.shape)
    q_logged, q_target = _check_rewards(model_logged, w.shape), _check_rewards(model_value, w.shape)
    return bootstrap("doubly_robust", (q_target + w * (r - q_logged),), _mean, seed, resamples, clipped)


def independent_ips(
    reward: np.ndarray,
    target_marginal: np.ndarray,
    logging_marginal: np.ndarray,
    min_propensity: float = 0.0,
    seed: int = 0,
    resamples: int = 2000,
) -> Estimate:
    """IIPS (Li et al. 2018): per-slot rewards and position marginals of the shown items, float[n, K]."""
    return _slotwise_ips("independent_ips", reward, target_marginal, logging_marginal, min_propensity, seed, resamples)


def reward_interaction_ips(
    reward: np.ndarray,
    target_prefix: np.ndarray,
    logging_prefix: np.ndarray,
    min_propensity: float = 0.0,
    seed: int = 0,
    resamples: int = 2000,
) -> Estimate:
    """RIPS (McInerney et al. 2020): per-slot rewards, prefix propensities pi(a_1..a_k | x), float[n, K]."""
    return _slotwise_ips(
        "reward_interaction_ips", reward, target_prefix, logging_prefix, min_propensity, seed, resamples
    )


def _slotwise_ips(
    name: str,
    reward: np.ndarray,
    target: np.ndarray,
    logging: np.ndarray,
    min_propensity: float,
    seed: int,
    resamples: int,
) -> Estimate:
    """sum_k w_k r_k per logged slate; IIPS and RIPS differ only in which probabilities give w_k."""
    w, clipped = _weights(target, logging, min_propensity)
    r = _check_rewards(reward, w.shape)
    return bootstrap(name, ((w * r).sum(axis=1),), _mean, seed, resamples, clipped)
