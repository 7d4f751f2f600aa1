"""LiteRT (TensorFlow Lite) on the shipped model, against ONNX Runtime: one batch of chunks, same input.

    .venv/bin/python scripts/bench/litert.py [--model DIR] [--rounds 5]

Converts the Keras model (config.json + model.weights.h5) through a TF SavedModel with TF's TFLiteConverter,
for a fixed input of BATCH_SIZE x CHUNK_FRAMES x N_MELS, then times the interpreter (ai_edge_litert when
installed, else TensorFlow's own tf.lite.Interpreter, the same runtime; XNNPACK on the CPU) and ONNX Runtime
alternately on the same random batch: the fastest of --rounds calls each, and the largest difference between
their outputs. A trial for docs/benchmarks.md ("Inference runtimes"), not a runtime the product serves.
"""

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from piano_ai.constants import N_MELS
from piano_ai.inference import BATCH_SIZE, CHUNK_FRAMES, DEFAULT_MODEL_DIR
from piano_ai.model import ModelConfig, build_model
from piano_ai.runtimes import runner

SHAPE = [BATCH_SIZE, CHUNK_FRAMES, N_MELS]


def tflite_bytes(model_dir: Path) -> tuple[bytes, list[str]]:
    """The model as a .tflite flatbuffer, and its output (head) names."""
    import keras
    import tensorflow as tf

    model = build_model(ModelConfig.load(model_dir / "config.json"))
    model.load_weights(model_dir / "model.weights.h5")
    archive = keras.export.ExportArchive()
    archive.track(model)
    signature = [tf.TensorSpec(SHAPE, tf.float32)]
    archive.add_endpoint("serve", lambda x: model(x, training=False), input_signature=signature)
    with tempfile.TemporaryDirectory() as folder:
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serve"])
        return converter.convert(), list(model.output_names)


def interpreter(flatbuffer: bytes) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """A LiteRT call on the flatbuffer: batch in, {output name: array} out."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 - a class
    lite = Interpreter(model_content=flatbuffer, num_threads=os.cpu_count())
    runner_ = lite.get_signature_runner("serve")

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        return dict(runner_(**{next(iter(runner_.get_input_details())): batch}))

    return run


def fastest(call: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    flatbuffer, names = tflite_bytes(args.model)
    lite = interpreter(flatbuffer)
    onnx = runner("onnx", args.model, ModelConfig.load(args.model / "config.json"))
    batch = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    lite_out, onnx_out = lite(batch), onnx(batch)
    lite_s = fastest(lambda: lite(batch), args.rounds)
    onnx_s = fastest(lambda: onnx(batch), args.rounds)
    diffs = {name: float(np.abs(lite_out[name] - onnx_out[name]).max()) for name in names}
    print(f"batch {SHAPE}: LiteRT {lite_s * 1000:.1f} ms, ONNX Runtime {onnx_s * 1000:.1f} ms")
    print(f"flatbuffer {len(flatbuffer) / 1e6:.1f} MB; largest |LiteRT - ONNX Runtime| per output: {diffs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
