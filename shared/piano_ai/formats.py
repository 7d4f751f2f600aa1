"""What an audio file is, and how long its header says it lasts, from its bytes (never its name).

The API's upload check (which has no ffmpeg) and the decoder share these, so both judge a file alike.
"""

import io
import struct
from typing import BinaryIO

import soundfile as sf

from piano_ai import mp3

SNIFF_BYTES = 64 * 1024  # enough for any supported format's header
UNKNOWN_FRAMES = 1 << 62  # libsndfile reports SF_COUNT_MAX frames when a header leaves the length out
# The ffmpeg demuxer of each format we accept. Forcing it keeps ffmpeg from probing the content and
# picking a playlist demuxer (hls, concat) that would open other files.
DEMUXERS = {"wav": "wav", "flac": "flac", "ogg": "ogg", "mp3": "mp3", "m4a": "mov", "aac": "aac"}


def sniff_format(head: bytes) -> str | None:
    """The audio format a file's first bytes announce (one of SUPPORTED_FORMATS), or None."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "aac" if _is_adts(head[mp3.after_id3v2(io.BytesIO(head)) :]) else "mp3"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "m4a"
    return None


def _is_adts(frame: bytes) -> bool:
    """Whether ``frame`` starts with an ADTS header (raw AAC): the mp3 sync word with layer bits 00, which
    MPEG audio never uses. libsndfile's mp3 reader would take it for Layer II and decode noise."""
    return len(frame) >= 2 and frame[0] == 0xFF and frame[1] & 0xF6 == 0xF0


def ffmpeg_demuxer(head: bytes) -> str | None:
    """The ffmpeg demuxer for a file starting with ``head``, or None when it is none we know."""
    fmt = sniff_format(head)
    return DEMUXERS[fmt] if fmt else None


def declared_duration_s(stream: BinaryIO, fmt: str | None) -> float | None:
    """Seconds the file's header declares, without decoding; None when it does not say or cannot be read.

    libsndfile reads wav, flac and ogg headers; an mp3 declares its length only in a Xing/Info or VBRI
    header (piano_ai.mp3); m4a's is the movie header's (moov/mvhd); raw AAC (ADTS) declares none. A header
    may lie: callers that decode still bound the decoded length. The stream position is kept.
    """
    position = stream.tell()
    try:
        if fmt == "mp3":
            return mp3.declared_duration_s(stream)
        if fmt == "m4a":
            return _mp4_duration_s(stream)
        if fmt == "aac":  # ADTS frames carry no length (and libsndfile would misread them as mp3)
            return None
        stream.seek(0)
        info = sf.info(stream)
    except (sf.LibsndfileError, RuntimeError, struct.error, OSError):
        return None
    finally:
        stream.seek(position)
    return header_duration_s(info.frames, info.samplerate)


def header_duration_s(frames: int, samplerate: int) -> float | None:
    """Seconds of ``frames`` at ``samplerate`` as libsndfile reports them; None when the header leaves the
    length (or the rate) out."""
    if samplerate <= 0 or not 0 < frames < UNKNOWN_FRAMES:
        return None
    return float(frames) / float(samplerate)


def _mp4_duration_s(stream: BinaryIO) -> float | None:
    """moov/mvhd's duration over its timescale (ISO/IEC 14496-12 8.2.2), or None."""
    end = stream.seek(0, 2)
    moov = _find_box(stream, b"moov", 0, end)
    mvhd = _find_box(stream, b"mvhd", *moov) if moov else None
    if mvhd is None:
        return None
    stream.seek(mvhd[0])
    body = stream.read(32)
    if len(body) < 32:
        return None
    if body[0] == 1:  # version 1: 64-bit times and duration
        timescale, duration = struct.unpack(">IQ", body[20:32])
        unknown = (1 << 64) - 1
    else:
        timescale, duration = struct.unpack(">II", body[12:20])
        unknown = (1 << 32) - 1
    if timescale == 0 or duration in (0, unknown):
        return None
    return duration / timescale


def _find_box(stream: BinaryIO, kind: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(body start, box end) of the first ``kind`` box between ``start`` and ``end``, or None."""
    position = start
    while position + 8 <= end:
        stream.seek(position)
        header = stream.read(16)
        size, box = struct.unpack(">I4s", header[:8])
        body = position + 8
        if size == 1:  # a 64-bit size follows the type
            (size,) = struct.unpack(">Q", header[8:16])
            body += 8
        elif size == 0:  # the box runs to the end
            size = end - position
        if size < body - position:
            return None
        if box == kind:
            return body, min(position + size, end)
        position += size
    return None
