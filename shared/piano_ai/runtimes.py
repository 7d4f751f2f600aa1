"""Inference runtimes: each turns a model directory into a function from a batch of log-mel chunks to outputs.

    onnx       ONNX Runtime, float32
    onnx-int8  ONNX Runtime on model.int8.onnx: model.onnx with its convolutions (but the first), MatMul and
               LSTM weights quantized to int8 (piano_ai.quantize), written by export next to model.onnx,
               or quantized at load where it is missing
    openvino   Intel's OpenVINO on model.onnx, float32 (`pip install openvino`; not in the lock)
    openvino-bf16  the same in bf16 where the CPU has AMX / AVX-512-BF16: the model 1.6x faster on one core,
               whole conversions no faster here (auto_runtime)
    keras      the Keras model built from config.json and model.weights.h5 (TensorFlow)

Every runner returns every output the model has, named by head (onset, frame, ..., pedal where it exists).
"""

import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from piano_ai.constants import N_MELS
from piano_ai.errors import ModelNotFoundError
from piano_ai.heap import keep_freed_memory
from piano_ai.model import ModelConfig, heads
from piano_ai.quantize import INT8_FILE, ONNX_FILE, RANGES_FILE, quantized_int8
from piano_ai.types import FloatArray

if TYPE_CHECKING:
    import onnxruntime
    import openvino

RunFn = Callable[
    [FloatArray], dict[str, FloatArray]
]  # (batch, frames, N_MELS) -> {head: (batch, frames, ...)}
RUNTIMES = ("onnx", "onnx-int8", "openvino", "openvino-bf16", "keras")  # "auto": auto_runtime
FULL_WINDOW = 512  # frames of a full window (piano_ai.inference.CHUNK_FRAMES)
FULL_BATCH = 4  # windows per OpenVINO call of the fixed shape: a stream's call (inference.CALLS_AHEAD)


def runner(runtime: str, model_dir: Path, config: ModelConfig, threads: int | None = None) -> RunFn:
    """The run function of ``runtime`` (one of RUNTIMES) for the model in model_dir; ``threads`` per call
    (None: call_plan(1)'s). Every runner may be called from several threads at once."""
    threads = threads or call_plan(1)[0]
    _one_blas_thread()
    keep_freed_memory()  # the arrays around the model's calls come from reused memory (piano_ai.heap)
    if runtime == "keras":
        return _keras_runner(model_dir, config)
    onnx_path = model_dir / ONNX_FILE
    if not onnx_path.is_file():
        raise ModelNotFoundError(f"{onnx_path} is missing; use runtime 'keras' or export the model")
    if runtime == "onnx":
        return _onnx_runner(str(onnx_path), threads)
    if runtime == "onnx-int8":
        int8_path = model_dir / INT8_FILE
        model = str(int8_path) if int8_path.is_file() else quantized_int8(onnx_path, model_dir / RANGES_FILE)
        return _one_chunk_at_a_time(_onnx_runner(model, threads))
    if runtime == "openvino":
        return _openvino_runner(onnx_path, threads)
    if runtime == "openvino-bf16":
        return _openvino_runner(onnx_path, threads, "bf16")
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

    # QDQ propagation would move the int8 model's first quantization above the float32 pooling after the
    # first convolution (piano_ai.quantize), which then ran as a plain uint8 MaxPool: 6.5 ms a chunk
    # against 0.4 ms
    session = ort.InferenceSession(
        model,
        onnx_options(threads),
        providers=ort.get_available_providers(),
        disabled_optimizers=["QDQPropagationTransformer"],
    )
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
    """What "auto" serves: ONNX Runtime on the int8 weights (model.int8.onnx) where the directory has them,
    else on model.onnx (float32), else Keras.

    int8 held accuracy within 0.002 F1 of float32 on v2 and ENSTDkCl and took 10-25% less CPU and 110 MB
    less memory in a conversion (docs/benchmarks.md, "Inference runtimes", 2026-12-06); its int8 convolutions
    (2026-12-07) moved no figure by more than 0.003 and took a chunk from 17.2 to 9.9 ms. It is served since
    every path decodes the outputs as a job stores them (piano_ai.activations.as_stored), so a stored job
    re-decodes to its own notes whatever the runtime. OpenVINO bf16 held accuracy too and ran the model 1.6x
    faster on one core, but whole conversions on 2 cores were no faster: selectable only."""
    if (model_dir / INT8_FILE).is_file():
        return "onnx-int8"
    return "onnx" if (model_dir / ONNX_FILE).is_file() else "keras"


