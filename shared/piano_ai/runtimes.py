"""Inference runtimes: each turns a model directory into a function from a batch of log-mel chunks to outputs.

    onnx       ONNX Runtime, float32
    onnx-int8  ONNX Runtime on model.int8.onnx: model.onnx with its MatMul and LSTM weights quantized to int8
               (onnxruntime.quantization's dynamic quantization; the convolutions stay float32), written
               by export next to model.onnx, or quantized at load (0.3 s) where it is missing
    openvino   Intel's OpenVINO on model.onnx (`pip install openvino`; not in the lock: it is slower here)
    keras      the Keras model built from config.json and model.weights.h5 (TensorFlow)

Every runner returns every output the model has, named by head (onset, frame, ..., pedal where it exists).
"""

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from piano_ai.errors import ModelNotFoundError
from piano_ai.model import ModelConfig, heads
from piano_ai.types import FloatArray

if TYPE_CHECKING:
    import onnxruntime

RunFn = Callable[
    [FloatArray], dict[str, FloatArray]
]  # (batch, frames, N_MELS) -> {head: (batch, frames, ...)}
RUNTIMES = ("onnx", "onnx-int8", "openvino", "keras")  # "auto": auto_runtime
ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INT8_OP_TYPES = ("MatMul", "LSTM")  # quantized ops; int8 Conv (ConvInteger) ran ~10x slower than float here


def runner(runtime: str, model_dir: Path, config: ModelConfig, threads: int | None = None) -> RunFn:
    """The run function of ``runtime`` (one of RUNTIMES) for the model in model_dir; ``threads`` per call
    (None: call_plan(1)'s). Every runner may be called from several threads at once."""
    threads = threads or call_plan(1)[0]
    _one_blas_thread()
    if runtime == "keras":
        return _keras_runner(model_dir, config)
    onnx_path = model_dir / ONNX_FILE
    if not onnx_path.is_file():
        raise ModelNotFoundError(f"{onnx_path} is missing; use runtime 'keras' or export the model")
    if runtime == "onnx":
        return _onnx_runner(str(onnx_path), threads)
    if runtime == "onnx-int8":
        int8_path = model_dir / INT8_FILE
        model = str(int8_path) if int8_path.is_file() else _quantized_int8(onnx_path)
        return _one_chunk_at_a_time(_onnx_runner(model, threads))
    if runtime == "openvino":
        return _openvino_runner(onnx_path, threads)
    raise ModelNotFoundError(f"unknown runtime {runtime!r}; choose one of: auto, {', '.join(RUNTIMES)}")


