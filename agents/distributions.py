"""Plackett-Luce: a distribution over ordered slates of K distinct candidates.

P(a_1..a_K) = prod_k exp(s_k(a_k)) / sum_{j not in a_<k} exp(s_k(j))  (Plackett 1975, Luce 1959).

Without context the slot logits are the candidates' scores, s_k = s: sampling then uses the
Gumbel-top-K trick (the top K of s + Gumbel noise is an exact PL sample; Yellott 1977, Kool et
al. ICML 2019), with no Python loop over slots, and the mode is the top K by score.

With a queue context the logits of slot k also depend on the picks before it: a candidate
whose key (its artist) equals the key of the pick `lag` slots earlier loses `lag_penalty[lag-1]`
logits. A queue is heard in order, and a listener skips a track by the artist they heard a few
tracks ago; independent scores cannot express "not two of these together", so the slate is
drawn slot by slot (K small steps of [B, N] work). Masked candidates carry MASKED_SCORE and get
probability exactly 0.
"""

from __future__ import annotations

import torch
from stable_baselines3.common.distributions import Distribution
from torch import nn


def lag_matrix(lag_penalty: torch.Tensor, slate_size: int) -> torch.Tensor:
    """W[k, j] = lag_penalty[k - j - 1] for 1 <= k - j <= L, else 0: float[K, K]."""
    lags = torch.arange(slate_size)[:, None] - torch.arange(slate_size)[None, :]
    in_reach = (lags >= 1) & (lags <= lag_penalty.shape[0])
    padded = torch.cat([lag_penalty.new_zeros(1), lag_penalty])
    return padded[torch.where(in_reach, lags, torch.zeros_like(lags))]


