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
from collections.abc import Generator, Iterator
from contextlib import closing
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
# Content that only ffmpeg reads, whatever the file's name: libsndfile misreads raw AAC (ADTS) as an mp3
# and decodes a few frames of noise.
FFMPEG_ONLY_DEMUXERS = frozenset({"aac", "mov"})
BLOCK_SAMPLES = 1 << 17  # samples at SAMPLE_RATE per decoded block (8.2 s, 512 KB): bounds peak memory
READ_AHEAD = 2  # blocks libsndfile reads ahead of the resampler (_read_soundfile)
TRUNCATION_TOLERANCE = 0.01  # decoded length may fall this fraction short of the declared length


def decode(path: str | Path, name: str | None = None, max_s: float | None = None) -> FloatArray:
    """Decode an audio file to mono float32 samples at SAMPLE_RATE.

    Returns an array of shape (samples,) in -1..1 (channels are averaged): decode_blocks joined, with the
    same checks and errors.
    """
    pieces = list(decode_blocks(path, name, max_s))
    return np.concatenate(pieces) if len(pieces) != 1 else pieces[0]


def decode_blocks(
    path: str | Path, name: str | None = None, max_s: float | None = None
) -> Iterator[FloatArray]:
    """Decode an audio file block by block: mono float32 at SAMPLE_RATE, (samples,) per block.

    No block is longer than BLOCK_SAMPLES (plus the resampler's few samples of delay at the end), so memory
    does not grow with the recording. ``name`` is how errors refer to the file (default: the path as given).
    Raises AudioFileNotFoundError for a missing file, InvalidAudioError for an empty, truncated or
    undecodable one, and AudioTooLongError for one longer than ``max_s`` seconds (from its header before
    any block, else as soon as decoding passes it). A truncation shows only at the end: the error comes
    after the blocks already given, so a caller must not trust its work until the iterator is exhausted.
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
    samples = 0
    for block in _decode_any(path, name, demuxer, max_s, declared):
        samples += block.size
        if not np.all(np.isfinite(block)):
            block = np.nan_to_num(block, nan=0.0, posinf=1.0, neginf=-1.0)
        if block.size:
            yield block
    if samples == 0:
        raise InvalidAudioError(name, "no audio samples (the file is empty or cut short)")
    if demuxer == "mp3" and mp3.ends_inside_a_frame(path):  # no Xing/LAME header says it was cut
        decoded = f"{samples / SAMPLE_RATE:.2f} s"
        raise InvalidAudioError(name, f"truncated: it ends inside an mp3 frame, after {decoded} of audio")


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


def declared_s(path: str | Path) -> float | None:
    """Seconds the file's header declares, without decoding; None when it does not say (or cannot be read)."""
    try:
        with Path(path).open("rb") as stream:
            return declared_duration_s(stream, sniff_format(stream.read(SNIFF_BYTES)))
    except OSError:
        return None


def _decode_any(
    path: Path, name: str, demuxer: str | None, max_s: float | None, declared_s: float | None
) -> Iterator[FloatArray]:
    """libsndfile for the formats it owns (by name, unless the content is AAC or m4a), ffmpeg for the rest
    (and as a fallback).

    ``declared_s``: the length the header declares, if any; decoding to much less is a truncation.
    """
    have_ffmpeg = shutil.which("ffmpeg") is not None
    by_name = path.suffix.lower() in SOUNDFILE_SUFFIXES and demuxer not in FFMPEG_ONLY_DEMUXERS
    if by_name or not have_ffmpeg:
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
                    yield from _read_soundfile(handle, name, max_s, declared_s)
                    return
    yield from _read_ffmpeg(path, name, demuxer, max_s, declared_s)


