"""Pareto sweeps: one policy per weight vector and seed, trained on Ray Tune, compared as fronts."""