def call_plan(streams: int) -> tuple[int, int]:
    """(threads per model call, model calls at once) for ``streams`` recordings converted at once.

    The cores are the ones this process may run on (ONNX Runtime's own default counts the machine's: pinned
    to one core with `taskset -c 0`, two threads took a conversion twice as long). One stream makes one call
    at a time, so that call gets every core. Several streams get a call per core, one thread each: a second
    thread in one call sat mostly idle in the LSTMs, and `piano-ai convert` of the `make bench` set ran in
    1.47-1.62 s in-process against 1.63-1.77 s (docs/benchmarks.md, "Threads"). OMP_NUM_THREADS sets the
    threads per call; the calls at once then fill the cores.
    """
    cores = len(os.sched_getaffinity(0))
    if os.environ.get("OMP_NUM_THREADS"):
        threads = int(os.environ["OMP_NUM_THREADS"])
        return threads, max(1, min(streams, cores // threads))
    if streams <= 1:
        return cores, 1
    return 1, min(cores, streams)


def _one_blas_thread() -> None:
    """numpy's BLAS (OpenBLAS: the features' mel matmul) to one thread, unless OPENBLAS_NUM_THREADS says.

    The model's threads already take the cores; OpenBLAS's own, one per core, spun beside them. One file
    converted alone: 2.46-2.66 s wall and 3.7-3.8 s CPU against 1.99-2.31 s and 2.6-2.8 s with one BLAS
    thread (docs/benchmarks.md, "Threads").
    """
    if os.environ.get("OPENBLAS_NUM_THREADS"):
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _onnx_runner(model: str | bytes, threads: int) -> RunFn:
    """ONNX Runtime on a model file path or serialized bytes (a session may run several calls at once)."""
    import onnxruntime as ort

    session = ort.InferenceSession(model, onnx_options(threads), providers=ort.get_available_providers())
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]

    def run(batch: FloatArray) -> dict[str, FloatArray]:
        results = session.run(None, {input_name: batch})
        return {_head_of(name): value for name, value in zip(names, results, strict=True)}

    return run


def _one_chunk_at_a_time(run: RunFn) -> RunFn:
    """``run`` called on each chunk of a batch alone. Dynamic quantization scales a call's activations by
    their range over the whole batch, so a chunk's int8 outputs would depend on the chunks beside it (and
    a file's notes on the files converted with it)."""

    def each(batch: FloatArray) -> dict[str, FloatArray]:
        if len(batch) == 1:
            return run(batch)
        outputs = [run(batch[i : i + 1]) for i in range(len(batch))]
        return {head: np.concatenate([o[head] for o in outputs]) for head in outputs[0]}

    return each


def onnx_options(threads: int) -> "onnxruntime.SessionOptions":
    """The ONNX Runtime session options every model is served with."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # Pool threads that spin between calls burn a core a worker's next job or the decoder could use: 100
    # 5 s jobs through one worker took 47 ms of CPU each spinning, 27 ms not; a conversion ran as fast for
    # 10-20% less CPU (docs/benchmarks.md, "Threads").
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The memory-pattern planner keeps a buffer plan per input shape in the arena (~100 MB more at a batch
    # of 8 chunks); without it a batch ran as fast (docs/benchmarks.md, "Memory").
    options.enable_mem_pattern = False
    return options


def auto_runtime(model_dir: Path) -> str:
    """What "auto" serves: float32 ONNX where the directory has model.onnx, Keras otherwise. int8
    (model.int8.onnx) held accuracy within 0.003 F1 on v2 and ENSTDkCl for 14% less CPU and 20% less memory,
    but a job's stored (uint8) outputs then re-decoded to other notes in CI, so it is not served by default
    yet (docs/benchmarks.md, "Inference runtimes")."""
    return "onnx" if (model_dir / ONNX_FILE).is_file() else "keras"


def write_int8(model_dir: Path) -> Path:
    """Quantize model_dir's model.onnx into model.int8.onnx beside it (runtime "onnx-int8" loads it)."""
    out = model_dir / INT8_FILE
    out.write_bytes(_quantized_int8(model_dir / ONNX_FILE))
    return out


def _quantized_int8(onnx_path: Path) -> bytes:
    """model.onnx with dynamically quantized int8 weights (MatMul, LSTM), as serialized ONNX bytes."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="piano-ai-int8-") as folder:
        out = Path(folder) / INT8_FILE
        quantize_dynamic(
            onnx_path, out, op_types_to_quantize=list(INT8_OP_TYPES), weight_type=QuantType.QInt8
        )
        return out.read_bytes()


def _openvino_runner(onnx_path: Path, threads: int) -> RunFn:
    try:
        import openvino as ov
    except ImportError as exc:
        raise ModelNotFoundError(
            "runtime 'openvino' needs the openvino package: pip install openvino"
        ) from exc
    config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    config["INFERENCE_NUM_THREADS"] = str(threads)
    compiled = ov.Core().compile_model(str(onnx_path), "CPU", config)
    request = compiled.create_infer_request()
    outputs = [(output, _head_of(output.get_any_name())) for output in compiled.outputs]
    one_at_a_time = threading.Lock()  # an infer request is not for several threads at once

    def run(batch: FloatArray) -> dict[str, FloatArray]:
        with one_at_a_time:
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
