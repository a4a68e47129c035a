"""Segue: learn to sequence music for listeners, in calibrated simulated sessions."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="segue",
    version="0.1.0",
    description="Slate and next-track sequencing policies trained in calibrated listening-session simulators",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["envs", "envs.*", "agents", "agents.*", "simulators", "simulators.*"]),
    install_requires=[
        # torch first in setup instructions (`pip install torch==2.13.0`): a looser pin pulls CUDA wheels.
        "torch==2.13.0",
        "gymnasium>=1.0",
        "stable-baselines3>=2.3",
        "numpy>=1.26",
        "pandas>=2.0",
        "scipy>=1.11",
        "tensorboard>=2.14",
        "pydantic>=2.5",
        "pyyaml>=6.0",
        "tqdm>=4.66",
        "rich>=13.0",
        "onnx>=1.16",
        "onnxruntime>=1.17",
        "onnxscript>=0.1",
        "matplotlib>=3.8",
        "ray[tune]>=2.40",  # Pareto sweeps (scripts/sweep.py)
    ],
    extras_require={
        "dev": ["pytest>=8.0", "pytest-xdist>=3.5", "hypothesis>=6.100", "ruff>=0.5", "mo-gymnasium>=1.3"],
    },
)
