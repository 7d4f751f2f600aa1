"""The convert command's terminal display: a bar per file labelled with its stage, and decoders kept quiet.

tqdm is imported inside the functions, so importing this module keeps `piano-ai --help` instant.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

    from piano_ai.types import ProgressCallback

log = logging.getLogger(__name__)

# Share of a file's progress bar each stage fills (inference dominates).
STAGE_WEIGHTS = {"decoding": 0.1, "features": 0.1, "inference": 0.75, "postprocessing": 0.05}
NAME_WIDTH = 16  # characters of the file name shown before the bar
ELLIPSIS = "…"


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """``name`` in at most ``width`` characters: the middle gives way to an ellipsis, the extension stays."""
    if len(name) <= width:
        return name
    suffix = PurePath(name).suffix
    if len(suffix) > width // 2:  # an odd "extension" (a dot late in a long name) is not worth keeping
        suffix = ""
    head = width - len(ELLIPSIS) - len(suffix)
    return f"{name[:head]}{ELLIPSIS}{suffix}"


def stage_bar(file: TextIO, disable: bool | None, position: int = 1) -> tqdm:
    """A per-file bar: '<name> |####   | 45% inference' (0..100, name and stage set by the caller), on line
    ``position`` under the files bar (one per file converted at the same time)."""
    from tqdm import tqdm

    # The stage goes in postfix[0]: with a string postfix tqdm itself prefixes ", " to it.
    return tqdm(
        total=100,
        bar_format=f"{{desc:>{NAME_WIDTH}}} {{bar}} {{percentage:3.0f}}% {{postfix[0]}}",
        postfix=[""],
        file=file,
        disable=disable,
        position=position,
        leave=False,
    )


def bar_progress(bar: tqdm) -> ProgressCallback:
    """Map (stage, fraction) onto one 0..100 bar per file, labelled with the stage."""
    stages = list(STAGE_WEIGHTS)
    stage_label = getattr(bar, "postfix", None)  # a disabled bar has none
    if isinstance(stage_label, list):
        stage_label[0] = ""  # not the previous file's last stage

    def report(stage: str, fraction: float) -> None:
        done = sum(STAGE_WEIGHTS[s] for s in stages[: stages.index(stage)])
        bar.n = round(100 * (done + STAGE_WEIGHTS[stage] * min(max(fraction, 0.0), 1.0)))
        if isinstance(stage_label, list):
            stage_label[0] = stage
        bar.refresh()

    return report


@contextmanager
def terminal(stream: TextIO) -> Iterator[TextIO]:
    """``stream`` on a file descriptor of its own, so the bars still show while decoder_chatter_to_log
    holds fd 2 (decoding now runs all through a file's conversion); ``stream`` itself when it has no fd."""
    try:
        stream.flush()
        own = os.fdopen(os.dup(stream.fileno()), "w", buffering=1, encoding=stream.encoding or "utf-8")
    except (OSError, ValueError, AttributeError):  # a captured or replaced stream without a descriptor
        yield stream
        return
    with own:
        yield own


class _Redirect:
    """fd 2 sent to a temporary file while any thread decodes; the names of the files decoded meanwhile."""

    lock = threading.Lock()
    users = 0
    saved = -1
    sink: IO[bytes] | None = None
    names: list[str] = []


@contextmanager
def decoder_chatter_to_log(name: str) -> Iterator[None]:
    """Send what C libraries print on file descriptor 2 to this module's log (DEBUG) instead of the terminal.

    libmpg123 (inside libsndfile) writes notes like "Illegal Audio-MPEG-Header ... Trying to resync" straight
    to fd 2 while decoding a damaged mp3; on a terminal they land over the progress bar. fd 2 is the
    process's: files converted at the same time (in threads) share one redirection, from the first in to the
    last out, and what was printed meanwhile is logged under all their names.
    """
    with _Redirect.lock:
        if _Redirect.users == 0:
            try:
                sys.stderr.flush()
                _Redirect.saved = os.dup(2)
            except (OSError, ValueError):  # no fd 2 to redirect (a closed or replaced stderr)
                _Redirect.saved = -1
            if _Redirect.saved >= 0:
                _Redirect.sink = tempfile.TemporaryFile()
                os.dup2(_Redirect.sink.fileno(), 2)
            _Redirect.names = []
        _Redirect.users += 1
        _Redirect.names.append(name)
    try:
        yield
    finally:
        with _Redirect.lock:
            _Redirect.users -= 1
            if _Redirect.users == 0 and _Redirect.sink is not None:
                _restore(_Redirect.sink, _Redirect.saved, ", ".join(_Redirect.names))
                _Redirect.sink = None


def _restore(sink: IO[bytes], saved: int, names: str) -> None:
    """Put fd 2 back and log what was printed on it meanwhile."""
    os.dup2(saved, 2)
    os.close(saved)
    with sink:
        sink.seek(0)
        chatter = sink.read().decode("utf-8", errors="replace").strip()
    if chatter:
        log.debug("decoding %s printed:\n%s", names, chatter)
