"""Decoding with the ffmpeg command line, held to the one input file.

ffmpeg follows references inside some formats: an HLS or concat playlist names other files (a playlist
behind an ID3 tag even sniffs as mp3), and a URL can name any protocol. So only the file protocol is
allowed, the demuxer is forced when we know the format, and otherwise limited to demuxers of
self-contained audio files.
"""

import os
import re
import select
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.errors import InvalidAudioError
from piano_ai.types import FloatArray

TIMEOUT_S = 600  # ffmpeg sending no samples for this long is treated as a hang
BYTES_PER_SAMPLE = 4  # f32le
# Demuxers that read nothing but their input file (no playlists, image sequences or network streams).
SELF_CONTAINED_DEMUXERS = ("aac", "aiff", "caf", "flac", "matroska", "mov", "mp3", "ogg", "w64", "wav")

_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def input_args(path: Path, demuxer: str | None) -> list[str]:
    """ffmpeg input options that open ``path`` and nothing else (``demuxer``: force it, when known)."""
    forced = ["-f", demuxer] if demuxer else []
    return [
        "-protocol_whitelist", "file", "-format_whitelist", ",".join(SELF_CONTAINED_DEMUXERS), *forced,
        "-i", f"file:{path.resolve()}",
    ]  # fmt: skip


class Decoder:
    """One ffmpeg process decoding a file to mono float32 at SAMPLE_RATE, read from its pipe block by block.

    Use as a context manager: leaving it (also early, on an error downstream) stops the process. With
    ``max_s``, ffmpeg stops a second past it, so a longer file costs no more than that.
    """

    def __init__(self, path: Path, name: str, demuxer: str | None, max_s: float | None) -> None:
        self.path, self.name = path, name
        self.command = ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", *input_args(path, demuxer)]
        self.command += ["-vn", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE)]
        if max_s is not None:
            self.command += ["-t", f"{max_s + 1:g}"]
        self.command.append("pipe:1")
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Decoder":
        self._stderr = tempfile.TemporaryFile()  # a file, not a pipe: ffmpeg never blocks on its chatter
        try:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except FileNotFoundError as exc:
            self._stderr.close()
            raise InvalidAudioError(
                self.name, "ffmpeg is needed for this format but is not installed"
            ) from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            assert self._process.stdout is not None
            self._process.stdout.close()
        self._stderr.close()

    def blocks(self, samples: int) -> Iterator[FloatArray]:
        """(samples,) float32 blocks (the last one shorter) until ffmpeg ends; raises InvalidAudioError when
        it fails or sends nothing for TIMEOUT_S seconds."""
        assert self._process is not None and self._process.stdout is not None, (
            "use Decoder as a context manager"
        )
        pipe = self._process.stdout.fileno()
        want = samples * BYTES_PER_SAMPLE
        pending = bytearray()
        while chunk := self._read(pipe, want - len(pending)):
            pending += chunk
            if len(pending) >= want:
                yield np.frombuffer(bytes(pending), np.float32)
                pending.clear()
        if self._process.wait() != 0:
            raise InvalidAudioError(self.name, _reason(self._stderr_text(), self.path))
        whole = len(pending) - len(pending) % BYTES_PER_SAMPLE
        if whole:
            yield np.frombuffer(bytes(pending[:whole]), np.float32)

    def declared_duration(self) -> float | None:
        """The duration the container declares, as ffmpeg reported it (None when it did not)."""
        return _declared_duration(self._stderr_text())

    def _read(self, pipe: int, size: int) -> bytes:
        ready, _, _ = select.select([pipe], [], [], TIMEOUT_S)
        if not ready:
            raise InvalidAudioError(self.name, f"ffmpeg sent nothing for {TIMEOUT_S} s")
        return os.read(pipe, size)

    def _stderr_text(self) -> str:
        # pread: ffmpeg shares the file's offset while it runs, so seeking would move where it writes.
        fd = self._stderr.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", errors="replace")


def _declared_duration(stderr: str) -> float | None:
    match = _DURATION.search(stderr)
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _reason(stderr: str, path: Path) -> str:
    """ffmpeg's last two messages, without '[demuxer @ 0x..]' or file-name prefixes."""
    prefixes = (f"file:{path.resolve()}: ", f"{path}: ")
    lines: list[str] = []
    for raw in stderr.splitlines():
        line = re.sub(r"^\[[^\]]*\]\s*", "", raw.strip())
        for prefix in prefixes:
            line = line.removeprefix(prefix)
        if line and not line.startswith("Error opening input") and line not in lines:
            lines.append(line)
    return "; ".join(lines[-2:])[:200] or "ffmpeg could not decode it"
