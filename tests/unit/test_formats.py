"""What a file is and how long its header says it lasts, from its bytes: shared by the API and decode()."""

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hostile_uploads import playlist_to, silent_flac

from piano_ai.constants import SAMPLE_RATE
from piano_ai.formats import declared_duration_s, ffmpeg_demuxer, sniff_format

SECONDS = 3.0


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    tone = (0.1 * np.sin(np.arange(int(SECONDS * SAMPLE_RATE)) * 0.1)).astype(np.float32)
    made = {}
    for fmt in ("wav", "flac", "ogg", "mp3"):
        made[fmt] = folder / f"tone.{fmt}"
        sf.write(made[fmt], tone, SAMPLE_RATE)
    if shutil.which("ffmpeg"):
        for fmt, muxer in (("m4a", "ipod"), ("aac", "adts")):  # adts: raw AAC, no container
            made[fmt] = folder / f"tone.{fmt}"
            subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-i", str(made["wav"]), "-c:a", "aac", "-f", muxer,
                 str(made[fmt])],
                check=True,
            )  # fmt: skip
    return made


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3", "m4a"])
def test_declared_duration_from_the_header(files: dict[str, Path], fmt: str) -> None:
    if fmt not in files:
        pytest.skip("ffmpeg is not installed")
    data = files[fmt].read_bytes()
    stream = io.BytesIO(data)
    stream.seek(5)
    assert sniff_format(data[:64]) == fmt
    # mp3 counts its encoder delay and m4a its priming samples: a few tens of ms over
    assert declared_duration_s(stream, fmt) == pytest.approx(SECONDS, abs=0.1)
    assert stream.tell() == 5  # the caller's position is kept


def test_raw_aac_is_its_own_format_and_declares_no_length(files: dict[str, Path]) -> None:
    """ADTS starts with the mp3 sync word; sniffed as mp3 it was stored as input.mp3 and decoded as noise."""
    if "aac" not in files:
        pytest.skip("ffmpeg is not installed")
    data = files["aac"].read_bytes()
    assert sniff_format(data[:64]) == "aac" and ffmpeg_demuxer(data[:64]) == "aac"
    tagged = b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"\x00" * 5 + data  # an ID3v2 tag (5 bytes) first
    assert sniff_format(tagged[:64]) == "aac"
    assert declared_duration_s(io.BytesIO(data), "aac") is None  # libsndfile would call it 1.6 s of mp3
    mp3 = files["mp3"].read_bytes()
    assert sniff_format(b"ID3\x04\x00\x00\x00\x00\x00\x00" + mp3[:64]) == "mp3"


def test_no_declared_duration(tmp_path: Path, files: dict[str, Path]) -> None:
    unknown = silent_flac(tmp_path / "stream.flac", seconds=5, declare_length=False).read_bytes()
    assert declared_duration_s(io.BytesIO(unknown), "flac") is None
    assert declared_duration_s(io.BytesIO(b"just text\n" * 10), None) is None
    if "m4a" in files:
        cut = files["m4a"].read_bytes()[:2000]  # the movie header (moov) is at the end: cut off
        assert declared_duration_s(io.BytesIO(cut), "m4a") is None
    assert declared_duration_s(io.BytesIO(b"\x00\x00\x00\x01ftyp"), "m4a") is None


@pytest.mark.parametrize(
    ("head", "demuxer"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"\xff\xfb\x90\x64", "mp3"),
        (b"\xff\xf1\x50\x80", "aac"),  # ADTS: the mp3 sync word, layer bits 00
        (b"\x00\x00\x00\x20ftypM4A ", "mov"),
        (playlist_to(Path("/x/input.mp3"), id3=True), "mp3"),  # so ffmpeg never reads it as a playlist
        (playlist_to(Path("/x/input.mp3"), id3=False), None),
        (b"ffconcat version 1.0\n", None),
    ],
)
def test_ffmpeg_demuxer(head: bytes, demuxer: str | None) -> None:
    assert ffmpeg_demuxer(head) == demuxer
