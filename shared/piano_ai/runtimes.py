"""Inference runtimes: each turns a model directory into a function from a batch of log-mel chunks to outputs.

    onnx       ONNX Runtime, float32 (served: the fastest that keeps the model's accuracy, docs/benchmarks.md)
    onnx-int8  ONNX Runtime on model.onnx with its MatMul and LSTM weights quantized to int8 at load
               (onnxruntime.quantization's dynamic quantization; the convolutions stay float32)
    openvino   Intel's OpenVINO on model.onnx (`pip install openvino`; not in the lock: it is slower here)
    keras      the Keras model built from config.json and model.weights.h5 (TensorFlow)

Every runner returns every output the model has, named by head (onset, frame, ..., pedal where it exists).
"""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from piano_ai.errors import ModelNotFoundError
from piano_ai.model import ModelConfig, heads
from piano_ai.types import FloatArray

RunFn = Callable[
    [FloatArray], dict[str, FloatArray]
]  # (batch, frames, N_MELS) -> {head: (batch, frames, ...)}
RUNTIMES = ("onnx", "onnx-int8", "openvino", "keras")  # "auto" picks onnx when model.onnx exists, else keras
ONNX_FILE = "model.onnx"
INT8_OP_TYPES = ("MatMul", "LSTM")  # quantized ops; int8 Conv (ConvInteger) ran ~10x slower than float here


def runner(runtime: str, model_dir: Path, config: ModelConfig) -> RunFn:
    """The run function of ``runtime`` (one of RUNTIMES) for the model in model_dir."""
    if runtime == "keras":
        return _keras_runner(model_dir, config)
    onnx_path = model_dir / ONNX_FILE
    if not onnx_path.is_file():
        raise ModelNotFoundError(f"{onnx_path} is missing; use runtime 'keras' or export the model")
    if runtime == "onnx":
        return _onnx_runner(str(onnx_path))
    if runtime == "onnx-int8":
        return _onnx_runner(_quantized_int8(onnx_path))
    if runtime == "openvino":
        return _openvino_runner(onnx_path)
    raise ModelNotFoundError(f"unknown runtime {runtime!r}; choose one of: auto, {', '.join(RUNTIMES)}")


def _threads() -> int:
    """Threads per model call: OMP_NUM_THREADS when set, else one per core this process may run on.

    ONNX Runtime's own default counts the machine's cores: a process pinned to fewer (taskset, a cpuset)
    ran two threads on one core, and `piano-ai convert` of the `make bench` set under `taskset -c 0` took
    4.7-5.4 s against 2.8-3.2 s with one thread (docs/benchmarks.md, "Threads").
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"])
    return len(os.sched_getaffinity(0))


def _onnx_runner(model: str | bytes) -> RunFn:
    """ONNX Runtime on a model file path or serialized bytes."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = _threads()
    # The memory-pattern planner keeps a buffer plan per input shape in the arena (~100 MB more at a batch
    # of 8 chunks); without it a batch ran as fast (docs/benchmarks.md, "Memory").
    options.enable_mem_pattern = False
    session = ort.InferenceSession(model, options, providers=ort.get_available_providers())
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]

    def run(batch: FloatArray) -> dict[str, FloatArray]:
        results = session.run(None, {input_name: batch})
        return {_head_of(name): value for name, value in zip(names, results, strict=True)}

    return run


def _quantized_int8(onnx_path: Path) -> bytes:
    """model.onnx with dynamically quantized int8 weights (MatMul, LSTM), as serialized ONNX bytes."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="piano-ai-int8-") as folder:
        out = Path(folder) / "model.int8.onnx"
        quantize_dynamic(
            onnx_path, out, op_types_to_quantize=list(INT8_OP_TYPES), weight_type=QuantType.QInt8
        )
        return out.read_bytes()


def _openvino_runner(onnx_path: Path) -> RunFn:
    try:
        import openvino as ov
    except ImportError as exc:
        raise ModelNotFoundError(
            "runtime 'openvino' needs the openvino package: pip install openvino"
        ) from exc
    config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    config["INFERENCE_NUM_THREADS"] = str(_threads())
    compiled = ov.Core().compile_model(str(onnx_path), "CPU", config)
    request = compiled.create_infer_request()
    outputs = [(output, _head_of(output.get_any_name())) for output in compiled.outputs]

    def run(batch: FloatArray) -> dict[str, FloatArray]:
        results = request.infer({0: batch})
        return {head: np.array(results[output]) for output, head in outputs}

    return run


def _head_of(output_name: str) -> str:
    """ONNX output names carry the Keras layer name, sometimes with a suffix."""
    for head in heads(ModelConfig(pedal_head=True)):
        if output_name.startswith(head):
            return head
    raise ModelNotFoundError(f"unexpected model output {output_name!r}")


def _keras_runner(path: Path, config: ModelConfig) -> RunFn:
    weights = path / "model.weights.h5"
    if not weights.is_file():
        raise ModelNotFoundError(f"{weights} is missing")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from piano_ai.model import build_model

    model = build_model(config)
    model.load_weights(weights)

    def run(batch: FloatArray) -> dict[str, FloatArray]:
        return {k: np.asarray(v) for k, v in model(batch, training=False).items()}

    return run
