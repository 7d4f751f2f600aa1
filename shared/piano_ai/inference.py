"""Run a trained model over a whole recording in bounded memory.

The log-mel is cut into overlapping chunks, run in batches, and the chunks' centres are stitched back,
so the model's working memory depends on CHUNK_FRAMES and BATCH_SIZE, not on the recording's length.
Transcriber.stream takes the log-mel block by block as it is computed, and gives activations back as
each batch is run, so a caller that consumes them as they come holds no whole-recording array.
"""

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from piano_ai.activations import as_stored
from piano_ai.constants import HOP_LENGTH, N_MELS, SAMPLE_RATE
from piano_ai.errors import ModelNotFoundError
from piano_ai.levels import LEVEL, key_levels
from piano_ai.model import HEADS, ModelConfig
from piano_ai.runtimes import RunFn, auto_runtime, runner
from piano_ai.types import Activations, FloatArray

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).parent / "weights" / "default"
CHUNK_FRAMES = 512  # frames per chunk (16.4 s): long enough for the BiLSTM's context
OVERLAP_FRAMES = 32  # frames of context dropped at each inner chunk edge (1 s)
BATCH_SIZE = 8  # chunks in a stream's model calls at once: CALLS_AHEAD calls of BATCH_SIZE // CALLS_AHEAD
CALLS_AHEAD = 2  # model calls a stream may have running at once in threads of their own (_CallsAhead)
STEP_FRAMES = CHUNK_FRAMES - 2 * OVERLAP_FRAMES  # frames each chunk keeps (14.3 s)


