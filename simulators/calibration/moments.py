"""Simulated method of moments: fit the music queue so that its sessions look like MSSD's.

Only aggregates of Spotify's Music Streaming Sessions Dataset (Brost, Mehrotra & Jehan,
WWW 2019) are available, so the fit matches statistics, not events. Sessions are simulated
with `SessionSimulator` under a documented **logging policy** ("what the old recommender
did"): each queue's K tracks are a Plackett-Luce sample (Gumbel top-K) from a softmax over
the simulator's own expected affinity, `affinity_scale * <taste, track> + popularity_weight *
popularity_z`, at `MomentsConfig.logging_temperature`, played in a uniformly random order.
MSSD sessions are mostly playlists, albums and shuffle (not queues sorted by a model's score),
and an affinity-sorted queue would print a sawtooth of period K on the position curve that
the data does not have. MSSD's selection is modelled: sessions
shorter than `min_session_tracks` are dropped and longer ones truncated at
`max_session_tracks`, before any statistic is computed.

Statistics (labels from the listen fraction, thresholds in `MomentsConfig`): skip_2 rate at
positions 1-20, overall skip_1 / skip_2 / skip_3 / not_skipped rates, skip_2 of premium and
free users, skip_2 of each session's last (kept) track, and the session-length shares.

The objective is the sum of squared z-scores (simulated - observed) / SE with the data's
binomial SEs (a pseudo-SE for the overall rates); common random numbers (fixed seeds for the
users and the policy's Gumbel noise) make it a deterministic function of the parameters,
minimized by Nelder-Mead within box bounds, restarted from its best point with a fresh
simplex (`MomentsConfig.restarts`): the CRN objective is a fine staircase on which a collapsed
simplex stalls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

from simulators.calibration.config import MomentsConfig
from simulators.config import SimulatorConfig
from simulators.random import UserStreams
from simulators.session import SessionSimulator

RATE_NAMES = ("skip_1", "skip_2", "skip_3", "not_skipped")

#: Fitted parameters (dotted simulator-config keys) and their search boxes.
DEFAULT_PARAMETERS: dict[str, tuple[float, float]] = {
    "response.early_skip_threshold": (-3.0, 3.0),
    "response.completion_gap": (0.1, 5.0),
    "response.first_track_bonus": (-2.0, 4.0),
    "response.warmup_tracks": (0.2, 10.0),
    "response.premium_effect": (-2.0, 2.0),
    "response.early_skip_shape": (0.5, 15.0),
    "response.early_skip_max_fraction": (0.05, 0.6),
    "response.genre_fatigue_weight": (0.0, 2.0),
    "response.artist_repeat_penalty": (0.0, 3.0),
    "users.patience_sd": (0.0, 3.0),
    "users.skip_propensity_sd": (0.0, 3.0),
    "dynamics.genre_decay": (0.0, 0.95),
    "leave.base_logit": (-8.0, 0.0),
    "leave.after_early_skip": (-4.0, 4.0),
    "leave.after_completion": (-4.0, 4.0),
    "dynamics.skip_fatigue": (0.0, 3.0),
}


@dataclass(frozen=True)
class SessionStatistics:
    """MSSD-style aggregates, observed or simulated (each with its binomial SE).

    Attributes:
        skip_2_by_position, skip_2_by_position_se: float[P] at positions 1..P.
        rates: overall skip_1 / skip_2 / skip_3 / not_skipped; premium_skip_2, free_skip_2,
        last_track_skip_2 (and *_se); length_share, length_share_se: float[L] over lengths
        min..max; num_sessions: sessions kept.
    """

    skip_2_by_position: np.ndarray
    skip_2_by_position_se: np.ndarray
    rates: dict[str, float]
    premium_skip_2: float
    premium_skip_2_se: float
    free_skip_2: float
    free_skip_2_se: float
    last_track_skip_2: float
    last_track_skip_2_se: float
    length_share: np.ndarray
    length_share_se: np.ndarray
    num_sessions: int

    @property
    def premium_gap(self) -> float:
        """skip_2(premium) - skip_2(free); MSSD: about -0.02."""
        return self.premium_skip_2 - self.free_skip_2

    def as_dict(self) -> dict[str, Any]:
        return {
            "skip_2_by_position": self.skip_2_by_position.tolist(),
            "skip_2_by_position_se": self.skip_2_by_position_se.tolist(),
            "rates": dict(self.rates),
            "premium_skip_2": self.premium_skip_2,
            "free_skip_2": self.free_skip_2,
            "premium_gap": self.premium_gap,
            "premium_gap_se": float(np.hypot(self.premium_skip_2_se, self.free_skip_2_se)),
            "last_track_skip_2": self.last_track_skip_2,
            "last_track_skip_2_se": self.last_track_skip_2_se,
            "length_share": self.length_share.tolist(),
            "num_sessions": self.num_sessions,
        }


def _se(rate: np.ndarray | float, n: np.ndarray | float) -> np.ndarray:
    return np.sqrt(np.maximum(np.asarray(rate) * (1 - np.asarray(rate)), 1e-12) / np.maximum(n, 1))


def load_mssd_targets(folder: str | Path) -> SessionStatistics:
    """Read `mssd_mini_reference_stats/` (CSV aggregates) into SessionStatistics."""
    import pandas as pd

    folder = Path(folder)
    if not (folder / "summary.csv").is_file():
        raise FileNotFoundError(f"MSSD reference statistics not found in {folder} (expected summary.csv)")
    summary = pd.read_csv(folder / "summary.csv").set_index("statistic")["value"].astype(float)
    curve = pd.read_csv(folder / "skip2_by_session_position.csv").sort_values("session_position")
    groups = pd.read_csv(folder / "skip2_by_group.csv")
    lengths = pd.read_csv(folder / "session_length_distribution.csv").sort_values("session_length")

    def group(variable: str, value: str) -> tuple[float, float]:
        row = groups[(groups["variable"] == variable) & (groups["value"].astype(str) == value)].iloc[0]
        return float(row["skip_2_rate"]), float(row["binomial_se"])

    premium, premium_se = group("premium", "True")
    free, free_se = group("premium", "False")
    last, last_se = group("is_last_track_of_session", "True")
    share = lengths["share_of_sessions"].to_numpy(dtype=float)
    sessions = int(lengths["n_sessions"].sum())
    return SessionStatistics(
        skip_2_by_position=curve["skip_2_rate"].to_numpy(dtype=float),
        skip_2_by_position_se=curve["binomial_se"].to_numpy(dtype=float),
        rates={name: float(summary[f"{name}_rate_overall"]) for name in RATE_NAMES},
        premium_skip_2=premium,
        premium_skip_2_se=premium_se,
        free_skip_2=free,
        free_skip_2_se=free_se,
        last_track_skip_2=last,
        last_track_skip_2_se=last_se,
        length_share=share,
        length_share_se=_se(share, sessions),
        num_sessions=sessions,
    )


def simulate_sessions(config: SimulatorConfig, moments: MomentsConfig, sessions: int, seed: int) -> SessionStatistics:
    """Simulate `sessions` users under the logging policy and compute MSSD's statistics.

    Returns statistics of the kept (MSSD-selected, truncated) sessions only.
    """
    sim = SessionSimulator(config)
    streams = UserStreams(seed * 1_000_003 + np.arange(sessions))
    state = sim.reset(streams)
    k, n = sim.slate_size, sim.num_candidates
    max_tracks = moments.max_session_tracks
    steps = -(-max_tracks // k)
    gumbel, order = _policy_noise(seed, steps, sessions, n, k)
    cat, response = sim.catalog, config.response
    d = cat.embedding_dim
    features = np.ascontiguousarray(cat.static_features[:, : d + 1])
    fraction = np.full((sessions, steps * k), np.nan, np.float32)
    alive = np.ones(sessions, bool)
    for step in range(steps):
        emb = np.take(features, state.candidate_ids, axis=0)
        score = np.float32(response.affinity_scale) * np.einsum("bnd,bd->bn", emb[:, :, :d], state.users.taste)
        score += np.float32(response.popularity_weight) * emb[:, :, d]
        keys = np.where(state.candidate_mask, score / np.float32(moments.logging_temperature) + gumbel[step], -np.inf)
        top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
        slate = np.take_along_axis(top, order[step], axis=1)
        result = sim.step(state, slate, streams)
        heard = result.played & alive[:, None]
        frac = result.listened_s / cat.duration_s[result.item_ids]
        fraction[:, step * k : (step + 1) * k] = np.where(heard, frac, np.nan)
        alive &= ~result.terminated
    return session_statistics(fraction[:, :max_tracks], state.users.premium, moments)


@functools.lru_cache(maxsize=2)
def _policy_noise(seed: int, steps: int, sessions: int, candidates: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The logging policy's randomness, the same for every evaluation (common random numbers).

    Returns Gumbel noise float32[steps, S, N] (which tracks) and play orders int64[steps, S, K]
    (a uniformly random permutation of each queue).
    """
    rng = np.random.default_rng(seed)
    noise = rng.gumbel(size=(steps, sessions, candidates)).astype(np.float32)
    order = np.argsort(rng.random((steps, sessions, k)), axis=2)
    noise.flags.writeable = order.flags.writeable = False
    return noise, order


