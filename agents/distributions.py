"""Plackett-Luce: a distribution over ordered slates of K distinct candidates.

P(a_1..a_K) = prod_k exp(s_{a_k}) / sum_{j not in a_<k} exp(s_j)  (Plackett 1975, Luce 1959).
Sampling uses the Gumbel-top-K trick (the top K of s + Gumbel noise is an exact PL sample;
Yellott 1977, Kool et al. ICML 2019), so no Python loop over slots is needed; the mode is the
top K by score. Masked candidates carry MASKED_SCORE and get probability exactly 0.
"""

from __future__ import annotations

import torch
from stable_baselines3.common.distributions import Distribution
from torch import nn


class PlackettLuceDistribution(Distribution):
    """SB3 `Distribution` over slates: actions are int[B, K] candidate indices in slot order.

    Args:
        slate_size: K.
    """

    def __init__(self, slate_size: int):
        super().__init__()
        self.slate_size = slate_size
        self.logits: torch.Tensor | None = None

    def proba_distribution_net(self, latent_dim: int) -> nn.Module:
        """The scores are the logits already: the action net is the identity."""
        return nn.Identity()

    def proba_distribution(self, action_logits: torch.Tensor) -> PlackettLuceDistribution:
        self.logits = action_logits
        return self

    def _require_logits(self) -> torch.Tensor:
        if self.logits is None:
            raise RuntimeError("call proba_distribution(scores) before using the distribution")
        return self.logits

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Exact log-probability of each ordered slate: float[B]."""
        return self.slot_log_prob(actions).sum(dim=1)

    def slot_log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """log P(a_k | a_<k) of every slot: float[B, K] (the slate's log-probability is their sum)."""
        logits = self._require_logits()
        picks = actions.long()
        chosen = torch.nn.functional.one_hot(picks, logits.shape[-1]).to(logits.dtype)  # [B, K, N]
        taken_before = torch.cumsum(chosen, dim=1) - chosen
        remaining = logits.unsqueeze(1).masked_fill(taken_before.bool(), float("-inf"))
        picked = torch.gather(logits, 1, picks)
        return picked - torch.logsumexp(remaining, dim=-1)

    def entropy(self) -> torch.Tensor:
        """Unbiased one-sample estimate of the slate entropy: float[B].

        By the chain rule H(A_1..A_K) = sum_k E[H(A_k | A_<k)]; we evaluate the conditional
        entropies along one sampled prefix. The estimate is differentiable in the scores.
        """
        logits = self._require_logits()
        with torch.no_grad():
            prefix = self.sample()
        chosen = torch.nn.functional.one_hot(prefix, logits.shape[-1]).bool()
        taken_before = (torch.cumsum(chosen.long(), dim=1) - chosen.long()).bool()
        remaining = logits.unsqueeze(1).masked_fill(taken_before, float("-inf"))
        log_p = torch.log_softmax(remaining, dim=-1)
        p = log_p.exp()
        return -(p * torch.where(p > 0, log_p, torch.zeros_like(log_p))).sum(dim=(1, 2))

    def sample(self) -> torch.Tensor:
        logits = self._require_logits()
        uniform = torch.rand_like(logits).clamp_(1e-20, 1.0)
        gumbel = -torch.log(-torch.log(uniform))
        return torch.topk(logits + gumbel, self.slate_size, dim=-1).indices

    def mode(self) -> torch.Tensor:
        return torch.topk(self._require_logits(), self.slate_size, dim=-1).indices

    def actions_from_params(self, action_logits: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        self.proba_distribution(action_logits)
        return self.get_actions(deterministic=deterministic)

    def log_prob_from_params(self, action_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        actions = self.actions_from_params(action_logits)
        return actions, self.log_prob(actions)
