"""decode(): every supported format to mono float32 at SAMPLE_RATE, and clear errors for bad input."""

import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hostile_uploads import cut, mp3_without_xing, playlist_to, silent_flac

from piano_ai.audio import decode, decode_blocks, decode_bytes, duration_s, to_mono
from piano_ai.constants import SAMPLE_RATE
from piano_ai.errors import AudioFileNotFoundError, AudioTooLongError, InvalidAudioError

SOURCE_RATE = 44_100  # Hz: not SAMPLE_RATE, so every path resamples
SECONDS = 2.0
TONE_HZ = 440.0
CLICK_S = 1.0  # a click here checks that decoding does not shift time

AAC_PRIMING_SAMPLES = 1024  # ffmpeg's AAC encoder delay, at the source rate
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def signal() -> np.ndarray:
    """(samples, 2) float32 stereo: a quiet tone in both channels plus a click in the left one."""
    t = np.arange(int(SECONDS * SOURCE_RATE)) / SOURCE_RATE
    tone = 0.2 * np.sin(2 * np.pi * TONE_HZ * t)
    left, right = tone.copy(), tone.copy()
    click = int(CLICK_S * SOURCE_RATE)
    left[click : click + 100] = 0.9
    return np.stack([left, right], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("audio")
    files = {}
    for fmt in ("wav", "flac", "ogg", "mp3"):
        files[fmt] = folder / f"tone.{fmt}"
        sf.write(files[fmt], signal(), SOURCE_RATE)
    if shutil.which("ffmpeg"):
        # adts: raw AAC, no container; mono at 96 kb/s, which libsndfile's mp3 reader misread (not all do)
        for fmt, options in (("m4a", ["-f", "ipod"]), ("aac", ["-f", "adts", "-ac", "1", "-b:a", "96k"])):
            files[fmt] = folder / f"tone.{fmt}"
            subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-i", str(files["wav"]), "-c:a", "aac", *options,
                 str(files[fmt])],
                check=True,
            )  # fmt: skip
    return files


@pytest.mark.parametrize(
    ("fmt", "length_tolerance_s"),
    [("wav", 0.0), ("flac", 0.0), ("ogg", 0.0), ("mp3", 0.0), pytest.param("m4a", 0.05, marks=needs_ffmpeg)],
)
def test_each_format_decodes_to_mono_16k(
    audio_files: dict[str, Path], fmt: str, length_tolerance_s: float
) -> None:
    audio = decode(audio_files[fmt])
    assert audio.dtype == np.float32 and audio.ndim == 1
    # AAC pads its last frame, so m4a may run a little long; the others decode exactly.
    assert abs(audio.size - SECONDS * SAMPLE_RATE) <= length_tolerance_s * SAMPLE_RATE + 1
    click_at = np.argmax(np.abs(audio)) / SAMPLE_RATE
    assert click_at == pytest.approx(CLICK_S, abs=0.006)
    # Channels are averaged, not summed: the tone (in both) keeps its level through lossless formats.
    if fmt in ("wav", "flac"):
        rms = float(np.sqrt(np.mean(audio[: SAMPLE_RATE // 2] ** 2)))
        assert rms == pytest.approx(0.2 / np.sqrt(2), rel=0.02)


def test_resampling_keeps_the_pitch(audio_files: dict[str, Path]) -> None:
    audio = decode(audio_files["flac"])[: SAMPLE_RATE // 2]  # before the click
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / audio.size
    assert peak_hz == pytest.approx(TONE_HZ, abs=3)


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_to_mono_is_numpys_mean_to_the_bit(channels: int) -> None:
    block = np.random.default_rng(channels).standard_normal((4001, channels)).astype(np.float32)
    mono = to_mono(block)
    assert mono.dtype == np.float32 and mono.shape == (4001,)
    assert np.array_equal(mono, block.mean(axis=1, dtype=np.float32))


def test_native_rate_mono_is_returned_unchanged(tmp_path: Path) -> None:
    samples = (np.random.default_rng(0).uniform(-0.5, 0.5, SAMPLE_RATE)).astype(np.float32)
    path = tmp_path / "native.wav"
    sf.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_array_equal(decode(path), samples)


def test_decode_bytes_and_duration(audio_files: dict[str, Path]) -> None:
    data = audio_files["mp3"].read_bytes()
    assert decode_bytes(data, "upload.mp3").size == int(SECONDS * SAMPLE_RATE)
    assert duration_s(audio_files["ogg"]) == pytest.approx(SECONDS, abs=1e-3)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileNotFoundError, match="nothing.wav: no such file"):
        decode(tmp_path / "nothing.wav")


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidAudioError, match="folder"):
        decode(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(InvalidAudioError, match=r"empty\.wav.*0 bytes") as info:
        decode(path)
    assert info.value.code == "invalid_audio"
    assert "supported: wav, flac, mp3, ogg, m4a, aac" in str(info.value)


def test_text_renamed_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are not the samples you are looking for\n" * 20)
    with pytest.raises(InvalidAudioError, match=r"notes\.wav: file is not decodable audio"):
        decode(path)


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.01])
def test_truncated_mp3(audio_files: dict[str, Path], tmp_path: Path, keep: float) -> None:
    data = audio_files["mp3"].read_bytes()
    path = tmp_path / "cut.mp3"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InvalidAudioError, match=r"cut\.mp3") as info:
        decode(path)
    if keep == 0.5:  # libsndfile opens it and the LAME header gives the full length
        assert "truncated" in info.value.reason


@needs_ffmpeg
def test_truncated_m4a(audio_files: dict[str, Path], tmp_path: Path) -> None:
    data = audio_files["m4a"].read_bytes()
    path = tmp_path / "cut.m4a"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidAudioError, match=r"cut\.m4a"):
        decode(path)


