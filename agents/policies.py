"""The slate policy for PPO and A2C, built through SB3's published seams.

features extractor (`SlateObservationExtractor`: Dict obs -> one flat tensor)
  -> mlp extractor (`SlateScoringExtractor`: actor latent = ItemScorer scores[B, N],
                    critic latent = CandidateSetCritic over the same item encodings)
  -> action distribution (`PlackettLuceDistribution` over the scores, identity action net; for
                         a queue also over the candidates' artist keys, slot by slot)
so A2C and SB3's PPO run unmodified: rollouts, advantages and losses are inherited.
`evaluate_slots` adds the per-slot log-probabilities that `agents.slot_ppo` credits one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn

from agents.distributions import PlackettLuceDistribution
from agents.networks import CandidateSetCritic, ItemScorer, QueueDecoder


def observation_shapes(observation_space: spaces.Dict) -> tuple[int, int, int]:
    """(du, N, di) of a Segue Dict observation space, with a clear error for anything else."""
    keys = set(observation_space.spaces) if isinstance(observation_space, spaces.Dict) else set()
    if keys != {"user", "items", "mask"}:
        raise ValueError(f"expected a Dict(user, items, mask) observation space, got {observation_space}")
    user_dim = int(observation_space["user"].shape[0])
    num_candidates, item_dim = (int(x) for x in observation_space["items"].shape)
    return user_dim, num_candidates, item_dim


class SlateObservationExtractor(BaseFeaturesExtractor):
    """Flattens Dict(user, items, mask) into [user | items | mask] so SB3 sees one tensor.

    Args:
        observation_space: the Segue Dict observation space.
        drop_key: leave out the items' last column, the artist id: a key for the slate policy's
            queue decoding, which a plain MLP (SAC/TD3/DQN) would read as a number in the thousands.
    """

    def __init__(self, observation_space: spaces.Dict, drop_key: bool = False):
        user_dim, n, item_dim = observation_shapes(observation_space)
        self.item_columns = item_dim - 1 if drop_key else item_dim
        super().__init__(observation_space, features_dim=user_dim + n * self.item_columns + n)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        b = observations["user"].shape[0]
        items = observations["items"][..., : self.item_columns]
        return torch.cat([observations["user"], items.reshape(b, -1), observations["mask"].float()], dim=1)


class SlateScoringExtractor(nn.Module):
    """Splits the flat features back into (user, items, mask); actor -> scores, critic -> latent.

    With a queue context the actor latent is [scores | keys] (float[B, 2N]): SB3 hands the
    distribution one tensor, and the keys are what its slot-by-slot logits compare.
    """

    def __init__(
        self, user_dim: int, num_candidates: int, item_dim: int, hidden: int, attention: bool, context_lags: int
    ):
        super().__init__()
        self.user_dim, self.num_candidates, self.item_dim = user_dim, num_candidates, item_dim
        self.scorer = ItemScorer(user_dim, item_dim, hidden=hidden, attention=attention, context_lags=context_lags)
        self.critic = CandidateSetCritic(user_dim, hidden=hidden)
        self.latent_dim_pi = 2 * num_candidates if context_lags else num_candidates
        self.latent_dim_vf = self.critic.latent_dim

    def split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        du, n, di = self.user_dim, self.num_candidates, self.item_dim
        user = features[:, :du]
        items = features[:, du : du + n * di].reshape(-1, n, di)
        mask = features[:, du + n * di :] > 0.5
        return user, items, mask

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        user, items, mask = self.split(features)
        encoded = self.scorer.item_encoder(self.scorer.features(items))
        scores = self.scorer.score_encoded(user, items, encoded, mask)
        return self.actor_latent(scores, items), self.critic(user, encoded, mask)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        user, items, mask = self.split(features)
        return self.actor_latent(self.scorer(user, items, mask), items)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        user, items, mask = self.split(features)
        return self.critic(user, self.scorer.item_encoder(self.scorer.features(items)), mask)

    def actor_latent(self, scores: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return torch.cat([scores, self.scorer.keys(items)], dim=1) if self.scorer.context_lags else scores


def warm_start_at_ranker(
    scorer: ItemScorer,
    observation: dict[str, np.ndarray],
    item_weights: np.ndarray,
    sharpness: float,
    repeat_cost: np.ndarray | None = None,
) -> float:
    """Start the scorer at a linear ranker's ranking: score = beta * (item_weights . items + deep part).

    A policy that starts from uniform slates spends most of a short run learning what the
    predicted-engagement model already knows, and its on-policy data comes from slates nobody
    would serve. Starting from Plackett-Luce samples around the ranker production already runs
    (greedy on the `predicted_*` features, `agents.baselines.GreedyRanker.item_weights`) keeps
    the data near it, so PPO learns the *correction* to that ranker.

    The wide part gets `item_weights` and the scores get the inverse temperature beta, so every
    parameter is in reward units: Adam moves a score by a fraction of a track's value per step,
    whatever the world's units (in logit units a boost worth one track would take thousands of
    steps). beta puts `sharpness` logits on one standard deviation of the ranker's score across
    a request's candidates, measured on `observation`.

    A queue scorer's `repeat_penalty` starts at `repeat_cost`: what the predicted-engagement
    model says a track loses when its artist was heard `lag` tracks before
    (`simulators.prediction.EngagementModel.repeat_cost`), so the first queues already avoid
    what greedy's independent ranking walks into: the same artist twice in a row.

    Args:
        scorer: the network to initialise (its deep part keeps its near-zero output).
        observation: a batch of observations {user, items, mask} to measure the spread on.
        item_weights: float[item_dim], the ranker's score per unit of each item feature.
        sharpness: logits per standard deviation of the ranker's score.
        repeat_cost: float[L] per lag, in the ranker's units (queue scorers only; default 0).

    Returns:
        beta, the inverse temperature of the initial Plackett-Luce policy.
    """
    value = observation["items"].astype(np.float64) @ np.asarray(item_weights, np.float64)
    spread = float(np.nanstd(np.where(observation["mask"].astype(bool), value, np.nan), axis=1).mean())
    if not np.isfinite(spread) or spread <= 0:
        raise ValueError(
            "cannot warm start: the ranker's score does not vary across candidates "
            f"(spread {spread}); check the reward weights, or set policy.warm_start: null"
        )
    beta = sharpness / spread
    item_weights = np.asarray(item_weights, np.float32)
    scored, key = item_weights[: scorer.feature_dim], item_weights[scorer.feature_dim :]
    if key.any():
        raise ValueError("the ranker weighs the artist_key column, which the scorer never scores")
    with torch.no_grad():
        scorer.wide.weight.copy_(torch.as_tensor(scored, dtype=scorer.wide.weight.dtype)[None])
        scorer.wide.bias.zero_()
        scorer.score_scale.fill_(beta)
        if repeat_cost is not None:
            scorer.repeat_penalty.copy_(torch.as_tensor(np.asarray(repeat_cost), dtype=scorer.repeat_penalty.dtype))
    return beta


class SlateScoringPolicy(ActorCriticPolicy):
    """Actor-critic policy whose actor is an `ItemScorer` and whose actions are PL slates.

    Args:
        observation_space: Dict(user, items, mask).
        action_space: MultiDiscrete([N] * K).
        lr_schedule: learning-rate schedule.
        hidden: width of the scorer and critic.
        attention: candidate self-attention in the scorer.
        context_lags: for a queue, how many earlier slots a pick's artist is compared with (0: the
            slots are independent given the scores).
        **kwargs: passed to `ActorCriticPolicy` (e.g. `ortho_init`, `optimizer_kwargs`).
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.MultiDiscrete,
        lr_schedule: Schedule,
        hidden: int = 64,
        attention: bool = False,
        context_lags: int = 0,
        **kwargs: Any,
    ):
        if not isinstance(action_space, spaces.MultiDiscrete) or len(set(action_space.nvec.tolist())) != 1:
            raise ValueError(f"SlateScoringPolicy needs MultiDiscrete([N] * K) actions, got {action_space}")
        self.hidden, self.attention, self.context_lags = hidden, attention, context_lags
        self.slate_size = len(action_space.nvec)
        kwargs.setdefault("features_extractor_class", SlateObservationExtractor)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        user_dim, n, item_dim = observation_shapes(self.observation_space)
        self.mlp_extractor = SlateScoringExtractor(
            user_dim, n, item_dim, self.hidden, self.attention, self.context_lags
        )

    def _build(self, lr_schedule: Schedule) -> None:
        self._build_mlp_extractor()
        self.action_dist = PlackettLuceDistribution(self.slate_size)
        self.action_net = self.action_dist.proba_distribution_net(self.mlp_extractor.latent_dim_pi)
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        if self.ortho_init:
            self.mlp_extractor.apply(lambda module: self.init_weights(module, gain=float(np.sqrt(2))))
            for layer in (self.scorer.head, self.scorer.wide):
                self.init_weights(layer, gain=0.01)  # near-uniform initial slates
            self.init_weights(self.value_net, gain=1.0)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_action_dist_from_latent(self, latent_pi: torch.Tensor) -> Distribution:
        if not self.context_lags:
            return self.action_dist.proba_distribution(action_logits=self.action_net(latent_pi))
        scores, keys = latent_pi.chunk(2, dim=1)
        return self.action_dist.proba_distribution(self.action_net(scores), keys, self.scorer.lag_penalty())

    def evaluate_slots(
        self, obs: PyTorchObs, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """`evaluate_actions` with one log-probability per slot: values [B, 1], float[B, K], entropy [B]."""
        latent_pi, latent_vf = self.mlp_extractor(self.extract_features(obs))
        distribution = self._get_action_dist_from_latent(latent_pi)
        assert isinstance(distribution, PlackettLuceDistribution)
        return self.value_net(latent_vf), distribution.slot_log_prob(actions), distribution.entropy()

    @property
    def scorer(self) -> ItemScorer:
        """The candidate scorer the slates are drawn around."""
        return self.mlp_extractor.scorer

    def serving_module(self) -> nn.Module:
        """What `scorer.onnx` holds: the scorer, or on a queue the scorer plus its slot-by-slot decoding."""
        return QueueDecoder(self.scorer, self.slate_size) if self.context_lags else self.scorer

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(hidden=self.hidden, attention=self.attention, context_lags=self.context_lags)
        return data