def session_statistics(fraction: np.ndarray, premium: np.ndarray, moments: MomentsConfig) -> SessionStatistics:
    """MSSD statistics from listen fractions float[S, T] (NaN after the session ended), premium bool[S].

    Tracks are heard in order, so a session's length is its count of non-NaN entries.
    """
    length = np.sum(~np.isnan(fraction), axis=1)
    keep = length >= moments.min_session_tracks
    f, length, premium = fraction[keep], length[keep], premium[keep]
    heard = ~np.isnan(f)
    with np.errstate(invalid="ignore"):
        skip_1 = f < moments.skip_1_fraction
        skip_2 = f < moments.skip_2_fraction
        skip_3 = f < moments.skip_3_fraction
        complete = f >= 1.0 - 1e-6
    rows = max(int(heard.sum()), 1)
    count = heard.sum(axis=0)
    by_position = skip_2.sum(axis=0) / np.maximum(count, 1)
    rates = {name: float(x.sum() / rows) for name, x in zip(RATE_NAMES, (skip_1, skip_2, skip_3, complete))}
    n_premium = max(int(heard[premium].sum()), 1)
    n_free = max(int(heard[~premium].sum()), 1)
    premium_rate = float(skip_2[premium].sum() / n_premium)
    free_rate = float(skip_2[~premium].sum() / n_free)
    sessions = max(int(keep.sum()), 1)
    last = skip_2[np.arange(len(length)), np.maximum(length - 1, 0)] if len(length) else np.zeros(0, bool)
    last_rate = float(last.mean()) if len(last) else float("nan")
    lengths = np.arange(moments.min_session_tracks, moments.max_session_tracks + 1)
    share = np.array([(length == value).mean() if len(length) else 0.0 for value in lengths])
    return SessionStatistics(
        skip_2_by_position=by_position,
        skip_2_by_position_se=_se(by_position, count),
        rates=rates,
        premium_skip_2=premium_rate,
        premium_skip_2_se=float(_se(premium_rate, n_premium)),
        free_skip_2=free_rate,
        free_skip_2_se=float(_se(free_rate, n_free)),
        last_track_skip_2=last_rate,
        last_track_skip_2_se=float(_se(last_rate, sessions)),
        length_share=share,
        length_share_se=_se(share, sessions),
        num_sessions=int(keep.sum()),
    )