@needs_ffmpeg
def test_raw_aac_named_mp3_decodes_as_aac(audio_files: dict[str, Path], tmp_path: Path) -> None:
    """The content decides: libsndfile's mp3 reader took ADTS for MPEG Layer II and gave 0.05 s of noise."""
    renamed = tmp_path / "input.mp3"  # how the API stored a raw AAC upload when it sniffed it as mp3
    renamed.write_bytes(audio_files["aac"].read_bytes())
    for path in (audio_files["aac"], renamed):
        audio = decode(path)
        # Unlike m4a, ADTS cannot say to drop the encoder's priming samples (1024): they come first.
        priming_s = AAC_PRIMING_SAMPLES / SOURCE_RATE
        assert abs(audio.size / SAMPLE_RATE - SECONDS - priming_s) <= 0.05
        assert np.argmax(np.abs(audio)) / SAMPLE_RATE == pytest.approx(CLICK_S + priming_s, abs=0.006)


def test_header_only_wav_has_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((0, 1), np.float32), SAMPLE_RATE)
    with pytest.raises(InvalidAudioError, match="no audio samples"):
        decode(path)


def test_error_names_the_file_as_the_caller_calls_it(tmp_path: Path) -> None:
    path = tmp_path / "tmp123"
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(InvalidAudioError, match=r"^my song\.m4a: "):
        decode(path, name="my song.m4a")


# ---- hostile input (issue 13) ----


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("input.mp3", lambda target: playlist_to(target, id3=True)),  # passes the upload sniff as mp3
        ("input.m4a", lambda target: playlist_to(target, id3=False)),
        ("input.m4a", lambda target: f"ffconcat version 1.0\nfile '{target}'\n".encode()),
    ],
)
def test_a_playlist_is_never_followed_to_another_file(
    audio_files: dict[str, Path], tmp_path: Path, name: str, make: Callable[[Path], bytes]
) -> None:
    path = tmp_path / name
    path.write_bytes(make(audio_files["mp3"]))
    with pytest.raises(InvalidAudioError, match=name):
        decode(path)


