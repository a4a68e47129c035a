"""Turn a fitted response model into a simulator world: real items, fitted users, fitted response.

The simulator scores a track with `affinity_scale * <taste, embedding>` between unit vectors,
minus a per-user skip propensity, and draws the outcome from an ordered logit with cuts
`early_skip_threshold` and `+ completion_gap`. The fitted watch head is

    P(outcome >= j) = sigmoid(t * (a_u + s_i + <p_u, q_i> - c_j) + shift),

with s_i = item bias + duration/context terms (context averaged uniformly) and a_u = user bias +
the activity term of that user. Both forms agree
exactly when the vectors are padded to constant norms R (items) and S (users):

    item  x_i = [q_i, s_i, 0, sqrt(R^2 - |q_i|^2 - s_i^2)] / R
    user  y_u = [p_u, 1, sqrt(S^2 - |p_u|^2 - 1), 0] / S

so <y_u, x_i> * R * S = <p_u, q_i> + s_i, and affinity_scale = t * R * S, skip_propensity =
-t * a_u, early_skip_threshold = t * c1 - shift, completion_gap = t * (c2 - c1). Popularity,
premium and first-track terms are switched off: the random-exposure log has none of them.
Genres (for genre fatigue) are the dominant signed factor of each item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.calibration.likelihood import ResponseModel, watch_cuts
from simulators.items import Catalog, catalog_from_tracks
from simulators.users import UserTable


@dataclass(frozen=True)
class FittedWorld:
    """Catalog, user table and the simulator-config values that reproduce the fitted watch head."""

    catalog: Catalog
    users: UserTable
    response: dict[str, float]


def item_scalar(model: ResponseModel) -> np.ndarray:
    """Watch-head item term s_i (bias + duration spline, context averaged): float64[I]."""
    features = model.features
    typical_user = np.full(len(model.item_duration_s), np.exp(features.log_activity_mean))
    x = features(model.item_duration_s, None, typical_user)
    if features.num_contexts:
        x[:, -1 - features.num_contexts : -1] = 1.0 / features.num_contexts
    return x @ model.params["beta"][-1] + model.params["item_bias"][:-1, -1]


def world_from_model(model: ResponseModel) -> FittedWorld:
    """Build the KuaiRand-style world from a fitted model (needs at least one latent factor)."""
    p = model.params
    q, pu = p["item_factor"][:-1], p["user_factor"]
    if q.shape[1] == 0:
        raise ValueError("a world needs latent factors: fit with num_factors >= 1")
    s = item_scalar(model)
    item_norm2 = np.sum(q**2, axis=1) + s**2
    user_norm2 = np.sum(pu**2, axis=1) + 1.0
    r2, s2 = item_norm2.max() * 1.0001, user_norm2.max() * 1.0001
    m, u = len(s), len(pu)
    items = np.column_stack([q, s, np.zeros(m), np.sqrt(r2 - item_norm2)]) / np.sqrt(r2)
    users = np.column_stack([pu, np.ones(u), np.sqrt(s2 - user_norm2), np.zeros(u)]) / np.sqrt(s2)
    t, shift = float(p["temperature"][-1]), float(p["shift"][-1])
    c1, c2 = watch_cuts(p)
    genre = np.argmax(np.column_stack([q, -q]), axis=1)
    flags = np.zeros(m, bool)
    catalog = catalog_from_tracks(
        items, genre, np.arange(m), np.ones(m), model.item_duration_s, flags, flags, flags, flags
    )
    user_term = p["user_bias"][:, -1] + p["beta"][-1, -1] * p["user_activity"]
    table = UserTable(taste=users.astype(np.float32), skip_propensity=(-t * user_term).astype(np.float32))
    response = {
        "affinity_scale": t * float(np.sqrt(r2 * s2)),
        "popularity_weight": 0.0,
        "premium_effect": 0.0,
        "first_track_bonus": 0.0,
        "early_skip_threshold": t * c1 - shift,
        "completion_gap": t * (c2 - c1),
    }
    return FittedWorld(catalog, table, response)
