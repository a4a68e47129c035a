"""PPO with per-slot credit: slot k of a queue is judged by the rewards from slot k on.

SB3's PPO treats a slate as one action: one ratio (a product of K slot ratios) and one
advantage for all K picks. But a queue plays in order, so the pick in slot k cannot change
what happened in slots 1..k-1, and a pick the listener never reached (they left earlier)
changes nothing at all. Crediting it with those rewards is pure noise: with sessions of about
13 tracks over 10-track queues, most picks are in one of those two cases.

`SlotPPO` keeps the rest of PPO and changes the credit:

- advantage of slot k:  A_k = A - sum_{j<k} r_j, with A the step's GAE advantage and r_j the
  scalarized reward of slot j. Unbiased: given the state and the earlier picks, the earlier
  slots' rewards are independent of pick k, so subtracting them only removes variance (it is a
  baseline that depends on a_<k and the earlier outcomes). Slots that did not play get A_k = 0,
  which is exact, not an approximation: the future is independent of a pick nobody heard.
- the clipped surrogate is per slot (token-level, as in sequence-model PPO) and *summed* over
  the slots that played, so the gradient has the scale of the slate-level loss, and clipping
  allows each slot's probability to move by clip_range instead of the whole slate's.
- advantages are normalised once per rollout: a mean per slot (a slot's baseline) and one
  standard deviation for all slots (their relative weight is kept).

The per-slot rewards come from the env (`envs.vec_env.SlateVecEnv.last_slot_rewards`) in the
units of the training reward: scaled like `VecNormalize`'s rewards when it is in the stack (its
clip at 10 standard deviations is not applied to the parts). Where the env has no causal slot
rewards (a shelf, or a non-additive scalarization such as Chebyshev) `SlotPPO` is exactly PPO.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import DictRolloutBuffer
from stable_baselines3.common.type_aliases import TensorDict
from stable_baselines3.common.utils import explained_variance, obs_as_tensor

from agents.checkpoint import find_slate_env, find_vec_normalize
from agents.policies import SlateScoringPolicy

_SLOT_ARRAYS = ("slot_rewards", "slot_played", "slot_advantages", "old_slot_log_probs")


class SlotRolloutBufferSamples(NamedTuple):
    observations: TensorDict
    actions: torch.Tensor
    old_values: torch.Tensor
    old_log_prob: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    slot_advantages: torch.Tensor
    slot_played: torch.Tensor
    old_slot_log_prob: torch.Tensor


class SlotRolloutBuffer(DictRolloutBuffer):
    """`DictRolloutBuffer` that also keeps each slot's reward, whether it played, and its credit.

    `add_slots` must be called once per step, before `add` (`SlotPPO` does it).
    """

    def __init__(self, buffer_size: int, observation_space: spaces.Dict, action_space: spaces.Space, **kwargs: Any):
        if not isinstance(action_space, spaces.MultiDiscrete):
            raise ValueError(f"SlotRolloutBuffer needs MultiDiscrete([N] * K) slate actions, got {action_space}")
        self.slate_size = len(action_space.nvec)
        super().__init__(buffer_size, observation_space, action_space, **kwargs)

    def reset(self) -> None:
        shape = (self.buffer_size, self.n_envs, self.slate_size)
        self.slot_rewards = np.zeros(shape, np.float32)
        self.slot_played = np.zeros(shape, np.float32)
        self.slot_advantages = np.zeros(shape, np.float32)
        self.old_slot_log_probs = np.zeros(shape, np.float32)
        super().reset()

    def add_slots(self, rewards: np.ndarray, played: np.ndarray) -> None:
        """Record this step's slot rewards float[n_envs, K] and played mask bool[n_envs, K]."""
        self.slot_rewards[self.pos] = rewards
        self.slot_played[self.pos] = played

    def compute_returns_and_advantage(self, last_values: torch.Tensor, dones: np.ndarray) -> None:
        """GAE as in SB3, then each slot's normalised advantage (see the module docstring)."""
        super().compute_returns_and_advantage(last_values, dones)
        earlier = np.cumsum(self.slot_rewards, axis=2) - self.slot_rewards
        credit = (self.advantages[..., None] - earlier) * self.slot_played
        played = self.slot_played.sum(axis=(0, 1))
        mean = credit.sum(axis=(0, 1)) / np.maximum(played, 1)
        centred = (credit - mean) * self.slot_played
        std = np.sqrt((centred**2).sum() / max(played.sum(), 1))
        self.slot_advantages = (centred / (std + 1e-8)).astype(np.float32)

    def get(self, batch_size: int | None = None) -> Generator[SlotRolloutBufferSamples, None, None]:  # type: ignore[override]
        if not self.generator_ready:
            for name in _SLOT_ARRAYS:
                self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
        yield from super().get(batch_size)  # type: ignore[misc]

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> SlotRolloutBufferSamples:  # type: ignore[override]
        samples = super()._get_samples(batch_inds, env)
        return SlotRolloutBufferSamples(
            *samples,
            slot_advantages=self.to_torch(self.slot_advantages[batch_inds]),
            slot_played=self.to_torch(self.slot_played[batch_inds]),
            old_slot_log_prob=self.to_torch(self.old_slot_log_probs[batch_inds]),
        )


