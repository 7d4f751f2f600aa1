"""mp3 frame headers: a file cut inside its last frame is told from a whole one, tags or not."""

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from piano_ai.mp3 import declared_duration_s, ends_inside_a_frame, frame_length

HEADER = b"\xff\xfb\x90\x64"  # MPEG-1 Layer III, 128 kbps, 44.1 kHz, no padding: 417-byte frames
FRAME = HEADER + bytes(417 - 4)
ID3V2 = b"ID3\x04\x00\x00\x00\x00\x01\x00" + bytes(128)  # a tag of 128 bytes (size 0x0100 in 7-bit bytes)


@pytest.mark.parametrize(
    ("header", "length"),
    [
        (HEADER, 417),
        (b"\xff\xfb\x92\x64", 418),  # padded
        (b"\xff\xf3\x48\xc4", 144),  # MPEG-2 Layer III, 32 kbps, 16 kHz: 72 * 32000 / 16000
        (b"\xff\xfd\x90\x64", 522),  # MPEG-1 Layer II, index 9 = 160 kbps there, 44.1 kHz
        (b"\xff\xf1\x50\x80", None),  # ADTS (layer 00)
        (b"\xff\xfb\xf0\x64", None),  # bitrate index 15
        (b"\xff\xfb\x00\x64", None),  # free format
        (b"TAG\x00", None),
        (b"\xff\xfb", None),
    ],
)
def test_frame_length(header: bytes, length: int | None) -> None:
    assert frame_length(header) == length


@pytest.mark.parametrize(
    ("data", "cut"),
    [
        (FRAME * 10, False),
        (ID3V2 + FRAME * 10, False),
        (FRAME * 10 + b"TAG" + bytes(125), False),  # ID3v1 trailer
        (FRAME * 10 + b"APETAGEX" + bytes(24), False),
        ((FRAME * 10)[:-100], True),
        (ID3V2 + (FRAME * 10)[:-1], True),
        (FRAME * 10 + HEADER[:2], True),  # the file ends inside a frame header
        (FRAME[:200], True),  # a single frame, cut
        (b"\x00" * 300 + FRAME * 3, False),
        (ID3V2 + b"#EXTM3U\n", False),
    ],
)
def test_ends_inside_a_frame(tmp_path: Path, data: bytes, cut: bool) -> None:
    path = tmp_path / "take.mp3"
    path.write_bytes(data)
    assert ends_inside_a_frame(path) is cut


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_declared_duration_from_the_xing_header(rate: int) -> None:
    """libsndfile writes a Xing/Info header with LAME's encoder delay and padding: the length is exact."""
    stream = io.BytesIO()
    sf.write(stream, np.zeros(int(1.5 * rate), np.float32), rate, format="MP3")
    assert declared_duration_s(stream) == pytest.approx(1.5, abs=1e-6)


def test_no_declared_duration_without_a_xing_header() -> None:
    assert declared_duration_s(io.BytesIO(ID3V2 + FRAME * 10)) is None
    assert declared_duration_s(io.BytesIO(b"#EXTM3U\n")) is None


def _encoded(tmp_path: Path) -> Path:
    """A 3 s mp3 as libsndfile (LAME) writes it: a Xing tag counting the stream's frames and bytes."""
    path = tmp_path / "whole.mp3"
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, 3 * 44100).astype(np.float32), 44100, format="MP3")
    return path


def test_a_whole_file_whose_xing_tag_counts_its_bytes(tmp_path: Path) -> None:
    path = _encoded(tmp_path)
    data = path.read_bytes()
    assert data.find(b"Xing") != -1
    assert not ends_inside_a_frame(path)
    (tmp_path / "tagged.mp3").write_bytes(data + b"TAG" + bytes(125))
    assert not ends_inside_a_frame(tmp_path / "tagged.mp3")


@pytest.mark.parametrize("cut", [1, 100])
def test_a_cut_file_whose_xing_tag_counts_more_bytes_than_it_has(tmp_path: Path, cut: int) -> None:
    path = _encoded(tmp_path)
    path.write_bytes(path.read_bytes()[:-cut])
    assert ends_inside_a_frame(path)


def test_a_xing_byte_count_followed_by_more_frames_is_not_trusted(tmp_path: Path) -> None:
    """Frames past the count (a count too small): the walk decides, and finds the cut last frame."""
    path = _encoded(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data + FRAME + FRAME[:200])
    assert ends_inside_a_frame(path)
