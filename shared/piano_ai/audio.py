"""Decode audio files to mono float32 at SAMPLE_RATE: the first stage of the pipeline.

libsndfile (through soundfile) reads wav, flac, ogg/opus and mp3 without ffmpeg; everything else
(m4a/aac, and any container ffmpeg knows) goes through the ffmpeg command line. Every failure becomes
an InvalidAudioError that names the file and says why, so callers can report it and never retry it.
"""

import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from piano_ai.constants import SAMPLE_RATE
from piano_ai.errors import AudioFileNotFoundError, InvalidAudioError
from piano_ai.types import FloatArray

log = logging.getLogger(__name__)

SOUNDFILE_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})
BLOCK_FRAMES = 1 << 18  # source frames read per block (~6 s at 44.1 kHz): bounds peak memory
TRUNCATION_TOLERANCE = 0.01  # decoded length may fall this fraction short of the declared length
FFMPEG_TIMEOUT_S = 600  # a decode that takes longer than this is treated as a hang


def decode(path: str | Path, name: str | None = None) -> FloatArray:
    """Decode an audio file to mono float32 samples at SAMPLE_RATE.

    Returns an array of shape (samples,) in -1..1 (channels are averaged). ``name`` is how errors
    refer to the file (default: the path as given). Raises AudioFileNotFoundError for a missing file
    and InvalidAudioError for an empty, truncated or undecodable one.
    """
    path = Path(path)
    name = name or str(path)
    if path.is_dir():
        raise InvalidAudioError(name, "it is a folder, not a file")
    if not path.is_file():
        raise AudioFileNotFoundError(name)
    if path.stat().st_size == 0:
        raise InvalidAudioError(name, "the file is empty (0 bytes)")
    audio = _decode_any(path, name)
    if audio.size == 0:
        raise InvalidAudioError(name, "no audio samples (the file is empty or cut short)")
    if not np.all(np.isfinite(audio)):
        audio = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
    return audio


def decode_bytes(data: bytes, name: str) -> FloatArray:
    """Decode an in-memory file; ``name``'s suffix picks the decoder, as for a path."""
    suffix = Path(name).suffix.lower()
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        return decode(handle.name, name=name)


def duration_s(path: str | Path, name: str | None = None) -> float:
    """Duration in seconds, read from the header when libsndfile knows the format, else by decoding."""
    path = Path(path)
    try:
        info = sf.info(str(path))
        if info.frames > 0 and info.samplerate > 0:
            return float(info.frames) / float(info.samplerate)
    except (sf.LibsndfileError, RuntimeError):
        pass
    return decode(path, name).size / SAMPLE_RATE


def _decode_any(path: Path, name: str) -> FloatArray:
    """Try libsndfile for the formats it owns, ffmpeg for the rest (and as a fallback)."""
    have_ffmpeg = shutil.which("ffmpeg") is not None
    if path.suffix.lower() in SOUNDFILE_SUFFIXES or not have_ffmpeg:
        try:
            handle = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError) as exc:
            if not have_ffmpeg:
                raise InvalidAudioError(name, _libsndfile_reason(exc)) from exc
            log.debug("libsndfile cannot open %s (%s); trying ffmpeg", name, exc)
        else:
            with handle:
                return _read_soundfile(handle, name)
    return _read_ffmpeg(path, name)


def _read_soundfile(handle: sf.SoundFile, name: str) -> FloatArray:
    """Read an open file block by block, mix to mono and resample as we go (bounded memory)."""
    import soxr

    declared = handle.frames
    source_rate = handle.samplerate
    resampler = None if source_rate == SAMPLE_RATE else soxr.ResampleStream(source_rate, SAMPLE_RATE, 1)
    pieces: list[FloatArray] = []
    read = 0
    try:
        # read() trims a short read; blocks() would hand back uninitialised frames past a cut.
        while (block := handle.read(BLOCK_FRAMES, dtype="float32", always_2d=True)).shape[0] > 0:
            read += block.shape[0]
            mono = block.mean(axis=1, dtype=np.float32)
            pieces.append(resampler.resample_chunk(mono) if resampler else mono)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InvalidAudioError(name, f"corrupt or truncated {handle.format} data: {exc}") from exc
    if resampler is not None:
        pieces.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    # mp3s with a Xing/LAME header declare their length; a cut file decodes to less.
    if declared > 0 and read < declared * (1.0 - TRUNCATION_TOLERANCE):
        raise InvalidAudioError(name, _truncated(read / source_rate, declared / source_rate))
    return np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)


def _truncated(decoded_s: float, declared_s: float) -> str:
    return f"truncated: decoded {decoded_s:.2f} s of the {declared_s:.2f} s its header declares"


def _libsndfile_reason(exc: Exception) -> str:
    text = str(exc)
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def _read_ffmpeg(path: Path, name: str) -> FloatArray:
    """Decode with the ffmpeg CLI straight to mono float32 at SAMPLE_RATE."""
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(path),
        "-vn", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1",
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise InvalidAudioError(name, "ffmpeg is needed for this format but is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise InvalidAudioError(name, f"decoding took longer than {FFMPEG_TIMEOUT_S} s") from exc
    stderr = result.stderr.decode("utf-8", errors="replace")
    if result.returncode != 0:
        raise InvalidAudioError(name, _ffmpeg_reason(stderr, path))
    audio = np.frombuffer(result.stdout, dtype=np.float32)
    declared = _declared_duration(stderr)
    decoded = audio.size / SAMPLE_RATE
    if declared is not None and decoded < declared * (1.0 - TRUNCATION_TOLERANCE) - 0.05:
        raise InvalidAudioError(name, _truncated(decoded, declared))
    return audio


def _declared_duration(stderr: str) -> float | None:
    match = _DURATION.search(stderr)
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _ffmpeg_reason(stderr: str, path: Path) -> str:
    """ffmpeg's last two messages, without '[demuxer @ 0x..]' or file-name prefixes."""
    prefix = f"{path}: "
    lines: list[str] = []
    for raw in stderr.splitlines():
        line = re.sub(r"^\[[^\]]*\]\s*", "", raw.strip()).removeprefix(prefix)
        if line and not line.startswith("Error opening input") and line not in lines:
            lines.append(line)
    return "; ".join(lines[-2:])[:200] or "ffmpeg could not decode it"
