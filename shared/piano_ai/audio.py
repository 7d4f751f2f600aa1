"""Decode audio files to mono float32 at SAMPLE_RATE: the first stage of the pipeline.

libsndfile (through soundfile) reads wav, flac, ogg/opus and mp3 without ffmpeg; everything else
(m4a/aac, and any self-contained container ffmpeg knows) goes through the ffmpeg command line, held to
the one input file (piano_ai.ffmpeg). Every failure becomes an InvalidAudioError that names the file and
says why, so callers can report it and never retry it; a recording over ``max_s`` is an AudioTooLongError,
refused from its header before decoding when the header tells the length.
"""

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from piano_ai import ffmpeg, mp3
from piano_ai.constants import SAMPLE_RATE
from piano_ai.errors import AudioFileNotFoundError, AudioTooLongError, InvalidAudioError
from piano_ai.formats import SNIFF_BYTES, UNKNOWN_FRAMES, declared_duration_s, ffmpeg_demuxer, sniff_format
from piano_ai.types import FloatArray

log = logging.getLogger(__name__)

SOUNDFILE_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})
BLOCK_FRAMES = 1 << 18  # source frames read per block (~6 s at 44.1 kHz): bounds peak memory
TRUNCATION_TOLERANCE = 0.01  # decoded length may fall this fraction short of the declared length


def decode(path: str | Path, name: str | None = None, max_s: float | None = None) -> FloatArray:
    """Decode an audio file to mono float32 samples at SAMPLE_RATE.

    Returns an array of shape (samples,) in -1..1 (channels are averaged). ``name`` is how errors
    refer to the file (default: the path as given). Raises AudioFileNotFoundError for a missing file,
    InvalidAudioError for an empty, truncated or undecodable one, and AudioTooLongError for one that
    lasts longer than ``max_s`` seconds (from its header, else as soon as decoding passes it).
    """
    path = Path(path)
    name = name or str(path)
    if path.is_dir():
        raise InvalidAudioError(name, "it is a folder, not a file")
    if not path.is_file():
        raise AudioFileNotFoundError(name)
    if path.stat().st_size == 0:
        raise InvalidAudioError(name, "the file is empty (0 bytes)")
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
        declared = declared_duration_s(stream, sniff_format(head))
    if max_s is not None and declared is not None and declared > max_s:
        raise AudioTooLongError(name, max_s, declared)
    demuxer = ffmpeg_demuxer(head)  # from the content: the name may lie
    audio = _decode_any(path, name, demuxer, max_s, declared)
    if audio.size == 0:
        raise InvalidAudioError(name, "no audio samples (the file is empty or cut short)")
    if demuxer == "mp3" and mp3.ends_inside_a_frame(path):  # no Xing/LAME header says it was cut
        decoded = f"{audio.size / SAMPLE_RATE:.2f} s"
        raise InvalidAudioError(name, f"truncated: it ends inside an mp3 frame, after {decoded} of audio")
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
    """Duration in seconds, read from the header when it declares one, else by decoding."""
    path = Path(path)
    with path.open("rb") as stream:
        declared = declared_duration_s(stream, sniff_format(stream.read(SNIFF_BYTES)))
    return declared if declared is not None else decode(path, name).size / SAMPLE_RATE


def _decode_any(
    path: Path, name: str, demuxer: str | None, max_s: float | None, declared_s: float | None
) -> FloatArray:
    """libsndfile for the formats it owns, ffmpeg for the rest (and as a fallback).

    ``declared_s``: the length the header declares, if any; decoding to much less is a truncation.
    """
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
                # libsndfile fails at the end of a file whose header leaves the length out; ffmpeg does not.
                if handle.frames < UNKNOWN_FRAMES or not have_ffmpeg:
                    return _read_soundfile(handle, name, max_s, declared_s)
    return _read_ffmpeg(path, name, demuxer, max_s, declared_s)


def _read_soundfile(
    handle: sf.SoundFile, name: str, max_s: float | None, declared_s: float | None
) -> FloatArray:
    """Read an open file block by block, mix to mono and resample as we go (bounded memory)."""
    import soxr

    source_rate = handle.samplerate
    limit_s = max_s if max_s is not None else float("inf")
    resampler = None if source_rate == SAMPLE_RATE else soxr.ResampleStream(source_rate, SAMPLE_RATE, 1)
    pieces: list[FloatArray] = []
    read = 0
    try:
        # read() trims a short read; blocks() would hand back uninitialised frames past a cut.
        while (block := handle.read(BLOCK_FRAMES, dtype="float32", always_2d=True)).shape[0] > 0:
            read += block.shape[0]
            if read > limit_s * source_rate:  # a header that under-declares: stop at the limit
                raise AudioTooLongError(name, limit_s)
            mono = block.mean(axis=1, dtype=np.float32)
            pieces.append(resampler.resample_chunk(mono) if resampler else mono)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InvalidAudioError(name, f"corrupt or truncated {handle.format} data: {exc}") from exc
    if resampler is not None:
        pieces.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    # Not handle.frames: for an mp3 without a Xing/LAME header that is a guess, too long for VBR.
    if declared_s is not None and read / source_rate < declared_s * (1.0 - TRUNCATION_TOLERANCE):
        raise InvalidAudioError(name, _truncated(read / source_rate, declared_s))
    return np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)


def _truncated(decoded_s: float, declared_s: float) -> str:
    return f"truncated: decoded {decoded_s:.2f} s of the {declared_s:.2f} s its header declares"


def _libsndfile_reason(exc: Exception) -> str:
    text = str(exc)
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def _read_ffmpeg(
    path: Path, name: str, demuxer: str | None, max_s: float | None, declared_s: float | None
) -> FloatArray:
    """Decode with ffmpeg, then refuse what runs past ``max_s`` or falls short of its declared length."""
    audio, container_s = ffmpeg.decode(path, name, demuxer, max_s)
    # A container we do not parse ourselves: trust ffmpeg's reading of its header.
    declared = container_s if demuxer is None else declared_s
    decoded = audio.size / SAMPLE_RATE
    if max_s is not None and decoded > max_s:
        raise AudioTooLongError(name, max_s, declared if declared and declared > max_s else None)
    if declared is not None and decoded < declared * (1.0 - TRUNCATION_TOLERANCE) - 0.05:
        raise InvalidAudioError(name, _truncated(decoded, declared))
    return audio
