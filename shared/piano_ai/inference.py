"""Run a trained model over a whole recording in bounded memory.

The log-mel is cut into overlapping chunks, run in batches, and the chunks' centres are stitched back,
so memory depends on CHUNK_FRAMES and BATCH_SIZE, not on the recording's length.
"""

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from piano_ai.constants import HOP_LENGTH, N_KEYS, N_MELS, SAMPLE_RATE
from piano_ai.errors import ModelNotFoundError
from piano_ai.model import ModelConfig, heads
from piano_ai.types import Activations, FloatArray

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).parent / "weights" / "default"
CHUNK_FRAMES = 512  # frames per chunk (16.4 s): long enough for the BiLSTM's context
OVERLAP_FRAMES = 32  # frames of context dropped at each inner chunk edge (1 s)
BATCH_SIZE = 8  # chunks per model call

RunFn = Callable[[FloatArray], dict[str, FloatArray]]


class Transcriber:
    """A loaded model: log-mel in, activations out. Load once per process and pass it around."""

    def __init__(self, run: RunFn, config: ModelConfig, runtime: str, model_dir: Path) -> None:
        self._run = run
        self.config = config
        self.runtime = runtime
        self.model_dir = model_dir

    def predict(self, mel: FloatArray, progress: Callable[[float], None] | None = None) -> Activations:
        """Activations for a (frames, N_MELS) log-mel; progress(fraction) after each batch."""
        frames = mel.shape[0]
        chunks, spans = _chunk(mel)
        names = heads(self.config)
        out = {head: np.zeros((frames, 1 if head == "pedal" else N_KEYS), np.float32) for head in names}
        for first in range(0, len(chunks), BATCH_SIZE):
            batch = np.stack(chunks[first : first + BATCH_SIZE])  # (batch, CHUNK_FRAMES, N_MELS)
            result = self._run(batch)
            for i, (dst, src) in enumerate(spans[first : first + BATCH_SIZE]):
                for head in names:
                    out[head][dst] = result[head][i][src]
            if progress:
                progress(min(1.0, (first + BATCH_SIZE) / len(chunks)))
        pedal = out.pop("pedal", None)
        return Activations(**out, pedal=None if pedal is None else pedal[:, 0])


def _chunk(mel: FloatArray) -> tuple[list[FloatArray], list[tuple[slice, slice]]]:
    """Cut (frames, bins) into CHUNK_FRAMES windows; spans map each window's kept part back to the whole."""
    frames = mel.shape[0]
    step = CHUNK_FRAMES - 2 * OVERLAP_FRAMES
    pad_value = float(mel.min()) if frames else 0.0
    chunks, spans = [], []
    for start in range(0, max(frames, 1), step):
        lo = max(0, start - OVERLAP_FRAMES)
        window = mel[lo : lo + CHUNK_FRAMES]
        if window.shape[0] < CHUNK_FRAMES:
            pad = np.full((CHUNK_FRAMES - window.shape[0], mel.shape[1]), pad_value, np.float32)
            window = np.concatenate([window, pad])
        keep_end = min(start + step, frames)
        chunks.append(window.astype(np.float32))
        spans.append((slice(start, keep_end), slice(start - lo, keep_end - lo)))
    return chunks, spans


def load_transcriber(model_dir: str | Path | None = None, runtime: str = "auto") -> Transcriber:
    """Load a model directory (config.json + model.weights.h5 [+ model.onnx]).

    runtime: "onnx" (ONNX Runtime), "keras", or "auto" (ONNX when the directory has model.onnx).
    """
    path = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelNotFoundError(
            f"no model at {path}: config.json is missing (train one with `piano-ai train`)"
        )
    config = ModelConfig.load(config_path)
    if (config.sample_rate, config.hop_length, config.n_mels) != (SAMPLE_RATE, HOP_LENGTH, N_MELS):
        raise ModelNotFoundError(f"model at {path} was trained with other signal constants: {config}")
    onnx_path = path / "model.onnx"
    if runtime == "auto":
        runtime = "onnx" if onnx_path.is_file() else "keras"
    run = _onnx_runner(onnx_path) if runtime == "onnx" else _keras_runner(path, config)
    log.info("loaded model %s with %s", path, runtime)
    return Transcriber(run, config, runtime, path)


def _onnx_runner(onnx_path: Path) -> RunFn:
    if not onnx_path.is_file():
        raise ModelNotFoundError(f"{onnx_path} is missing; use runtime 'keras' or export the model")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
    session = ort.InferenceSession(str(onnx_path), options, providers=ort.get_available_providers())
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]

    def run(batch: FloatArray) -> dict[str, FloatArray]:
        results = session.run(None, {input_name: batch})
        return {_head_of(name): value for name, value in zip(names, results, strict=True)}

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
