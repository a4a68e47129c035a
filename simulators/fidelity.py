"""Fidelity gates: the pass/fail rules a calibrated simulator must meet before anyone trains on it.

A fidelity report (JSON, written by `scripts/calibrate_simulator.py fit`) has one section per
calibrated simulator. `check_report_section` applies the gates below to a section and also
checks that the simulator about to be used still has the parameters the report measured; a
report says nothing about a simulator whose fitted parameters were overridden.

Gates (defaults in `FidelityGates`):
- **mean**: each response's mean prediction is within `mean_within_se` user-clustered SEs of
  the observed rate on held-out users;
- **ece**: each response's ECE is below `ece_null_p95`, the 95th percentile of the ECE of
  outcomes resampled from the model's own probabilities (miscalibration not detectable at 5 %);
- **log_loss_gain**: the held-out log-loss beats the best baseline and the 95 % CI of the gain
  lies above 0;
- **mssd_curve**: the simulated skip_2-by-position curve is within `curve_within_se` SEs (of the
  difference: data and simulation SEs combined) at >= `curve_min_positions` of the positions;
- **mssd_rates**: overall skip_1 / skip_2 / skip_3 / not_skipped within `rate_tolerance`.

Pure Python + pydantic, so the training script can check a report without scipy or pandas.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from simulators.config import StrictModel


class FidelityGates(StrictModel):
    """Thresholds of the fidelity gates."""

    mean_within_se: float = Field(2.0, gt=0, description="Mean prediction within this many SEs of the observed rate.")
    require_ece_below_null: bool = Field(True, description="ECE must be below its null 95th percentile.")
    require_log_loss_gain: bool = Field(True, description="Log-loss gain over the best baseline, CI above 0.")
    curve_within_se: float = Field(2.0, gt=0, description="skip_2-by-position: allowed |sim - obs| in SEs.")
    curve_min_positions: int = Field(18, ge=0, description="Positions (of 20) that must be within the band.")
    rate_tolerance: float = Field(0.01, gt=0, description="Overall MSSD rates: allowed absolute difference.")
    parameter_tolerance: float = Field(1e-6, gt=0, description="Relative tolerance when matching fitted parameters.")


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict, with the evidence and what to do if it failed."""

    gate: str
    passed: bool
    detail: str
    remedy: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "passed": self.passed, "detail": self.detail, "remedy": self.remedy}


def response_gates(responses: dict[str, dict[str, Any]], gates: FidelityGates) -> list[GateResult]:
    """Gates on held-out response metrics (the blocks of `calibration.evaluation.score_report`)."""
    out = []
    refit = "refit with `scripts/calibrate_simulator.py fit` (more data, other penalties) or fix the log"
    for name, block in responses.items():
        gap = block["mean_pred"] - block["mean_obs"]
        bound = gates.mean_within_se * block["mean_se"]
        out.append(
            GateResult(
                f"{name}.mean",
                abs(gap) <= bound,
                f"mean_pred {block['mean_pred']:.4f} vs observed {block['mean_obs']:.4f} "
                f"(|diff| {abs(gap):.4f}, allowed {bound:.4f})",
                refit,
            )
        )
        if gates.require_ece_below_null:
            out.append(
                GateResult(
                    f"{name}.ece",
                    block["ece"] < block["ece_null_p95"],
                    f"ECE {block['ece']:.4f} vs null p95 {block['ece_null_p95']:.4f}",
                    refit,
                )
            )
        if gates.require_log_loss_gain:
            low, high = block["log_loss_gain_ci"]
            out.append(
                GateResult(
                    f"{name}.log_loss_gain",
                    low > 0,
                    f"gain over {block['best_baseline']} {block['log_loss_gain']:.4f} nats, "
                    f"95% CI [{low:.4f}, {high:.4f}]",
                    refit,
                )
            )
    return out


def mssd_gates(mssd: dict[str, Any], gates: FidelityGates) -> list[GateResult]:
    """Gates on the simulated-vs-MSSD statistics (the `mssd` block of a report)."""
    sim, obs = mssd["simulated"], mssd["observed"]
    within = 0
    for s, o, s_se, o_se in zip(
        sim["skip_2_by_position"], obs["skip_2_by_position"], sim["skip_2_by_position_se"], obs["skip_2_by_position_se"]
    ):
        within += abs(s - o) <= gates.curve_within_se * math.hypot(s_se, o_se)
    positions = len(obs["skip_2_by_position"])
    refit = "rerun `scripts/calibrate_simulator.py fit` (more evaluations) or add the missing mechanism"
    out = [
        GateResult(
            "mssd_curve",
            within >= gates.curve_min_positions,
            f"{within}/{positions} positions within {gates.curve_within_se:g} SE (need {gates.curve_min_positions})",
            refit,
        )
    ]
    worst = max(obs["rates"], key=lambda r: abs(sim["rates"][r] - obs["rates"][r]))
    diff = abs(sim["rates"][worst] - obs["rates"][worst])
    out.append(
        GateResult(
            "mssd_rates",
            diff <= gates.rate_tolerance,
            f"largest overall-rate difference {worst}: {diff:.4f} (allowed {gates.rate_tolerance})",
            refit,
        )
    )
    return out


def section_gates(section: dict[str, Any], gates: FidelityGates) -> list[GateResult]:
    """All gates that apply to one report section (responses and/or MSSD statistics)."""
    out = []
    if "responses" in section:
        out += response_gates(section["responses"], gates)
    if "mssd" in section:
        out += mssd_gates(section["mssd"], gates)
    return out


def parameter_gate(fitted: dict[str, float], simulator: dict[str, Any], tolerance: float) -> GateResult:
    """Does `simulator` (a SimulatorConfig dump) still have the fitted parameters (dotted keys)?"""
    for key, value in fitted.items():
        node: Any = simulator
        for part in key.split("."):
            node = node[part]
        if abs(float(node) - value) > tolerance * max(1.0, abs(value)):
            return GateResult(
                "parameters",
                False,
                f"simulator {key} = {node} differs from the calibrated {value}; the fidelity report "
                "does not cover this simulator",
                "drop the override of that parameter, or calibrate the changed simulator",
            )
    return GateResult("parameters", True, f"{len(fitted)} calibrated parameters match")


def load_report(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"fidelity report not found: {path}")
    return json.loads(path.read_text())


def check_report_section(
    report_path: str | Path, section: str, simulator: dict[str, Any], gates: FidelityGates | None = None
) -> list[GateResult]:
    """Every gate of `section` of the report at `report_path`, plus the parameter match."""
    report = load_report(report_path)
    if section not in report.get("sections", {}):
        raise KeyError(f"fidelity report {report_path} has no section {section!r}")
    body = report["sections"][section]
    gates = gates or FidelityGates.model_validate(report.get("gates_config", {}))
    return [
        parameter_gate(body["fitted_parameters"], simulator, gates.parameter_tolerance),
        *section_gates(body, gates),
    ]
