"""Maximum-likelihood response models on event logs: shared latent factors, one head per response.

For each event (user u, item i, duration d, context c) and head h, the linear predictor is

    eta_h = alpha_h + beta_h . x(d, c) + a_{u,h} + b_{i,h} + <p_u, q_i>

where x is a log-duration spline (plus "at most 7 s / 18 s" indicators, the thresholds in
KuaiRand's click and long-view definitions), a context one-hot and the user's activity (log
of their number of impressions in the log, centred): light users engage less, and without it
folded-in light users would be shrunk toward the heavy users' rates. Binary heads (click,
long view) are logistic; the watch head is an ordered logit over early skip / partial /
complete with cuts c1 < c2, exactly the form of `simulators.response.outcome_probabilities`,
so a fitted watch head maps onto the simulator. The taste match <p_u, q_i> is shared by all
heads with weight 1: a free per-head weight is not identified against the factors' scale
(it grows while the factors shrink under their penalty) and overfits.

The MAP estimate (Gaussian priors = L2 penalties) is found by L-BFGS with analytic gradients.
Users never seen in training are *folded in*: their biases and factors are fitted on their
first events with everything else fixed. A per-head temperature and shift, fitted on a
validation split of users, calibrates the probabilities: P = sigmoid(t * logit + s)
(`LikelihoodConfig.calibration = "temperature"` fixes s = 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, sparse
from scipy.special import expit, log_expit

from simulators.calibration.config import LikelihoodConfig
from simulators.logs import BINARY_RESPONSES, watch_outcome

if TYPE_CHECKING:
    import pandas as pd

#: Names of the binary outcomes every model is scored on: the binary heads, then the watch
#: outcome's two cumulative events.
WATCH_EVENTS = ("watch_past_early", "watch_complete")


@dataclass(frozen=True)
class FeatureMap:
    """Turns durations and contexts into the design matrix x: float64[R, F]."""

    log_duration_mean: float
    log_duration_sd: float
    knots: np.ndarray
    num_contexts: int
    log_activity_mean: float

    @classmethod
    def fit(
        cls, duration_s: np.ndarray, context: np.ndarray | None, user_events: np.ndarray, num_knots: int
    ) -> FeatureMap:
        z = np.log(duration_s)
        mean, sd = float(z.mean()), float(z.std() + 1e-9)
        knots = np.quantile((z - mean) / sd, np.linspace(0, 1, num_knots + 2)[1:-1])
        return cls(mean, sd, knots, 0 if context is None else int(context.max()) + 1, float(np.log(user_events).mean()))

    def __call__(self, duration_s: np.ndarray, context: np.ndarray | None, user_events: np.ndarray) -> np.ndarray:
        """Design matrix float64[R, F] from durations, contexts (or None) and user impression counts."""
        z = (np.log(duration_s) - self.log_duration_mean) / self.log_duration_sd
        columns = [z, *(np.maximum(z - k, 0) for k in self.knots), duration_s <= 7.0, duration_s <= 18.0]
        if self.num_contexts:
            ctx = np.zeros(len(z), np.int64) if context is None else np.minimum(context, self.num_contexts - 1)
            columns += [ctx == c for c in range(self.num_contexts)]
        columns.append(np.log(user_events) - self.log_activity_mean)
        return np.column_stack(columns).astype(np.float64)

    @property
    def width(self) -> int:
        return 4 + len(self.knots) + self.num_contexts


def user_events(frame: pd.DataFrame) -> np.ndarray:
    """Impressions of each row's user in `frame` (its `user_events` column if present): float64[R]."""
    if "user_events" in frame.columns:
        return frame["user_events"].to_numpy(dtype=np.float64)
    return frame.groupby("user_id")["user_id"].transform("size").to_numpy(dtype=np.float64)