class SlotPPO(PPO):
    """PPO whose slate policy is credited per slot (module docstring); `slot_credit=False` is PPO.

    Args:
        policy, env: as `PPO` (the policy must be a `SlateScoringPolicy`).
        slot_credit: credit each slot with the rewards from it on, where the env provides them.
        **kwargs: passed to `PPO`.
    """

    rollout_buffer: SlotRolloutBuffer

    def __init__(self, policy: Any, env: Any, slot_credit: bool = True, **kwargs: Any):
        self.slot_credit = slot_credit
        if slot_credit:
            unsupported = [name for name in ("target_kl", "clip_range_vf") if kwargs.get(name) is not None]
            if unsupported:
                raise ValueError(f"SlotPPO with slot_credit does not implement {unsupported}; pass slot_credit=False")
            kwargs.setdefault("rollout_buffer_class", SlotRolloutBuffer)
        super().__init__(policy, env, **kwargs)

    @property
    def _credits_slots(self) -> bool:
        if not self.slot_credit or self.env is None:
            return False
        try:
            return find_slate_env(self.env).slot_credit
        except TypeError:  # not a Segue env: no slot rewards to credit
            return False

    def _update_info_buffer(self, infos: list[dict[str, Any]], dones: np.ndarray | None = None) -> None:
        """Also record the step's slot rewards: SB3 calls this after each step, before `add`."""
        super()._update_info_buffer(infos, dones)
        if self._credits_slots:
            env = find_slate_env(self.env)
            normalizer = find_vec_normalize(self.env)
            scale = 1.0
            if normalizer is not None and normalizer.norm_reward:
                scale = 1.0 / float(np.sqrt(normalizer.ret_rms.var + normalizer.epsilon))
            self.rollout_buffer.add_slots(env.last_slot_rewards * scale, env.last_played)

    def train(self) -> None:
        if not self._credits_slots:
            super().train()
            return
        assert isinstance(self.policy, SlateScoringPolicy)
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = float(self.clip_range(self._current_progress_remaining))  # type: ignore[operator]
        self._record_old_slot_log_probs()

        pg_losses, value_losses, entropy_losses, clip_fractions, approx_kls = [], [], [], [], []
        for _ in range(self.n_epochs):
            for data in self.rollout_buffer.get(self.batch_size):
                values, slot_log_prob, entropy = self.policy.evaluate_slots(data.observations, data.actions)
                log_ratio = slot_log_prob - data.old_slot_log_prob
                ratio = torch.exp(log_ratio)
                surrogate = torch.min(
                    data.slot_advantages * ratio,
                    data.slot_advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range),
                )
                policy_loss = -(surrogate * data.slot_played).sum(dim=1).mean()
                value_loss = torch.nn.functional.mse_loss(data.returns, values.flatten())
                entropy_loss = -torch.mean(entropy) if entropy is not None else -torch.mean(-slot_log_prob.sum(1))
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss

                self.policy.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()

                with torch.no_grad():
                    slate_log_ratio = log_ratio.sum(dim=1)
                    approx_kls.append(torch.mean(torch.exp(slate_log_ratio) - 1 - slate_log_ratio).item())
                    clipped = (torch.abs(ratio - 1) > clip_range).float() * data.slot_played
                    clip_fractions.append((clipped.sum() / data.slot_played.sum().clamp(min=1)).item())
                pg_losses.append(policy_loss.item())
                value_losses.append(value_loss.item())
                entropy_losses.append(entropy_loss.item())
            self._n_updates += 1

        buffer = self.rollout_buffer
        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(approx_kls))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/loss", loss.item())
        explained = explained_variance(buffer.values.flatten(), buffer.returns.flatten())
        self.logger.record("train/explained_variance", explained)
        self.logger.record("train/slots_played", float(buffer.slot_played.mean()))
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)

    @torch.no_grad()
    def _record_old_slot_log_probs(self) -> None:
        """Per-slot log-probabilities of the collected slates under the policy that drew them."""
        buffer = self.rollout_buffer
        for step in range(buffer.buffer_size):
            obs = obs_as_tensor({key: value[step] for key, value in buffer.observations.items()}, self.device)
            actions = torch.as_tensor(buffer.actions[step], device=self.device)
            distribution = self.policy.get_distribution(obs)
            buffer.old_slot_log_probs[step] = distribution.slot_log_prob(actions).cpu().numpy()