def moment_residuals(simulated: SessionStatistics, observed: SessionStatistics, rate_se: float) -> np.ndarray:
    """z-scores (simulated - observed) / observed SE of every matched statistic: float[M]."""
    gap_se = np.hypot(observed.premium_skip_2_se, observed.free_skip_2_se)
    return np.concatenate(
        [
            (simulated.skip_2_by_position - observed.skip_2_by_position) / observed.skip_2_by_position_se,
            [(simulated.rates[name] - observed.rates[name]) / rate_se for name in RATE_NAMES],
            [(simulated.premium_gap - observed.premium_gap) / gap_se],
            [(simulated.last_track_skip_2 - observed.last_track_skip_2) / observed.last_track_skip_2_se],
            (simulated.length_share - observed.length_share) / observed.length_share_se,
        ]
    )


def with_parameters(base: SimulatorConfig, values: dict[str, float]) -> SimulatorConfig:
    """`base` with dotted-key parameters replaced (validated)."""
    tree = base.model_dump()
    for key, value in values.items():
        section, name = key.split(".")
        tree[section][name] = float(value)
    return SimulatorConfig.model_validate(tree)


@dataclass(frozen=True)
class MomentsFit:
    """Result of `fit_moments`: fitted values, objective, and the simulated statistics."""

    parameters: dict[str, float]
    objective: float
    evaluations: int
    config: SimulatorConfig
    simulated: SessionStatistics


