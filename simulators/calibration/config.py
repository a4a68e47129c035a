"""Settings of the two calibration fits, validated like every other Segue config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from simulators.config import StrictModel
from simulators.fidelity import FidelityGates


class LikelihoodConfig(StrictModel):
    """The event-log fit: a shared latent-factor model with one head per response.

    Penalties are L2 (Gaussian priors with precision = the value): larger means shrink harder
    toward the population. Items have ~5 random-exposure events each in KuaiRand, so item terms
    are shrunk more than user terms.
    """

    num_factors: int = Field(4, ge=0, le=64, description="Dimension k of the user and item latent factors.")
    l2_user_bias: float = Field(1.0, ge=0, description="Precision of the per-user, per-response biases.")
    l2_user_factor: float = Field(8.0, ge=0, description="Precision of the user factors.")
    l2_item_bias: float = Field(4.0, ge=0, description="Precision of the per-item, per-response biases.")
    l2_item_factor: float = Field(16.0, ge=0, description="Precision of the item factors.")
    l2_coefficients: float = Field(0.01, ge=0, description="Precision of duration/context coefficients.")
    duration_knots: int = Field(3, ge=0, le=10, description="Hinge knots (quantiles) of the log-duration spline.")
    max_iter: int = Field(200, ge=1, description="L-BFGS iterations.")
    train_share: float = Field(0.6, gt=0, lt=1, description="Share of users the factors are fitted on.")
    validation_share: float = Field(
        0.2, gt=0, lt=1, description="Share of users the calibration map is fitted on; the rest is the test split."
    )
    fold_in: float = Field(
        0.5, gt=0, lt=1, description="Share of an unseen user's events (by time) used to infer them."
    )
    calibration: Literal["temperature", "platt"] = Field(
        "platt", description="Calibration map fitted on held-out users: T * logit + shift, or logit * T alone."
    )
    split_seed: int = Field(0, description="Seed of the user split and the factor initialization.")

    @model_validator(mode="after")
    def _check_split(self) -> LikelihoodConfig:
        if self.train_share + self.validation_share >= 1:
            raise ValueError("train_share + validation_share must leave users for the test split (< 1)")
        return self


class MomentsConfig(StrictModel):
    """The simulated-method-of-moments fit of the music queue to MSSD aggregates.

    Listen-fraction thresholds define MSSD's labels on simulated tracks: skip_1 = fraction
    < skip_1_fraction, skip_2 = fraction < skip_2_fraction, skip_3 = fraction < skip_3_fraction,
    not_skipped = completed. MSSD does not publish its thresholds; these are Segue's definitions.
    """

    sessions: int = Field(8000, ge=100, description="Simulated sessions per objective evaluation (fixed seeds).")
    report_sessions: int = Field(60000, ge=100, description="Simulated sessions for the reported statistics.")
    seed: int = Field(2019, description="Seed of the common random numbers.")
    logging_temperature: float = Field(
        1.0, gt=0, description="Logging policy: softmax over expected affinity at this temperature (Gumbel top-K)."
    )
    skip_1_fraction: float = Field(0.05, gt=0, lt=1, description="skip_1: listened below this share of the track.")
    skip_2_fraction: float = Field(0.25, gt=0, lt=1, description="skip_2: listened below this share.")
    skip_3_fraction: float = Field(0.9, gt=0, lt=1, description="skip_3: listened below this share.")
    min_session_tracks: int = Field(10, ge=1, description="MSSD keeps sessions of at least this many tracks...")
    max_session_tracks: int = Field(20, ge=1, description="...and truncates them after this many.")
    max_evaluations: int = Field(900, ge=1, description="Optimizer budget (objective evaluations, all restarts).")
    restarts: int = Field(3, ge=1, le=10, description="Nelder-Mead runs, each restarted from the last best point.")
    rate_weight_se: float = Field(
        0.003, gt=0, description="Pseudo-SE of the overall rates in the objective (their gate tolerance is 0.01)."
    )

    @model_validator(mode="after")
    def _check_order(self) -> MomentsConfig:
        if not self.skip_1_fraction < self.skip_2_fraction < self.skip_3_fraction:
            raise ValueError("skip fractions must increase: skip_1_fraction < skip_2_fraction < skip_3_fraction")
        if self.min_session_tracks > self.max_session_tracks:
            raise ValueError("min_session_tracks must not exceed max_session_tracks")
        return self


class CalibrationConfig(StrictModel):
    """Everything `scripts/calibrate_simulator.py fit` needs; dotted `--set` overrides apply here."""

    likelihood: LikelihoodConfig = LikelihoodConfig()
    moments: MomentsConfig = MomentsConfig()
    gates: FidelityGates = FidelityGates()
