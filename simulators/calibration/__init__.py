"""Calibration of Segue's simulators against real behaviour, and the numbers that judge it.

- `likelihood`: response models fitted by maximum likelihood on event logs (`simulators.logs`).
- `evaluation` and `metrics`: held-out scoring against baselines (log-loss, Brier, AUC, ECE).
- `moments`: simulated method of moments of the music queue against MSSD aggregates.
- `pipeline`: the two fits end to end, as `scripts/calibrate_simulator.py` runs them.

This package needs scipy (and pandas for logs); `import simulators` does not import it.
"""