def fit_moments(
    base: SimulatorConfig,
    observed: SessionStatistics,
    moments: MomentsConfig,
    parameters: dict[str, tuple[float, float]] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> MomentsFit:
    """Minimize the SMM objective over `parameters` (dotted key -> (low, high)) from `base`.

    Starts at the base config's values (clipped into the boxes); Nelder-Mead in coordinates
    scaled to [0, 1] per parameter so one simplex step means the same share of every box.
    `progress(evaluations, best_objective)` is called after each evaluation.
    """
    boxes = parameters or DEFAULT_PARAMETERS
    keys = list(boxes)
    low = np.array([boxes[k][0] for k in keys])
    high = np.array([boxes[k][1] for k in keys])
    tree = base.model_dump()
    start = np.array([tree[k.split(".")[0]][k.split(".")[1]] for k in keys], dtype=float)
    start = (np.clip(start, low, high) - low) / (high - low)
    best = [np.inf]
    evaluations = [0]

    def objective(unit: np.ndarray) -> float:
        values = dict(zip(keys, low + np.clip(unit, 0, 1) * (high - low)))
        try:
            config = with_parameters(base, values)
        except ValueError:
            return 1e12
        stats = simulate_sessions(config, moments, moments.sessions, moments.seed)
        value = float(np.sum(moment_residuals(stats, observed, moments.rate_weight_se) ** 2))
        evaluations[0] += 1
        best[0] = min(best[0], value)
        if progress is not None:
            progress(evaluations[0], best[0])
        return value

    point, step = start, 0.15
    for _ in range(moments.restarts):  # a fresh simplex escapes Nelder-Mead's premature collapse
        simplex = np.vstack([point, point + np.diag(np.where(point < 0.5, step, -step))])
        result = optimize.minimize(
            objective,
            point,
            method="Nelder-Mead",
            bounds=[(0, 1)] * len(keys),
            options={
                "maxfev": moments.max_evaluations // moments.restarts,
                "initial_simplex": simplex,
                "xatol": 1e-3,
                "fatol": 1e-2,
            },
        )
        point = np.clip(result.x, 0, 1)
    fitted = {k: float(v) for k, v in zip(keys, low + np.clip(result.x, 0, 1) * (high - low))}
    config = with_parameters(base, fitted)
    simulated = simulate_sessions(config, moments, moments.report_sessions, moments.seed + 1)
    return MomentsFit(fitted, float(result.fun), evaluations[0], config, simulated)
