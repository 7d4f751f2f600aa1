"""Hostile uploads from issue 13, cheap to make: a playlist dressed as an mp3, a duration bomb, a cut mp3,
and a multipart body whose file name holds any bytes.
"""

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from piano_ai.constants import SAMPLE_RATE

ID3_HEADER = b"ID3\x03\x00\x00\x00\x00\x00\x00"  # an empty ID3v2 tag: enough for "this is an mp3"


def playlist_to(target: Path, id3: bool = True) -> bytes:
    """An HLS playlist whose one segment is ``target`` (another job's upload); behind an ID3 tag if ``id3``,
    so it sniffs as an mp3."""
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile://{target}\n#EXT-X-ENDLIST\n"
    return (ID3_HEADER if id3 else b"") + playlist.encode()


def silent_flac(path: Path, seconds: float, declare_length: bool = True) -> Path:
    """Digital silence at SAMPLE_RATE: a few KB for minutes of audio.

    Without ``declare_length`` STREAMINFO's total-samples field says "unknown", as a streaming encoder
    (or an attacker) may leave it: then only decoding tells the length.
    """
    sf.write(path, np.zeros(int(seconds * SAMPLE_RATE), np.int16), SAMPLE_RATE, format="FLAC")
    if not declare_length:
        data = bytearray(path.read_bytes())
        streaminfo = 8  # after "fLaC" and the metadata block header
        data[streaminfo + 13] &= 0xF0  # the 36-bit total: the low nibble of byte 13 and bytes 14..17
        data[streaminfo + 14 : streaminfo + 18] = bytes(4)
        path.write_bytes(bytes(data))
    return path


def mp3_without_xing(path: Path, seconds: float) -> Path:
    """A tone as a CBR mp3 with no Xing/LAME header, so nothing in the file declares its length."""
    tone = f"sine=frequency=440:duration={seconds}"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", tone,
         "-ar", "44100", "-write_xing", "0", str(path)],
        check=True,
    )  # fmt: skip
    return path


def cut(path: Path, out: Path, keep: float) -> Path:
    """The first ``keep`` of ``path`` (plus 101 bytes, so the cut is not on an mp3 frame boundary)."""
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * keep) + 101])
    return out


def raw_multipart(
    filename: bytes, data: bytes, boundary: str = "hostile-boundary"
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a POST /v1/jobs with ``filename`` sent byte for byte (httpx would escape
    control characters; an attacker's client does not)."""
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        + b"Content-Type: application/octet-stream\r\n\r\n"
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )  # fmt: skip
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