def decode_queue(
    logits: torch.Tensor,
    keys: torch.Tensor,
    lag_penalty: torch.Tensor,
    slate_size: int,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fill a queue slot by slot: argmax of the slot's logits (+ noise[:, k]): int64[B, K].

    With Gumbel `noise` float[B, K, N] this is an exact sample of the contextual Plackett-Luce
    distribution (each slot is a categorical draw over the candidates left); without, its mode.
    Written with comparisons and gathers only, so it traces to ONNX with a dynamic N.
    """
    index = torch.cumsum(torch.ones_like(logits, dtype=torch.long), dim=1) - 1
    taken = torch.zeros_like(logits, dtype=torch.bool)
    same_as: list[torch.Tensor] = []  # per placed slot: which candidates share its key, float[B, N]
    picks = []
    for slot in range(slate_size):
        slot_logits = logits
        for lag in range(1, min(slot, lag_penalty.shape[0]) + 1):
            slot_logits = slot_logits - lag_penalty[lag - 1] * same_as[slot - lag]
        if noise is not None:
            slot_logits = slot_logits + noise[:, slot]
        pick = slot_logits.masked_fill(taken, float("-inf")).argmax(dim=1)
        picks.append(pick)
        taken = taken | (index == pick[:, None])
        same_as.append((keys == keys.gather(1, pick[:, None])).to(logits.dtype))
    return torch.stack(picks, dim=1)


class PlackettLuceDistribution(Distribution):
    """SB3 `Distribution` over slates: actions are int[B, K] candidate indices in slot order.

    Args:
        slate_size: K.
    """

    def __init__(self, slate_size: int):
        super().__init__()
        self.slate_size = slate_size
        self.logits: torch.Tensor | None = None
        self.keys: torch.Tensor | None = None
        self.lag_penalty: torch.Tensor | None = None

    def proba_distribution_net(self, latent_dim: int) -> nn.Module:
        """The scores are the logits already: the action net is the identity."""
        return nn.Identity()

    def proba_distribution(
        self,
        action_logits: torch.Tensor,
        keys: torch.Tensor | None = None,
        lag_penalty: torch.Tensor | None = None,
    ) -> PlackettLuceDistribution:
        """Scores float[B, N]; for a queue context also keys float[B, N] and lag_penalty float[L]."""
        if (keys is None) != (lag_penalty is None):
            raise ValueError("pass both keys and lag_penalty for a queue context, or neither")
        self.logits, self.keys, self.lag_penalty = action_logits, keys, lag_penalty
        return self

    def _require_logits(self) -> torch.Tensor:
        if self.logits is None:
            raise RuntimeError("call proba_distribution(scores) before using the distribution")
        return self.logits

    def slot_logits(self, actions: torch.Tensor) -> torch.Tensor:
        """The logits every slot of `actions` was drawn from: float[B, K, N]."""
        logits = self._require_logits()
        expanded = logits.unsqueeze(1).expand(-1, actions.shape[1], -1)
        if self.keys is None or self.lag_penalty is None:
            return expanded
        picked_keys = torch.gather(self.keys, 1, actions.long())
        same = (picked_keys.unsqueeze(-1) == self.keys.unsqueeze(1)).to(logits.dtype)  # [B, K(j), N]
        penalty = torch.einsum("kj,bjn->bkn", lag_matrix(self.lag_penalty, actions.shape[1]), same)
        return expanded - penalty

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Exact log-probability of each ordered slate: float[B]."""
        return self.slot_log_prob(actions).sum(dim=1)

    def slot_log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """log P(a_k | a_<k) of every slot: float[B, K] (the slate's log-probability is their sum)."""
        logits = self.slot_logits(actions)
        picks = actions.long()
        chosen = torch.nn.functional.one_hot(picks, logits.shape[-1]).to(logits.dtype)  # [B, K, N]
        taken_before = torch.cumsum(chosen, dim=1) - chosen
        remaining = logits.masked_fill(taken_before.bool(), float("-inf"))
        picked = torch.gather(logits, 2, picks.unsqueeze(-1)).squeeze(-1)
        return picked - torch.logsumexp(remaining, dim=-1)

    def entropy(self) -> torch.Tensor:
        """Unbiased one-sample estimate of the slate entropy: float[B].

        By the chain rule H(A_1..A_K) = sum_k E[H(A_k | A_<k)]; we evaluate the conditional
        entropies along one sampled prefix. The estimate is differentiable in the scores.
        """
        with torch.no_grad():
            prefix = self.sample()
        logits = self.slot_logits(prefix)
        chosen = torch.nn.functional.one_hot(prefix, logits.shape[-1]).bool()
        taken_before = (torch.cumsum(chosen.long(), dim=1) - chosen.long()).bool()
        log_p = torch.log_softmax(logits.masked_fill(taken_before, float("-inf")), dim=-1)
        p = log_p.exp()
        return -(p * torch.where(p > 0, log_p, torch.zeros_like(log_p))).sum(dim=(1, 2))

    def sample(self) -> torch.Tensor:
        logits = self._require_logits()
        if self.keys is None or self.lag_penalty is None:
            return torch.topk(logits + _gumbel(logits.shape, logits), self.slate_size, dim=-1).indices
        noise = _gumbel((logits.shape[0], self.slate_size, logits.shape[1]), logits)
        return decode_queue(logits, self.keys, self.lag_penalty, self.slate_size, noise)

    def mode(self) -> torch.Tensor:
        logits = self._require_logits()
        if self.keys is None or self.lag_penalty is None:
            return torch.topk(logits, self.slate_size, dim=-1).indices
        return decode_queue(logits, self.keys, self.lag_penalty, self.slate_size)

    def actions_from_params(
        self,
        action_logits: torch.Tensor,
        keys: torch.Tensor | None = None,
        lag_penalty: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> torch.Tensor:
        self.proba_distribution(action_logits, keys, lag_penalty)
        return self.get_actions(deterministic=deterministic)

    def log_prob_from_params(
        self, action_logits: torch.Tensor, keys: torch.Tensor | None = None, lag_penalty: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        actions = self.actions_from_params(action_logits, keys, lag_penalty)
        return actions, self.log_prob(actions)


def _gumbel(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    uniform = torch.rand(shape, dtype=like.dtype, device=like.device).clamp_(1e-20, 1.0)
    return -torch.log(-torch.log(uniform))