def test_a_recording_over_the_length_limit_is_refused_from_its_header(tmp_path: Path) -> None:
    path = silent_flac(tmp_path / "bomb.flac", seconds=120)
    assert path.stat().st_size < 20_000
    with pytest.raises(AudioTooLongError, match=r"bomb\.flac.*120 s.*60 s") as info:
        decode(path, max_s=60)
    assert info.value.code == "audio_too_long"
    assert decode(path, max_s=180).size == 120 * SAMPLE_RATE


def test_a_recording_without_a_declared_length_is_cut_off_at_the_limit(tmp_path: Path) -> None:
    path = silent_flac(tmp_path / "stream.flac", seconds=120, declare_length=False)
    with pytest.raises(AudioTooLongError, match=r"stream\.flac.*longer than.*60 s"):
        decode(path, max_s=60)
    assert decode(path).size == 120 * SAMPLE_RATE  # an unknown length is not a truncation


@needs_ffmpeg
def test_an_m4a_over_the_length_limit_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "long.m4a"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "90",
         "-c:a", "aac", "-b:a", "16k", str(path)],
        check=True,
    )  # fmt: skip
    with pytest.raises(AudioTooLongError, match=r"long\.m4a.*90 s"):
        decode(path, max_s=60)


@pytest.fixture(scope="module")
def mp3_30s_without_xing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    return mp3_without_xing(tmp_path_factory.mktemp("noxing") / "take.mp3", seconds=30)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_mp3_without_a_xing_header_is_reported(
    mp3_30s_without_xing: Path, tmp_path: Path, keep: float
) -> None:
    with pytest.raises(InvalidAudioError, match=r"cut\.mp3") as info:
        decode(cut(mp3_30s_without_xing, tmp_path / "cut.mp3", keep))
    assert "truncated" in info.value.reason


def test_a_whole_mp3_without_a_xing_header_decodes(mp3_30s_without_xing: Path, tmp_path: Path) -> None:
    assert decode(mp3_30s_without_xing).size == pytest.approx(30 * SAMPLE_RATE, abs=0.1 * SAMPLE_RATE)
    tagged = tmp_path / "tagged.mp3"  # an ID3v1 tag after the last frame is not a cut frame
    tagged.write_bytes(mp3_30s_without_xing.read_bytes() + b"TAG" + bytes(125))
    assert decode(tagged).size == pytest.approx(30 * SAMPLE_RATE, abs=0.1 * SAMPLE_RATE)


@needs_ffmpeg
def test_a_vbr_mp3_without_a_xing_header_is_not_called_truncated(tmp_path: Path) -> None:
    """Its length from the size and the first frame's bitrate (libsndfile's guess) is far too long."""
    path = tmp_path / "vbr.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=2",
         "-f", "lavfi", "-i", "anoisesrc=d=8:r=44100:a=0.5",
         "-filter_complex", "[0:a][1:a]concat=n=2:v=0:a=1",
         "-c:a", "libmp3lame", "-q:a", "0", "-write_xing", "0", str(path)],
        check=True,
    )  # fmt: skip
    assert sf.info(path).duration > 20  # the guess
    assert decode(path).size == pytest.approx(10 * SAMPLE_RATE, abs=0.1 * SAMPLE_RATE)


def test_a_decode_stopped_early_ends_its_reading_thread(tmp_path: Path) -> None:
    """Where it resamples, libsndfile reads ahead in a thread of its own: closing the blocks early ends it,
    and the blocks equal a whole decode's."""
    path = tmp_path / "long.flac"
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (40 * SOURCE_RATE, 2)).astype(np.float32)
    sf.write(path, noise, SOURCE_RATE)
    before = threading.active_count()
    blocks = decode_blocks(path)
    first = next(blocks)
    blocks.close()
    assert threading.active_count() == before
    whole = decode(path)
    np.testing.assert_array_equal(first, whole[: first.size])
    assert np.concatenate(list(decode_blocks(path))).size == whole.size
