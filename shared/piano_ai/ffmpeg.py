"""Decoding with the ffmpeg command line, held to the one input file.

ffmpeg follows references inside some formats: an HLS or concat playlist names other files (a playlist
behind an ID3 tag even sniffs as mp3), and a URL can name any protocol. So only the file protocol is
allowed, the demuxer is forced when we know the format, and otherwise limited to demuxers of
self-contained audio files.
"""

import re
import subprocess
from pathlib import Path

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.errors import InvalidAudioError
from piano_ai.types import FloatArray

TIMEOUT_S = 600  # a decode that takes longer than this is treated as a hang
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


def decode(
    path: Path, name: str, demuxer: str | None, max_s: float | None
) -> tuple[FloatArray, float | None]:
    """Decode to mono float32 at SAMPLE_RATE; returns (samples, the duration the container declares).

    With ``max_s``, ffmpeg stops a second past it, so a longer file costs no more than that.
    """
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", *input_args(path, demuxer)]
    command += ["-vn", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE)]
    if max_s is not None:
        command += ["-t", f"{max_s + 1:g}"]
    command.append("pipe:1")
    try:
        result = subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise InvalidAudioError(name, "ffmpeg is needed for this format but is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise InvalidAudioError(name, f"decoding took longer than {TIMEOUT_S} s") from exc
    stderr = result.stderr.decode("utf-8", errors="replace")
    if result.returncode != 0:
        raise InvalidAudioError(name, _reason(stderr, path))
    return np.frombuffer(result.stdout, dtype=np.float32), _declared_duration(stderr)


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
