"""The predicted-engagement features: unbiased for the next track, and what greedy ranks by."""

from __future__ import annotations

import numpy as np
import pytest

from envs import build_simulator, env_config_for
from envs.config import EnvConfig
from envs.core import SessionBatch
from simulators import OBJECTIVE_NAMES, SessionSimulator, item_feature_names, predicted_columns
from simulators.response import LATE_SKIP, leave_probability
from simulators.users import genre_exposure_of


def where_predictions_hold(users: int) -> tuple[SessionBatch, EnvConfig]:
    """One-track queues for `users` users in a world the predictions assume: hidden skip
    offset and patience at their means and no first-track bonus."""
    overrides = {"simulator.users.skip_propensity_sd": 0.0, "simulator.users.patience_sd": 0.0,
                 "simulator.response.first_track_bonus": 0.0, "simulator.slate_size": 1}
    env_config = env_config_for("segue/MusicQueue-v0", overrides=overrides)
    batch = SessionBatch(env_config.simulator, users, SessionSimulator(env_config.simulator))
    batch.seed(np.arange(users))
    return batch, env_config


def test_predictions_are_unbiased_for_the_next_track() -> None:
    # In a world where the predictions' assumptions hold, the realized reward of playing
    # candidate 0 must average to them.
    users = 40_000
    batch, _ = where_predictions_hold(users)
    obs = batch.reset()
    predicted = obs["items"][:, 0, predicted_columns(batch.simulator.catalog)]
    _, result = batch.step(np.zeros((users, 1), np.int64))
    error = result.objectives - predicted
    standard_error = error.std(axis=0) / np.sqrt(users)
    for name, mean, se in zip(OBJECTIVE_NAMES, error.mean(axis=0), standard_error, strict=True):
        assert abs(mean) < 4 * se + 1e-6, (name, mean, se)
    assert (predicted[:, 0] > 0).all() and (predicted[:, 2] <= 0).all()


@pytest.mark.parametrize("env_id", ["segue/MusicQueue-v0", "segue/KuaiRandFeed-v0"])
def test_prediction_and_key_columns_are_named_tagged_and_within_the_observation_space(env_id: str) -> None:
    env_config = env_config_for(env_id)
    simulator = build_simulator(env_id, env_config)
    batch = SessionBatch(env_config.simulator, 256, simulator)
    batch.seed(np.arange(256))
    obs = batch.reset()
    catalog = simulator.catalog
    columns = predicted_columns(catalog)
    assert item_feature_names(catalog)[columns] == [f"predicted_{name}" for name in OBJECTIVE_NAMES]
    assert batch.observation_space["items"].contains(obs["items"][0])
    predicted = obs["items"][:, :, columns]
    ids = batch.state.candidate_ids
    # A stream of an untagged track earns nothing promoted and nothing for discovery.
    assert (predicted[..., 3][~catalog.promoted[ids]] == 0).all()
    assert (predicted[..., 4][~(catalog.new_release | catalog.long_tail)[ids]] == 0).all()
    # Promoted and discovery both pay one per stream: equal where a track has both tags.
    both = catalog.promoted[ids] & (catalog.new_release | catalog.long_tail)[ids]
    np.testing.assert_array_equal(predicted[..., 3][both], predicted[..., 4][both])
    # The last column is the candidates' artist id, exactly (a key for the queue policy).
    assert item_feature_names(catalog)[-1] == "artist_key"
    mask = obs["mask"].astype(bool)
    np.testing.assert_array_equal(obs["items"][:, :, -1][mask], catalog.artist[ids][mask])


def test_predicted_repeat_cost_is_what_a_repeat_costs_when_played() -> None:
    # Half the users have just heard candidate 0's artist. Where the predictions' assumptions hold,
    # their realized reward of playing it must average to its fresh prediction minus repeat_cost.
    users = 40_000
    batch, env_config = where_predictions_hold(users)
    batch.reset()
    state, catalog = batch.state, batch.simulator.catalog
    weights = np.asarray(env_config.weight_vector())
    heard = np.arange(users) % 2 == 0
    first = state.candidate_ids[:, :1]
    state.users.recent_artists[heard, -1] = catalog.artist[first[heard, 0]]
    exposure = genre_exposure_of(state.users.genre_exposure, catalog.genre[first])
    args = (first, state.users.taste, state.users.premium, state.users.fatigue, exposure)
    fresh = batch.observe.engagement.predict(*args, np.zeros(first.shape, bool))[:, 0] @ weights
    cost = batch.observe.engagement.repeat_cost(*args, weights)[:, 0]
    _, result = batch.step(np.zeros((users, 1), np.int64))
    realized = result.objectives @ weights
    for group, expected in ((heard, fresh - cost), (~heard, fresh)):
        error = realized[group] - expected[group]
        assert abs(error.mean()) < 4 * error.std() / np.sqrt(group.sum()), error.mean()
    assert cost.mean() > 0.1  # and the cost is material: the check above tells the groups apart
    assert abs((realized[heard] - fresh[heard]).mean()) > 8 * realized.std() / np.sqrt(users / 2)


def test_stay_weights_predict_who_stays_after_the_track() -> None:
    # P(stay | track) is linear in the predictions: the realized share of users who stay after
    # one track must match it, both in the half predicted likelier to stay and in the other half.
    users = 60_000
    batch, _ = where_predictions_hold(users)
    obs = batch.reset()
    predicted = obs["items"][:, 0, predicted_columns(batch.simulator.catalog)].astype(np.float64)
    slope = batch.observe.engagement.stay_weights(batch.state.users.fatigue)
    users_now = batch.state.users
    late = np.full((users, 1), LATE_SKIP)
    h_late = leave_probability(batch.simulator.config.leave, late, users_now.fatigue, users_now.patience)[:, 0]
    expected = 1 - h_late + predicted @ slope
    _, result = batch.step(np.zeros((users, 1), np.int64))
    stayed = ~result.terminated
    order = np.argsort(expected)
    for group in (order[: users // 2], order[users // 2 :]):
        p = expected[group].mean()
        assert abs(stayed[group].mean() - p) < 4 * np.sqrt(p * (1 - p) / len(group)), (stayed[group].mean(), p)
    # MSSD listeners leave less after an early skip than after a late one, and the halves differ
    # by far more than the check above can resolve.
    assert slope[OBJECTIVE_NAMES.index("skips")] < 0
    gap = expected[order[users // 2 :]].mean() - expected[order[: users // 2]].mean()
    assert gap > 10 * np.sqrt(0.25 / (users // 2)), gap
