"""Learning and judging: scoring policies, SB3 integration, export, baselines, evaluation.

Nothing is imported here on purpose: `agents.onnx_scorer` must load in a serving process that
has only numpy and onnxruntime (no torch), so each submodule pulls in its own dependencies.
"""