def with_user_events(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with a `user_events` column counted on it, so later subsets keep the full counts."""
    return frame.assign(user_events=user_events(frame))


@dataclass
class EventArrays:
    """A log as the arrays the likelihood needs; user/item are row indices into the model's tables.

    Attributes:
        user: int64[R] user row; item: int64[R] item row (the model's last row = unknown item).
        user_id: int64[R] original user ids (for bootstrap clusters).
        x: float64[R, F] features; binary: int8[R, H-1] binary outcomes; watch: int8[R] in {0, 1, 2}.
    """

    user: np.ndarray
    item: np.ndarray
    user_id: np.ndarray
    x: np.ndarray
    binary: np.ndarray
    watch: np.ndarray
    _incidence: dict[str, sparse.csr_matrix] = field(default_factory=dict, repr=False)

    def incidence(self, name: str, rows: int) -> sparse.csr_matrix:
        """Sparse [rows, R] matrix summing per-event values into per-user or per-item totals."""
        if name not in self._incidence:
            index = self.user if name == "user" else self.item
            ones = np.ones(len(index))
            self._incidence[name] = sparse.csr_matrix((ones, (index, np.arange(len(index)))), shape=(rows, len(index)))
        return self._incidence[name]

    def subset(self, rows: np.ndarray) -> EventArrays:
        return EventArrays(
            self.user[rows], self.item[rows], self.user_id[rows], self.x[rows], self.binary[rows], self.watch[rows]
        )

    @property
    def outcomes(self) -> np.ndarray:
        """All scored binary events: int8[R, H + 1] (binary heads, then WATCH_EVENTS)."""
        return np.column_stack([self.binary, self.watch >= 1, self.watch >= 2]).astype(np.int8)


@dataclass
class ResponseModel:
    """Fitted parameters (all numpy, saved as NPZ without pickles).

    Attributes:
        responses: names of the binary heads (columns of `EventArrays.binary`).
        item_ids: int64[I] known item ids; item tables have I + 1 rows (last = unknown, zeros).
        item_duration_s: float64[I] their durations (what a simulator built from the fit plays).
        user_ids: int64[U] users of the user tables.
        params: blocks alpha[H-1], cuts[2] (c1, log(c2 - c1)), beta[H, F],
            user_bias[U, H], user_factor[U, k], item_bias[I+1, H], item_factor[I+1, k],
            temperature[H], shift[H], user_activity[U] (centred log impressions, a covariate).
    """

    responses: tuple[str, ...]
    features: FeatureMap
    item_ids: np.ndarray
    item_duration_s: np.ndarray
    user_ids: np.ndarray
    params: dict[str, np.ndarray]
    config: LikelihoodConfig

    @property
    def num_heads(self) -> int:
        return len(self.responses) + 1

    @property
    def event_names(self) -> tuple[str, ...]:
        return (*self.responses, *WATCH_EVENTS)

    def arrays(self, frame: pd.DataFrame, user_ids: np.ndarray | None = None) -> EventArrays:
        """Index a validated log against this model (unknown items map to the zero row)."""
        user_ids = self.user_ids if user_ids is None else user_ids
        users = frame["user_id"].to_numpy()
        user = np.searchsorted(user_ids, users)
        if np.any(user >= len(user_ids)) or np.any(user_ids[np.minimum(user, len(user_ids) - 1)] != users):
            raise ValueError("log has users outside the model's user table; fold them in first")
        items = frame["item_id"].to_numpy()
        item = np.minimum(np.searchsorted(self.item_ids, items), len(self.item_ids) - 1)
        item = np.where(self.item_ids[item] == items, item, len(self.item_ids))
        missing = [r for r in self.responses if r not in frame.columns]
        if missing:
            raise ValueError(f"log lacks response column(s) {missing} that the model predicts")
        context = frame["context"].to_numpy() if "context" in frame.columns else None
        return EventArrays(
            user=user.astype(np.int64),
            item=item.astype(np.int64),
            user_id=users,
            x=self.features(frame["item_duration_s"].to_numpy(), context, user_events(frame)),
            binary=frame[list(self.responses)].to_numpy().astype(np.int8),
            watch=watch_outcome(frame),
        )

    def linear_predictor(self, data: EventArrays, params: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """eta: float64[R, H] before the calibration map (see module docstring)."""
        return _linear_predictor(self.params if params is None else params, data)[0]

    def predict(self, data: EventArrays, calibrated: bool = True) -> np.ndarray:
        """Probabilities of every scored event: float64[R, H + 1] in `event_names` order."""
        logits = self.logits(data)
        if calibrated:
            head = np.append(np.arange(self.num_heads), self.num_heads - 1)  # both watch events: last head
            logits = logits * self.params["temperature"][head] + self.params["shift"][head]
        return expit(logits)

    def logits(self, data: EventArrays) -> np.ndarray:
        """Uncalibrated logits of the scored events: float64[R, H + 1]."""
        eta = self.linear_predictor(data)
        c1, c2 = watch_cuts(self.params)
        return np.column_stack([eta[:, :-1], eta[:, -1] - c1, eta[:, -1] - c2])

    def save(self, path: str | Path, metadata: str, extra: dict[str, np.ndarray] | None = None) -> None:
        """Write an NPZ (no pickles): parameters, tables, feature map, a metadata JSON string and `extra`."""
        f = self.features
        np.savez_compressed(
            path,
            **(extra or {}),
            **{f"param_{k}": v.astype(np.float32) for k, v in self.params.items()},
            item_ids=self.item_ids,
            item_duration_s=self.item_duration_s,
            user_ids=self.user_ids,
            responses=np.array(self.responses),
            feature_stats=np.array([f.log_duration_mean, f.log_duration_sd, f.num_contexts, f.log_activity_mean]),
            feature_knots=f.knots,
            config_json=np.array(self.config.model_dump_json()),
            metadata_json=np.array(metadata),
        )

    @classmethod
    def load(cls, path: str | Path) -> ResponseModel:
        with np.load(path, allow_pickle=False) as z:
            stats = z["feature_stats"]
            return cls(
                responses=tuple(str(r) for r in z["responses"]),
                features=FeatureMap(
                    float(stats[0]), float(stats[1]), z["feature_knots"], int(stats[2]), float(stats[3])
                ),
                item_ids=z["item_ids"],
                item_duration_s=z["item_duration_s"],
                user_ids=z["user_ids"],
                params={k[6:]: z[k].astype(np.float64) for k in z.files if k.startswith("param_")},
                config=LikelihoodConfig.model_validate_json(str(z["config_json"])),
            )


def watch_cuts(params: dict[str, np.ndarray]) -> tuple[float, float]:
    """The ordered-logit cuts (c1, c2) of the watch head, c2 > c1 by construction."""
    c1 = float(params["cuts"][0])
    return c1, c1 + float(np.exp(params["cuts"][1]))


def _linear_predictor(p: dict[str, np.ndarray], data: EventArrays) -> tuple[np.ndarray, np.ndarray]:
    """(eta float64[R, H], taste match float64[R])."""
    dot = np.einsum("rk,rk->r", p["user_factor"][data.user], p["item_factor"][data.item])
    eta = data.x @ p["beta"].T + p["user_bias"][data.user] + p["item_bias"][data.item] + dot[:, None]
    eta[:, :-1] += p["alpha"]
    return eta, dot


def _loss_and_gradient(
    p: dict[str, np.ndarray], data: EventArrays, penalties: dict[str, float]
) -> tuple[float, dict[str, np.ndarray]]:
    """Penalized negative log-likelihood (sum over events) and its gradient per block."""
    eta, _ = _linear_predictor(p, data)
    y = data.binary.astype(np.float64)
    nb = y.shape[1]
    loss = float(np.sum(np.logaddexp(0, eta[:, :nb]) - y * eta[:, :nb]))
    g_eta = np.empty_like(eta)
    g_eta[:, :nb] = expit(eta[:, :nb]) - y

    c1, log_gap = p["cuts"]
    gap = np.exp(log_gap)
    a, b = eta[:, -1] - c1, eta[:, -1] - c1 - gap
    w = data.watch
    sa, sb = expit(a), expit(b)
    mid = -(log_expit(a) + log_expit(-b) + np.log(-np.expm1(-gap)))
    loss += float(np.sum(np.where(w == 0, np.logaddexp(0, a), np.where(w == 2, np.logaddexp(0, -b), mid))))
    g_eta[:, -1] = np.where(w == 0, sa, np.where(w == 2, sb - 1, sa + sb - 1))
    inv = 1.0 / np.expm1(gap)
    d_c1 = np.where(w == 0, -sa, np.where(w == 2, 0.0, 1 - sa + inv))
    d_c2 = np.where(w == 0, 0.0, np.where(w == 2, 1 - sb, -sb - inv))
    grad: dict[str, np.ndarray] = {
        "alpha": g_eta[:, :nb].sum(axis=0),
        "cuts": np.array([d_c1.sum() + d_c2.sum(), d_c2.sum() * gap]),
        "beta": g_eta.T @ data.x,
    }
    users, items = p["user_bias"].shape[0], p["item_bias"].shape[0]
    to_user, to_item = data.incidence("user", users), data.incidence("item", items)
    grad["user_bias"] = np.asarray(to_user @ g_eta)
    grad["item_bias"] = np.asarray(to_item @ g_eta)
    g_dot = g_eta.sum(axis=1)
    grad["user_factor"] = np.asarray(to_user @ (g_dot[:, None] * p["item_factor"][data.item]))
    grad["item_factor"] = np.asarray(to_item @ (g_dot[:, None] * p["user_factor"][data.user]))
    for name, lam in penalties.items():
        loss += 0.5 * lam * float(np.sum(p[name] ** 2))
        grad[name] = grad[name] + lam * p[name]
    grad["item_bias"][-1] = 0.0  # the unknown-item row stays at the prior mean
    grad["item_factor"][-1] = 0.0
    return loss, grad


def _penalties(config: LikelihoodConfig) -> dict[str, float]:
    return {
        "user_bias": config.l2_user_bias,
        "user_factor": config.l2_user_factor,
        "item_bias": config.l2_item_bias,
        "item_factor": config.l2_item_factor,
        "beta": config.l2_coefficients,
    }


def _minimize(
    params: dict[str, np.ndarray], free: list[str], data: EventArrays, penalties: dict[str, float], max_iter: int
) -> dict[str, np.ndarray]:
    """L-BFGS over the `free` blocks of `params`, the others fixed; returns updated params."""
    shapes = [params[name].shape for name in free]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(theta: np.ndarray) -> dict[str, np.ndarray]:
        out = dict(params)
        for name, shape, chunk in zip(free, shapes, np.split(theta, np.cumsum(sizes)[:-1])):
            out[name] = chunk.reshape(shape)
        return out

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = _loss_and_gradient(unpack(theta), data, penalties)
        return loss, np.concatenate([grad[name].ravel() for name in free])

    theta0 = np.concatenate([params[name].ravel() for name in free])
    result = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return unpack(result.x)


def initial_params(
    data: EventArrays, num_users: int, num_items: int, features: int, config: LikelihoodConfig
) -> dict[str, np.ndarray]:
    """Marginal rates as intercepts and cuts, small random factors (seeded), zeros elsewhere."""
    rng = np.random.default_rng(config.split_seed)
    heads, k = data.binary.shape[1] + 1, config.num_factors
    rate = np.clip(data.binary.mean(axis=0), 1e-3, 1 - 1e-3)
    past, done = (data.watch >= 1).mean(), (data.watch >= 2).mean()
    c1, c2 = -np.log(past / (1 - past)), -np.log(done / (1 - done))
    return {
        "alpha": np.log(rate / (1 - rate)),
        "cuts": np.array([c1, np.log(max(c2 - c1, 1e-2))]),
        "beta": np.zeros((heads, features)),
        "user_bias": np.zeros((num_users, heads)),
        "user_factor": 0.1 * rng.standard_normal((num_users, k)),
        "item_bias": np.zeros((num_items + 1, heads)),
        "item_factor": np.vstack([0.1 * rng.standard_normal((num_items, k)), np.zeros((1, k))]),
        "temperature": np.ones(heads),
        "shift": np.zeros(heads),
    }


def fit_response_model(train: pd.DataFrame, config: LikelihoodConfig) -> ResponseModel:
    """MAP fit of all heads on `train` (a validated log); calibration map left at identity."""
    responses = tuple(r for r in BINARY_RESPONSES if r in train.columns)
    context = train["context"].to_numpy() if "context" in train.columns else None
    features = FeatureMap.fit(train["item_duration_s"].to_numpy(), context, user_events(train), config.duration_knots)
    item_ids, first = np.unique(train["item_id"].to_numpy(), return_index=True)
    durations = train["item_duration_s"].to_numpy()[first]
    model = ResponseModel(responses, features, item_ids, durations, np.unique(train["user_id"].to_numpy()), {}, config)
    data = model.arrays(train)
    model.params = initial_params(data, len(model.user_ids), len(model.item_ids), features.width, config)
    model.params["user_activity"] = _user_activity(model, train)
    free = ["alpha", "cuts", "beta", "user_bias", "user_factor", "item_bias", "item_factor"]
    model.params = _minimize(model.params, free, data, _penalties(config), config.max_iter)
    return model


def _user_activity(model: ResponseModel, frame: pd.DataFrame) -> np.ndarray:
    """Centred log impression count of each user of the model's table, from `frame`: float64[U]."""
    out = np.zeros(len(model.user_ids))
    if len(frame):
        index = np.searchsorted(model.user_ids, frame["user_id"].to_numpy())
        out[index] = np.log(user_events(frame)) - model.features.log_activity_mean
    return out


def fold_in(model: ResponseModel, frame: pd.DataFrame) -> ResponseModel:
    """A copy of `model` whose user tables are users of `frame`, fitted with items fixed.

    Every user in `frame` gets MAP biases and factors from their events there (the prior alone
    if they have none), the standard strong-generalization protocol for unseen users.
    """
    user_ids = np.unique(frame["user_id"].to_numpy())
    heads, k = model.num_heads, model.config.num_factors
    params = {name: value.copy() for name, value in model.params.items()}
    params["user_bias"] = np.zeros((len(user_ids), heads))
    params["user_factor"] = np.zeros((len(user_ids), k))
    folded = ResponseModel(
        model.responses, model.features, model.item_ids, model.item_duration_s, user_ids, params, model.config
    )
    params["user_activity"] = _user_activity(folded, frame)
    if len(frame):
        data = folded.arrays(frame)
        penalties = {n: v for n, v in _penalties(model.config).items() if n.startswith("user")}
        folded.params = _minimize(params, ["user_bias", "user_factor"], data, penalties, model.config.max_iter)
    return folded


def split_by_time(frame: pd.DataFrame, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Row masks (first, rest): each user's first `share` of events by timestamp, then the rest.

    Users with at least two events keep at least one on each side.
    """
    ordered = frame.reset_index(drop=True).sort_values(["user_id", "timestamp"], kind="stable")
    rank = ordered.groupby("user_id").cumcount().to_numpy()
    count = ordered.groupby("user_id")["user_id"].transform("size").to_numpy()
    cut = np.clip(np.round(share * count), 1, np.maximum(count - 1, 1))
    first = np.zeros(len(frame), bool)
    first[ordered.index.to_numpy()] = rank < cut
    return first, ~first


def fit_calibration(model: ResponseModel, data: EventArrays) -> tuple[np.ndarray, np.ndarray]:
    """Per-head temperature and shift float64[H] fitted on `data` (a validation split).

    The watch head gets one (t, s) for both of its cumulative events, which keeps it an
    ordered logit: P(y >= j) = sigmoid(t * (eta - c_j) + s).
    """
    logits, outcomes = model.logits(data), data.outcomes
    temperature, shift = np.ones(model.num_heads), np.zeros(model.num_heads)
    heads = [[h] for h in range(model.num_heads - 1)] + [[model.num_heads - 1, model.num_heads]]
    for h, columns in enumerate(heads):
        z, y = logits[:, columns].ravel(), outcomes[:, columns].ravel().astype(np.float64)

        def nll(ts: np.ndarray, z: np.ndarray = z, y: np.ndarray = y) -> tuple[float, np.ndarray]:
            v = ts[0] * z + ts[1]
            r = expit(v) - y
            return float(np.sum(np.logaddexp(0, v) - y * v)), np.array([np.dot(r, z), r.sum()])

        shift_bounds = (-10.0, 10.0) if model.config.calibration == "platt" else (0.0, 0.0)
        result = optimize.minimize(
            nll, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=[(0.05, 20.0), shift_bounds]
        )
        temperature[h], shift[h] = result.x
    return temperature, shift
