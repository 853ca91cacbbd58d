"""quoth: answers questions with exact, linked quotes from a curated article collection."""

import os

# Set before torch or onnxruntime load, which read them once:
# - torch's OpenMP threads otherwise busy-wait after each query encoding and steal the two
#   cores of a small server from the reranker that runs right after (measured: the
#   cross-encoder took about twice as long per question);
# - ONNX Runtime otherwise sends telemetry to an outside host.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
