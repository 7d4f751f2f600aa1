"""`piano-ai convert`'s loop over its files: several at a time, their chunks run by the model together.

Each file is converted in a thread of its own by convert_file, the model's calls going through one
piano_ai.batching.ChunkBatcher, so short files share batches instead of running one chunk per call
(docs/benchmarks.md, "Batching"). Every file streams as it does alone; memory grows with the number of files
at once, not with their length. A failing file is reported on its own line and the others go on.
"""

from __future__ import annotations

import logging
import queue
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from piano_ai.commands import progress as display

if TYPE_CHECKING:
    from tqdm import tqdm

    from piano_ai.batching import ChunkBatcher
    from piano_ai.inference import Transcriber
    from piano_ai.types import NoteParams

log = logging.getLogger(__name__)

# Files converted at once by default. 4 one-chunk files make a batch of 4, nearly as cheap per chunk as 8
# with ONNX Runtime's default threads; each file at once adds 40-65 MB (8 whole recordings at once: 707 MB
# peak RSS, 4: 616 MB, 1: 425 MB; docs/benchmarks.md, "Batching").
FILES_AT_ONCE = 4


def convert_all(
    sources: list[Path],
    model: Transcriber,
    params: NoteParams,
    out_dir: Path,
    formats: tuple[str, ...],
    quiet: bool,
    keep_extension: bool = False,
    files_at_once: int = 1,
    calls_at_once: int = 1,
) -> int:
    """Convert each file, ``files_at_once`` at a time, reporting failures on stderr; returns how many failed.
    ``calls_at_once``: model calls that may run at once (piano_ai.runtimes.call_plan).

    Two inputs with the same output name: the second waits for the first and is refused if it succeeded.
    """
    from tqdm import tqdm

    from piano_ai.batching import ChunkBatcher

    # One file at a time shares no call: its stream runs its own calls ahead (piano_ai.inference).
    batcher = None
    if min(files_at_once, len(sources)) > 1:
        # Calls at once each hold a batch's buffers: smaller batches keep the memory of BATCH_SIZE chunks
        # (one thread per call runs a chunk as fast in any batch: docs/benchmarks.md, "Batching").
        batch_size = max(1, model.batch_size // calls_at_once)
        batcher = ChunkBatcher(model.run, batch_size, parallel=calls_at_once)
    refused = 0
    claimed: dict[str, tuple[Path, Future[bool]]] = {}  # output name -> the latest input given it
    converting: list[Future[bool]] = []
    with display.terminal(sys.stderr) as term, ThreadPoolExecutor(files_at_once, "convert") as pool:
        files_bar = tqdm(total=len(sources), desc="files", unit="file", file=term, disable=quiet or None)
        bars: queue.Queue[tqdm] = queue.Queue()
        for slot in range(files_at_once):
            bars.put(display.stage_bar(term, disable=quiet or None, position=1 + slot))
        job = _FileJob(model, batcher, params, out_dir, formats, term, bars, files_bar)
        for source in sources:
            out_name = source.name if keep_extension else source.stem
            if out_name in claimed and claimed[out_name][1].result():  # waits for the first one
                hint = "" if keep_extension else " (--keep-extension keeps both: <name>.<ext>.mid)"
                job.fail(
                    source, f"output name {out_name}.mid is already used by {claimed[out_name][0]}{hint}"
                )
                refused += 1
                continue
            converting.append(pool.submit(job, source, out_name))
            claimed[out_name] = (source, converting[-1])
        failed = refused + sum(not future.result() for future in converting)
        while not bars.empty():
            bars.get().close()
        files_bar.close()
    if failed:
        print(f"piano-ai: {failed} of {len(sources)} files failed", file=sys.stderr)
    return failed


class _FileJob:
    """Converts one file in a pool thread, with a progress bar of its own taken from ``bars``."""

    def __init__(
        self,
        model: Transcriber,
        batcher: ChunkBatcher | None,
        params: NoteParams,
        out_dir: Path,
        formats: tuple[str, ...],
        term: TextIO,
        bars: queue.Queue[tqdm],
        files_bar: tqdm,
    ) -> None:
        self.model, self.batcher, self.params = model, batcher, params
        self.out_dir, self.formats, self.term = out_dir, formats, term
        self.bars, self.files_bar = bars, files_bar

    def __call__(self, source: Path, out_name: str) -> bool:
        """True when ``source`` was converted; a failure is reported, never raised."""
        from piano_ai.commands.convert import convert_file
        from piano_ai.errors import PianoAIError

        bar = self.bars.get()
        try:
            bar.reset()
            bar.set_description_str(display.short_name(source.name))
            with ExitStack() as stack:
                model = self.model
                if self.batcher is not None:
                    run = stack.enter_context(self.batcher.client())
                    model = model.with_run(run, self.batcher.batch_size)
                progress = display.bar_progress(bar)
                result = convert_file(
                    source, model, self.params, self.out_dir, self.formats, progress, out_name
                )
        except (PianoAIError, OSError) as exc:
            self.fail(source, _reason(exc, source))
            return False
        except Exception as exc:  # keep converting the rest; the traceback goes to the log
            log.debug("converting %s failed", source, exc_info=True)
            self.fail(source, f"internal error: {type(exc).__name__}: {exc}")
            return False
        finally:
            self.bars.put(bar)
        self.files_bar.update(1)
        self._write(f"{result.outputs[0]}  ({result.note_count} notes, {result.audio_s:.1f} s)", sys.stdout)
        if result.score_note:
            self._write(f"piano-ai: {source}: {result.score_note}")
        return True

    def fail(self, source: Path, reason: str) -> None:
        self.files_bar.update(1)
        self._write(f"piano-ai: {source}: {reason}")

    def _write(self, line: str, file: TextIO | None = None) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=file or self.term)


def _reason(exc: Exception, source: Path) -> str:
    """The error message without a leading '<file>: ' (the line already names the file)."""
    text = str(exc)
    for prefix in (f"{source}: ", f"{source.name}: "):
        text = text.removeprefix(prefix)
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return text
