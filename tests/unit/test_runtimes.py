"""Runtimes: every one the package offers runs the shipped model and agrees with ONNX Runtime float32."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from piano_ai import inference, runtimes
from piano_ai.activations import QUANT_LEVELS
from piano_ai.constants import N_KEYS, N_MELS
from piano_ai.errors import ModelNotFoundError
from piano_ai.model import HEADS
from piano_ai.quantize import INT8_FILE, write_int8

STEP = 1 / QUANT_LEVELS + 1e-6  # outputs come in steps of 1/255: runtimes 1e-6 apart may round a step apart
MEL = np.random.default_rng(0).normal(-5, 2, size=(700, N_MELS)).astype(np.float32)
INT8_TOLERANCE = 0.1  # probability; max |int8 - fp32| was 0.02-0.04 per head here (the bench checks F1)
BF16_TOLERANCE = 0.05  # probability; max |bf16 - fp32| was 0.012 on random log-mel here


@pytest.fixture(scope="module")
def float32() -> dict[str, np.ndarray]:
    act = inference.load_transcriber(runtime="onnx").predict(MEL)
    return {head: getattr(act, head) for head in HEADS}


def test_int8_stays_close_to_float32(float32: dict[str, np.ndarray]) -> None:
    model = inference.load_transcriber(runtime="onnx-int8")
    assert model.runtime == "onnx-int8"
    act = model.predict(MEL)
    for head in HEADS:
        got = getattr(act, head)
        assert got.shape == (700, N_KEYS) and got.dtype == np.float32
        assert 0 < np.abs(got - float32[head]).max() < INT8_TOLERANCE  # quantized, yet the same model


def test_openvino_equals_float32(float32: dict[str, np.ndarray]) -> None:
    pytest.importorskip("openvino")
    act = inference.load_transcriber(runtime="openvino").predict(MEL)
    for head in HEADS:
        np.testing.assert_allclose(getattr(act, head), float32[head], atol=STEP)


def test_openvino_bf16_stays_close_to_float32(float32: dict[str, np.ndarray]) -> None:
    pytest.importorskip("openvino")
    act = inference.load_transcriber(runtime="openvino-bf16").predict(MEL)
    full = slice(0, inference.STEP_FRAMES)  # frames from full windows (bf16); the rest: a short window
    for head in HEADS:
        got = getattr(act, head)
        assert got.shape == (700, N_KEYS) and got.dtype == np.float32
        assert 0 < np.abs(got[full] - float32[head][full]).max() < BF16_TOLERANCE
        np.testing.assert_allclose(got[full.stop :], float32[head][full.stop :], atol=STEP)  # float32


def test_a_bf16_chunk_gives_the_same_outputs_alone_and_in_a_batch() -> None:
    """The fixed-shape model always runs a full batch, so a window's neighbours never change its values."""
    pytest.importorskip("openvino")
    model = inference.load_transcriber(runtime="openvino-bf16")
    rng = np.random.default_rng(3)
    shape = (runtimes.FULL_WINDOW, N_MELS)
    chunks = np.stack([rng.normal(-9 + 2 * i, 1 + i, shape) for i in range(10)]).astype(np.float32)
    together = model.run(chunks)  # full batches of FULL_BATCH and a short one
    for i in (0, 5, 9):
        alone = model.run(chunks[i : i + 1])
        for head, values in alone.items():
            np.testing.assert_array_equal(values[0], together[head][i])


def test_bf16_calls_from_several_threads_at_once_all_finish() -> None:
    """Two requests' first calls at once hung for good (`piano-ai convert` of 4 files, two calls at once)."""
    pytest.importorskip("openvino")
    model = inference.load_transcriber(runtime="openvino-bf16")
    chunks = np.random.default_rng(4).normal(-5, 2, (runtimes.FULL_BATCH, runtimes.FULL_WINDOW, N_MELS))
    chunks = chunks.astype(np.float32)
    with ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(model.run, chunks) for _ in range(8)]
        outputs = [call.result(timeout=120) for call in calls]
    for got in outputs[1:]:
        for head, values in got.items():
            np.testing.assert_array_equal(values, outputs[0][head])


def test_the_fixed_shape_is_the_transcribers_window() -> None:
    per_call = inference.BATCH_SIZE // inference.CALLS_AHEAD
    assert (runtimes.FULL_WINDOW, runtimes.FULL_BATCH) == (inference.CHUNK_FRAMES, per_call)