def _openvino_runner(onnx_path: Path, threads: int, precision: str = "f32") -> RunFn:
    """OpenVINO on model.onnx at ``precision`` ("f32" or "bf16": AMX / AVX-512-BF16 where the CPU has them)
    for full windows; ONNX Runtime float32 for a recording's short last windows.

    Full windows (FULL_WINDOW frames) run in a model compiled for that one shape, FULL_BATCH chunks a call,
    a short batch filled with silent chunks: compiled for a fixed shape, bf16 ran a batch of 8 windows in
    about half ONNX Runtime float32's time here, and a chunk's outputs were the same bit for bit whatever
    its neighbours or place in the batch (a bf16 batch of 1 gave other values than a batch of 8, so the
    batch never changes). Compiled for open shapes, OpenVINO took 74 ms for one 157-frame window (a 5 s
    recording) against ONNX Runtime's 16 ms, so windows of any other length go to ONNX Runtime. OpenVINO
    is imported and the model compiled at the first full window (about 0.5 s), so recordings shorter than
    one window (16 s) never pay for it; compiled models are kept in _openvino_cache().
    """
    if importlib.util.find_spec("openvino") is None:
        raise ModelNotFoundError("runtime 'openvino' needs the openvino package: pip install openvino")
    short = _onnx_runner(str(onnx_path), threads)
    compiled: list = []  # the fixed-shape model, once compiled
    compiling = threading.Lock()
    idle: list = []  # infer requests not in use (a request serves one call at a time)

    def request() -> "openvino.InferRequest":
        """An idle request, or a new one: its first call is made here, one at a time (two requests' first
        calls at once hung `piano-ai convert` of 4 files for good, both threads inside infer())."""
        with compiling:
            if idle:
                return idle.pop()
            if not compiled:
                compiled.append(_openvino_fixed(onnx_path, precision, N_MELS))
            made = compiled[0].create_infer_request()
            made.infer({0: np.zeros((FULL_BATCH, FULL_WINDOW, N_MELS), np.float32)})
            return made

    def infer(batch: FloatArray) -> dict[str, FloatArray]:
        filled = np.zeros((FULL_BATCH, *batch.shape[1:]), np.float32)
        filled[: len(batch)] = batch
        taken = request()
        try:
            results = taken.infer({0: filled})
            outputs = compiled[0].outputs
            return {_head_of(o.get_any_name()): np.array(results[o])[: len(batch)] for o in outputs}
        finally:
            with compiling:
                idle.append(taken)

    def run(batch: FloatArray) -> dict[str, FloatArray]:
        if batch.shape[1] != FULL_WINDOW:
            return short(batch)
        parts = [infer(batch[i : i + FULL_BATCH]) for i in range(0, len(batch), FULL_BATCH)]
        return {head: np.concatenate([p[head] for p in parts]) for head in parts[0]}

    return run


def _openvino_fixed(onnx_path: Path, precision: str, n_mels: int) -> "openvino.CompiledModel":
    """model.onnx compiled by OpenVINO for (FULL_BATCH, FULL_WINDOW, n_mels) log-mel, one thread a call:
    with two, 22,000 frames took 0.92-1.03 s in bf16 against 0.54-0.61 s with one (both cores idle; the
    two cores here may share one AMX unit). Several calls at once each take a thread of their own."""
    import openvino as ov

    core = ov.Core()
    cache = _openvino_cache()
    if cache is not None:
        core.set_property({"CACHE_DIR": str(cache)})
    model = core.read_model(str(onnx_path))
    model.reshape({model.inputs[0]: ov.PartialShape([FULL_BATCH, FULL_WINDOW, n_mels])})
    config = {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": "1",
    }
    return core.compile_model(model, "CPU", config)


def _openvino_cache() -> Path | None:
    """Where OpenVINO keeps compiled models ($XDG_CACHE_HOME or ~/.cache, then piano-ai/openvino; None where
    it cannot be made): a later load takes the compiled model, keyed by the model's contents and settings
    (compiling the fixed shape took 0.34 s, loading it 0.06-0.19 s)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = root / "piano-ai" / "openvino"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder


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