class Transcriber:
    """A loaded model: log-mel in, activations out. Load once per process and pass it around."""

    def __init__(
        self,
        run: RunFn,
        config: ModelConfig,
        runtime: str,
        model_dir: Path,
        batch_size: int = BATCH_SIZE,
        calls_ahead: int = CALLS_AHEAD,
    ) -> None:
        self._run = run
        self.config = config
        self.runtime = runtime
        self.model_dir = model_dir
        self.batch_size = batch_size  # chunks in a stream's calls at once (the same notes at any size)
        self.calls_ahead = calls_ahead  # a stream's calls at once, each of batch_size // calls_ahead chunks

    @property
    def run(self) -> RunFn:
        """The model call: (batch, frames, N_MELS) log-mel in, {head: (batch, frames, ...)}; frames is
        CHUNK_FRAMES but in a recording's last calls, where it may be less."""
        return self._run

    def with_run(self, run: RunFn, batch_size: int | None = None) -> "Transcriber":
        """The same model calling ``run`` instead (a piano_ai.batching.ChunkBatcher client: shared calls),
        ``batch_size`` chunks a call (None: this one's), one call at a time: the batcher already runs the
        calls of several streams side by side (with two calls ahead each as well, `piano-ai convert` of the
        `make bench` set took 0.83-0.85 s against 0.78-0.81 s, and 70 MB more)."""
        size = batch_size or self.batch_size
        return Transcriber(run, self.config, self.runtime, self.model_dir, size, calls_ahead=1)

    def predict(self, mel: FloatArray, progress: Callable[[float], None] | None = None) -> Activations:
        """Activations for a (frames, N_MELS) log-mel; progress(fraction of frames done) after each call."""
        frames = mel.shape[0]
        out: dict[str, FloatArray] = {}
        done = 0
        for block in self.stream([mel]):
            for head, values in block.items():
                if head not in out:
                    out[head] = np.empty((frames, *values.shape[1:]), np.float32)
                out[head][done : done + len(values)] = values
            done += len(next(iter(block.values())))
            if progress:
                progress(min(done / frames, 1.0) if frames else 1.0)
        pedal = out.get("pedal")
        return Activations(
            **{head: out[head] for head in HEADS},
            pedal=None if pedal is None else pedal[:, 0],
            level=out.get(LEVEL),
        )

    def stream(self, mel_blocks: Iterable[FloatArray]) -> Iterator[dict[str, FloatArray]]:
        """Activations of a log-mel that arrives in blocks of (frames, N_MELS), in bounded memory.

        Yields {output: (frames, ...) float32}, one per model call, covering consecutive frames from the
        first; every output the model has is passed on, and "level" (piano_ai.levels: the log-mel at each
        key's fundamental, which the onset network reads beside the heads), each rounded as a stored file
        keeps it (piano_ai.activations.as_stored: steps of 1/255), so notes decoded from a stored job's
        outputs are the job's own. Joined, they equal predict() on
        the joined log-mel: the chunks are the same, and only the last calls wait for the end. Those cut each
        window to the frames the recording has (a 5 s recording runs 157 frames, not CHUNK_FRAMES) and run
        windows of one length together, so a chunk's outputs depend on its own frames only, never on padding
        or on the batch size.

        Once a full batch is ready its model call runs in a thread of its own while the caller goes on
        (more blocks decoded and turned into log-mel, the previous call's notes), ``calls_ahead`` calls at
        most. A recording shorter than a full batch makes its calls in the caller's thread. A call may
        read its blocks after the stream has taken the next ones: a caller must not change a block it gave.
        """
        with _CallsAhead(self._run_batch, self.calls_ahead) as calls:
            held = np.zeros((0, N_MELS), np.float32)  # log-mel from frame held_from on
            held_from, received, batch = 0, 0, 0
            # A call's chunks: the calls at once hold batch_size, whatever calls_ahead is.
            size = max(1, self.batch_size // self.calls_ahead)
            for block in mel_blocks:
                held = block if held.size == 0 else np.concatenate([held, block])
                received += len(block)
                while _window_start((batch + 1) * size - 1) + CHUNK_FRAMES <= received:
                    yield from calls.start(
                        held, held_from, range(batch * size, (batch + 1) * size), full=True
                    )
                    batch += 1
                    keep_from = _window_start(batch * size)
                    held, held_from = held[keep_from - held_from :], keep_from
            chunks = len(range(0, max(received, 1), STEP_FRAMES))
            first = batch * size
            while first < chunks:
                length = _window_length(first, received)
                end = first + 1
                while end < min(chunks, first + size) and _window_length(end, received) == length:
                    end += 1
                yield from calls.start(held, held_from, range(first, end), received)
                first = end
            yield from calls.finish()

    def _run_batch(
        self, held: FloatArray, held_from: int, chunks: range, frames: int | None = None
    ) -> dict[str, FloatArray]:
        """Run the chunks numbered ``chunks`` (from ``held``, which starts at frame held_from); keep centres.

        frames: the recording's length, once known: every window is then cut to _window_length (the same
        for all of ``chunks``); only an empty recording's one window of 1 frame is filled, with zeros.
        """
        length = CHUNK_FRAMES if frames is None else _window_length(chunks[0], frames)
        windows, spans = [], []
        for index in chunks:
            start = index * STEP_FRAMES
            lo = _window_start(index)
            window = held[lo - held_from : lo - held_from + length]
            if window.shape[0] < length:
                filler = np.zeros((length - window.shape[0], N_MELS), np.float32)
                window = np.concatenate([window, filler])
            keep_end = start + STEP_FRAMES if frames is None else min(start + STEP_FRAMES, frames)
            windows.append(window.astype(np.float32))
            spans.append(slice(start - lo, keep_end - lo))
        result = self._run(np.stack(windows))  # (batch, length, N_MELS) in
        out = {
            head: as_stored(np.concatenate([values[i][src] for i, src in enumerate(spans)]))
            for head, values in result.items()
        }
        out[LEVEL] = as_stored(
            key_levels(np.concatenate([window[src] for window, src in zip(windows, spans, strict=True)]))
        )
        return out


class _CallsAhead:
    """Model calls run ahead of the caller in threads of their own, ``at_once`` at most, their outputs given
    back in order; the threads start with the first full batch (before it, and with ``at_once`` 1, calls
    run in the caller's thread).

    The `make bench` set one file at a time, two calls at once: 0.99-1.06 s against 1.15-1.34 s with every
    call in the caller's thread, about 30 MB more at peak, the same MIDI files (docs/benchmarks.md,
    "Conversion speed").
    """

    def __init__(self, call: Callable[..., dict[str, FloatArray]], at_once: int) -> None:
        self._call, self._at_once = call, at_once
        self._pool: ThreadPoolExecutor | None = None
        self._running: deque[Future[dict[str, FloatArray]]] = deque()

    def __enter__(self) -> "_CallsAhead":
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:  # a stream closed early waits for its calls in flight, starts no other
            self._pool.shutdown(wait=True, cancel_futures=True)

    def start(self, *args: object, full: bool = False) -> Iterator[dict[str, FloatArray]]:
        """Start the call ``_call(*args)``; yields the oldest call's outputs once ``at_once`` are running.
        ``full``: a full batch."""
        if self._pool is None and full and self._at_once > 1:
            self._pool = ThreadPoolExecutor(self._at_once, thread_name_prefix="model-call")
        if self._pool is None:
            yield self._call(*args)
            return
        self._running.append(self._pool.submit(self._call, *args))
        if len(self._running) >= self._at_once:
            yield self._running.popleft().result()

    def finish(self) -> Iterator[dict[str, FloatArray]]:
        """The outputs of the calls still in flight, oldest first."""
        while self._running:
            yield self._running.popleft().result()


def _window_length(chunk: int, frames: int) -> int:
    """Frames in chunk ``chunk``'s window once the recording's length is known: less near the end."""
    return max(1, min(CHUNK_FRAMES, frames - _window_start(chunk)))


def _window_start(chunk: int) -> int:
    """The first frame of chunk ``chunk``'s window: OVERLAP_FRAMES of context before the frames it keeps."""
    return max(0, chunk * STEP_FRAMES - OVERLAP_FRAMES)


def load_transcriber(
    model_dir: str | Path | None = None, runtime: str = "auto", threads: int | None = None
) -> Transcriber:
    """Load a model directory (config.json + model.weights.h5 [+ model.onnx, model.int8.onnx]).

    runtime: one of piano_ai.runtimes.RUNTIMES ("onnx", "onnx-int8", "openvino", "openvino-bf16", "keras"),
    or "auto" (piano_ai.runtimes.auto_runtime: ONNX Runtime on the int8 weights where the directory has
    them, else float32 ONNX, else Keras). threads: per model call
    (None: as piano_ai.runtimes.call_plan gives one recording at a time).
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
    if runtime == "auto":
        runtime = auto_runtime(path)
    run = runner(runtime, path, config, threads)
    log.info("loaded model %s with %s", path, runtime)
    return Transcriber(run, config, runtime, path)