def _read_soundfile(
    handle: sf.SoundFile, name: str, max_s: float | None, declared_s: float | None
) -> Iterator[FloatArray]:
    """Read an open file block by block, mixing to mono and resampling as we go (soxr's streaming mode).

    Where there is resampling to do, libsndfile reads the next blocks in a thread of its own meanwhile (both
    release the GIL): decoding an mp3 is the longest chain of a conversion, and the `make bench` mp3 files
    one at a time took 0.810-0.857 s against 0.848-0.951 s with reading and resampling in one thread (best of
    5, five alternating rounds; docs/benchmarks.md, "Where an mp3 conversion waits")."""
    import soxr

    from piano_ai.prefetch import prefetch

    source_rate = handle.samplerate
    limit_s = max_s if max_s is not None else float("inf")
    resampler = None if source_rate == SAMPLE_RATE else soxr.ResampleStream(source_rate, SAMPLE_RATE, 1)
    frames_per_read = max(1, BLOCK_SAMPLES * source_rate // SAMPLE_RATE)

    def blocks() -> Generator[FloatArray, None, None]:
        # read() trims a short read; blocks() would hand back uninitialised frames past a cut.
        while (block := handle.read(frames_per_read, dtype="float32", always_2d=True)).shape[0] > 0:
            yield block

    source = prefetch(blocks(), READ_AHEAD) if resampler else blocks()
    read = 0
    try:
        with closing(source):  # stopping early ends the reading thread before the file is closed
            for block in source:
                read += block.shape[0]
                if read > limit_s * source_rate:  # a header that under-declares: stop at the limit
                    raise AudioTooLongError(name, limit_s)
                mono = to_mono(block)
                yield resampler.resample_chunk(mono) if resampler else mono
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InvalidAudioError(name, f"corrupt or truncated {handle.format} data: {exc}") from exc
    if resampler is not None:
        yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)
    # Not handle.frames: for an mp3 without a Xing/LAME header that is a guess, too long for VBR.
    if declared_s is not None and read / source_rate < declared_s * (1.0 - TRUNCATION_TOLERANCE):
        raise InvalidAudioError(name, _truncated(read / source_rate, declared_s))


def to_mono(block: FloatArray) -> FloatArray:
    """The mean of a (frames, channels) float32 block's channels, as np.mean gives it to the bit.

    np.mean along the short channel axis reads the block with a stride and cost 0.6 s per 12 minutes of
    44.1 kHz stereo (more than decoding the mp3); adding whole channel columns costs a tenth of that.
    """
    mono = np.array(block[:, 0], dtype=np.float32)
    for channel in range(1, block.shape[1]):
        mono += block[:, channel]
    if block.shape[1] > 1:
        mono /= np.float32(block.shape[1])
    return mono


def _truncated(decoded_s: float, declared_s: float) -> str:
    return f"truncated: decoded {decoded_s:.2f} s of the {declared_s:.2f} s its header declares"


def _libsndfile_reason(exc: Exception) -> str:
    text = str(exc)
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def _read_ffmpeg(
    path: Path, name: str, demuxer: str | None, max_s: float | None, declared_s: float | None
) -> Iterator[FloatArray]:
    """Decode with ffmpeg, refusing what runs past ``max_s`` or falls short of its declared length."""
    decoder = ffmpeg.Decoder(path, name, demuxer, max_s)
    limit = max_s * SAMPLE_RATE if max_s is not None else float("inf")
    samples = 0
    with decoder:
        for block in decoder.blocks(BLOCK_SAMPLES):
            samples += block.size
            if max_s is not None and samples > limit:
                container_s = decoder.declared_duration()
                raise AudioTooLongError(
                    name, max_s, container_s if container_s and container_s > max_s else None
                )
            yield block
    # A container we do not parse ourselves: trust ffmpeg's reading of its header.
    declared = decoder.declared_duration() if demuxer is None else declared_s
    decoded = samples / SAMPLE_RATE
    if declared is not None and decoded < declared * (1.0 - TRUNCATION_TOLERANCE) - 0.05:
        raise InvalidAudioError(name, _truncated(decoded, declared))
