"""The scoring policy: candidates in, scores out.

`ItemScorer` is the exported serving model (for a queue, inside `QueueDecoder`, which adds the
slot-by-slot decoding). It is permutation-equivariant over candidates (every candidate goes
through the same encoder; optional attention mixes them symmetrically), so it scores any number
N of candidates and reordering the inputs reorders the outputs.
"""

from __future__ import annotations

import torch
from torch import nn

from agents.distributions import decode_queue

#: Score of a masked (padding) candidate: finite, so softmax and ONNX stay NaN-free, and low
#: enough that exp(score - max) underflows to exactly 0 in float32.
MASKED_SCORE = -1.0e9


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers with activations between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class CandidateAttention(nn.Module):
    """One residual self-attention block over the candidate set, padding masked out.

    Written with plain matmul/softmax (single head) rather than `nn.MultiheadAttention`, whose
    traced ONNX graph fixes the candidate count; this one exports with dynamic B and N.
    """

    def __init__(self, hidden: int):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.norm = nn.LayerNorm(hidden)
        self.scale = hidden**-0.5

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = torch.matmul(self.query(z), self.key(z).transpose(1, 2)) * self.scale
        logits = logits.masked_fill(~mask.unsqueeze(1), MASKED_SCORE)
        mixed = torch.matmul(torch.softmax(logits, dim=-1), self.value(z))
        return self.norm(z + mixed)


class ItemScorer(nn.Module):
    """scores = f(user[B, du], items[B, N, di], mask[B, N]) -> float32[B, N].

    Wide and deep (Cheng et al., DLRS 2016): the score is a linear function of the raw item
    features (the wide part, which can rank by the observation's predicted objectives from the
    first step, see `agents.policies.warm_start_at_ranker`) plus a deep part. In the deep
    part each candidate's encoding e_i meets the user encoding u as [e_i, e_i * u, u] (the
    product term lets the net express taste-feature affinity directly), followed by a shared
    MLP. With `attention`, one self-attention block over the candidate set (padding masked)
    lets a score depend on the other candidates, e.g. to spread genres across a slate.

    The last item column is a key (the artist id, see `simulators.observation`), not a feature:
    the scores never read it. A queue scorer (`context_lags` L > 0) owns `repeat_penalty`
    float[L], what a candidate loses, in the reward units of its score, in slot k when the pick
    of slot k - lag has its key (`agents.distributions.decode_queue`).

    Args:
        user_dim: du.
        item_dim: di, the key column included.
        hidden: width of all hidden layers.
        attention: add a candidate self-attention block.
        context_lags: L, how many earlier slots of a queue a pick is compared with (0: none).
    """

    def __init__(
        self, user_dim: int, item_dim: int, hidden: int = 64, attention: bool = False, context_lags: int = 0
    ):
        super().__init__()
        self.user_dim, self.item_dim, self.hidden, self.context_lags = user_dim, item_dim, hidden, context_lags
        self.feature_dim = item_dim - 1
        self.item_encoder = mlp([self.feature_dim, hidden, hidden])
        self.user_encoder = mlp([user_dim, hidden, hidden])
        self.joint = nn.Sequential(mlp([3 * hidden, hidden]), nn.ReLU())
        self.attention = CandidateAttention(hidden) if attention else None
        self.head = nn.Linear(hidden, 1)
        self.wide = nn.Linear(self.feature_dim, 1)
        self.repeat_penalty = nn.Parameter(torch.zeros(context_lags))
        # Inverse temperature of the scores: with a warm start the parameters are in reward units,
        # so Adam's bounded steps move a score by a fraction of a track's value, not of a logit.
        self.register_buffer("score_scale", torch.ones(()))

    def features(self, items: torch.Tensor) -> torch.Tensor:
        """The item columns that are scored: all but the key column."""
        return items[..., : self.feature_dim]

    def keys(self, items: torch.Tensor) -> torch.Tensor:
        """The candidates' keys: float[B, N]."""
        return items[..., -1]

    def lag_penalty(self) -> torch.Tensor:
        """`repeat_penalty` in logits, the units of the Plackett-Luce distribution: float[L]."""
        return self.score_scale * self.repeat_penalty

    def forward(self, user: torch.Tensor, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.score_encoded(user, items, self.item_encoder(self.features(items)), mask)

    def score_encoded(
        self, user: torch.Tensor, items: torch.Tensor, encoded: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Scores given `item_encoder(features(items))`, computed once for the actor and the critic."""
        mask = mask.bool()
        u = self.user_encoder(user).unsqueeze(1).expand_as(encoded)
        z = self.joint(torch.cat([encoded, encoded * u, u], dim=-1))
        if self.attention is not None:
            z = self.attention(z, mask)
        scores = self.score_scale * (self.head(z) + self.wide(self.features(items))).squeeze(-1)
        return torch.where(mask, scores, torch.full_like(scores, MASKED_SCORE))


class CandidateSetCritic(nn.Module):
    """State value features from the user and a symmetric summary of the candidate encodings.

    It reads the scorer's item encodings (masked mean and max), so the expensive per-candidate
    encoder runs once per forward pass for actor and critic together.
    """

    def __init__(self, user_dim: int, hidden: int = 64):
        super().__init__()
        self.user_encoder = mlp([user_dim, hidden, hidden])
        self.body = nn.Sequential(mlp([3 * hidden, hidden]), nn.ReLU())
        self.latent_dim = hidden

    def forward(self, user: torch.Tensor, encoded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = mask.float().unsqueeze(-1)
        mean = (encoded * valid).sum(1) / valid.sum(1).clamp_min(1.0)
        peak = torch.where(valid.bool(), encoded, torch.full_like(encoded, -1e4)).max(dim=1).values
        return self.body(torch.cat([self.user_encoder(user), mean, peak], dim=-1))


class QueueDecoder(nn.Module):
    """The serving form of a queue policy: the scorer plus its slot-by-slot decoding.

    Its scores rank the decoded queue first, in order (K, K-1, ..., 1), then the other valid
    candidates (-1), then padding (MASKED_SCORE), so a serving stack still takes the top K by
    score, and gets the same queue the policy's mode plays.
    """

    def __init__(self, scorer: ItemScorer, slate_size: int):
        super().__init__()
        if not scorer.context_lags:
            raise ValueError("QueueDecoder needs a scorer with a queue context (context_lags > 0)")
        self.scorer, self.slate_size = scorer, slate_size
        self.user_dim, self.item_dim = scorer.user_dim, scorer.item_dim

    def forward(self, user: torch.Tensor, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.bool()
        logits = self.scorer(user, items, mask)
        queue = decode_queue(logits, self.scorer.keys(items), self.scorer.lag_penalty(), self.slate_size)
        index = torch.cumsum(torch.ones_like(logits, dtype=torch.long), dim=1) - 1
        scores = torch.where(mask, torch.full_like(logits, -1.0), torch.full_like(logits, MASKED_SCORE))
        for slot in range(self.slate_size):
            rank = torch.full_like(logits, float(self.slate_size - slot))
            scores = torch.where(index == queue[:, slot : slot + 1], rank, scores)
        return scores