def test_openvino_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(  # as if not installed
        importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else find_spec(name, *a)
    )
    for runtime in ("openvino", "openvino-bf16"):
        with pytest.raises(ModelNotFoundError, match="pip install openvino"):
            inference.load_transcriber(runtime=runtime)


def test_unknown_runtime_is_refused() -> None:
    with pytest.raises(ModelNotFoundError, match="unknown runtime 'tflite'"):
        inference.load_transcriber(runtime="tflite")


def test_onnx_runtimes_need_model_onnx(tmp_path: Path) -> None:
    for name in ("config.json", "model.weights.h5"):
        (tmp_path / name).write_bytes((inference.DEFAULT_MODEL_DIR / name).read_bytes())
    for runtime in ("onnx", "onnx-int8", "openvino", "openvino-bf16"):
        with pytest.raises(ModelNotFoundError, match="model.onnx is missing"):
            inference.load_transcriber(tmp_path, runtime=runtime)
    assert inference.load_transcriber(tmp_path).runtime == "keras"  # auto falls back


def test_auto_serves_int8_where_it_is_written_beside_float32(tmp_path: Path) -> None:
    assert inference.load_transcriber().runtime == "onnx-int8"  # the shipped model
    for name in ("config.json", "model.weights.h5", "model.onnx"):
        (tmp_path / name).write_bytes((inference.DEFAULT_MODEL_DIR / name).read_bytes())
    assert runtimes.auto_runtime(tmp_path) == "onnx"  # float32 alone
    assert write_int8(tmp_path) == tmp_path / INT8_FILE
    assert runtimes.auto_runtime(tmp_path) == "onnx-int8"
    assert inference.load_transcriber(tmp_path, runtime="onnx").runtime == "onnx"


def test_an_int8_chunk_gives_the_same_outputs_alone_and_in_a_batch() -> None:
    """Dynamic quantization scales by the whole call's range: batched, a loud chunk changes a quiet one's
    (the convolutions' fixed scales would not, the LSTMs' per-call ones would)."""
    model = inference.load_transcriber(runtime="onnx-int8")
    rng = np.random.default_rng(3)
    chunks = np.stack([rng.normal(-9 + 4 * i, 1 + i, (64, N_MELS)) for i in range(3)]).astype(np.float32)
    together = model.run(chunks)
    for i in range(3):
        alone = model.run(chunks[i : i + 1])
        for head, values in alone.items():
            np.testing.assert_array_equal(values[0], together[head][i])


def test_runtimes_name_every_choice() -> None:
    assert set(runtimes.RUNTIMES) == {"onnx", "onnx-int8", "openvino", "openvino-bf16", "keras"}


PLAN = """
import json, os, sys
if sys.argv[1] == "pinned":
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as `taskset -c 0`
from piano_ai import runtimes
print(json.dumps([runtimes.call_plan(1), runtimes.call_plan(4)]))
"""


def call_plans(where: str, omp: str | None) -> list[list[int]]:
    """call_plan(1) and call_plan(4) in a fresh process, pinned to one core or on all of this one's."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    command = [sys.executable, "-c", PLAN, where]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=True)
    return [list(plan) for plan in json.loads(result.stdout)]


def test_a_pinned_process_runs_one_model_thread_for_its_one_core() -> None:
    """ONNX Runtime's own default counts the machine's cores, not the ones a pinned process may use: two
    threads on one core took a conversion twice as long (docs/benchmarks.md, "Threads")."""
    assert call_plans("pinned", None) == call_plans("pinned", "") == [[1, 1], [1, 1]]
    assert call_plans("pinned", "3") == [[3, 1], [3, 1]]  # OMP_NUM_THREADS is obeyed


def test_one_stream_gets_every_core_and_several_get_a_call_per_core() -> None:
    import os

    cores = len(os.sched_getaffinity(0))
    assert call_plans("all", None) == [[cores, 1], [1, min(cores, 4)]]
    assert call_plans("all", "1") == [[1, 1], [1, min(cores, 4)]]


def test_onnx_sessions_do_not_spin_between_calls() -> None:
    """Spinning pool threads cost a worker's short jobs 20 ms of CPU each (docs/benchmarks.md, "Threads")."""
    options = runtimes.onnx_options(2)
    assert options.intra_op_num_threads == 2 and not options.enable_mem_pattern
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
