"""transcribe_blocks (the streaming path of convert and the worker) against transcribe on the whole file."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from piano_ai import audio, features, inference, note_stream
from piano_ai.audio import decode, decode_blocks
from piano_ai.constants import HOP_LENGTH, N_KEYS, SAMPLE_RATE
from piano_ai.model import HEADS, ModelConfig
from piano_ai.note_stream import NoteStream
from piano_ai.transcribe import PREFETCH_BLOCKS, transcribe, transcribe_blocks, transcribe_file

GOLDEN_CLIP = Path(__file__).resolve().parents[1] / "data" / "golden" / "clip.flac"
FORMATS = [
    "wav",
    "flac",
    "mp3",
    pytest.param("m4a", marks=pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg")),
]


@pytest.fixture(scope="module")
def model() -> inference.Transcriber:
    return inference.load_transcriber(runtime="onnx")


@pytest.fixture(scope="module")
def piano_32s(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The golden clip (8 s of real piano) four times over, at 44.1 kHz stereo, in each format."""
    clip = decode(GOLDEN_CLIP)
    long = np.tile(clip, 4)
    folder = tmp_path_factory.mktemp("formats")
    wav = folder / "take.wav"
    sf.write(wav, np.stack([long, long], axis=1), SAMPLE_RATE)
    files = {"wav": wav}
    for fmt in ("flac", "mp3", "m4a"):
        if shutil.which("ffmpeg"):
            files[fmt] = folder / f"take.{fmt}"
            command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-ar", "44100", str(files[fmt])]
            subprocess.run(command, check=True)
    return files


@pytest.mark.parametrize("fmt", FORMATS)
def test_streaming_gives_the_notes_of_the_whole_file_path(
    fmt: str, piano_32s: dict[str, Path], model: inference.Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fmt not in piano_32s:
        pytest.skip("ffmpeg is needed to encode it")
    # Small blocks everywhere, so 32 s crosses many decode, feature, batch and note-window boundaries.
    monkeypatch.setattr(audio, "BLOCK_SAMPLES", 5_000)
    monkeypatch.setattr(features, "BLOCK_FRAMES", 100)
    monkeypatch.setattr(inference, "BATCH_SIZE", 1)
    monkeypatch.setattr(note_stream, "MIN_NEW_FRAMES", 40)
    path = piano_32s[fmt]
    whole = transcribe(decode(path), model)
    assert len(whole) > 100
    assert transcribe_file(path, model) == whole


class FrameLocal:
    """The network stand-in: its output at a frame is that frame's log-mel (no context), cheap to run."""

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        value = 1.0 / (1.0 + np.exp(-batch[..., :N_KEYS]))
        return {head: value for head in HEADS}


def test_a_long_recording_flows_through_in_bounded_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 minutes in 8 s blocks: activations reach the note stage a bounded distance behind the decoder."""
    model = inference.Transcriber(FrameLocal(), ModelConfig(), "test", Path("."))
    block = audio.BLOCK_SAMPLES
    pulled = 0

    def blocks():  # noqa: ANN202
        nonlocal pulled
        rng = np.random.default_rng(0)
        for _ in range(20 * 60 * SAMPLE_RATE // block):
            pulled += 1
            yield rng.normal(0, 0.05, block).astype(np.float32)

    behind: list[float] = []
    held: list[int] = []
    pushed = 0
    push = NoteStream.push

    def watched_push(self: NoteStream, activations: dict[str, np.ndarray]) -> None:
        nonlocal pushed
        pushed += len(activations["onset"])
        behind.append(pulled * block / HOP_LENGTH - pushed)
        push(self, activations)
        held.append(self.window_frames)

    monkeypatch.setattr(NoteStream, "push", watched_push)
    result = transcribe_blocks(blocks(), model)
    assert result.audio_s == pytest.approx(20 * 60, abs=block / SAMPLE_RATE)
    lag_frames = (
        (PREFETCH_BLOCKS + 2) * block / HOP_LENGTH
        + features.BLOCK_FRAMES
        + inference.BATCH_SIZE * inference.CHUNK_FRAMES
    )
    assert len(behind) > 10 and max(behind) <= lag_frames
    assert max(held) < note_stream.MIN_NEW_FRAMES + lag_frames  # not the 37 500 frames of the recording


def test_the_decoder_never_yields_more_than_a_block(tmp_path: Path) -> None:
    """Ten minutes at 44.1 kHz stereo come in blocks of at most BLOCK_SAMPLES, via soundfile and ffmpeg."""
    path = tmp_path / "long.flac"
    t = np.arange(600 * 44_100) / 44_100
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sf.write(path, np.stack([tone, tone], axis=1), 44_100)
    del t, tone
    sizes = [len(b) for b in decode_blocks(path)]
    assert len(sizes) > 50 and max(sizes) <= audio.BLOCK_SAMPLES + 1024  # + the resampler's tail at the end
    assert sum(sizes) == pytest.approx(600 * SAMPLE_RATE, abs=2)
    if shutil.which("ffmpeg"):
        m4a = tmp_path / "long.m4a"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-t", "120", str(m4a)], check=True
        )
        sizes = [len(b) for b in decode_blocks(m4a)]
        assert len(sizes) > 10 and max(sizes) <= audio.BLOCK_SAMPLES
        assert sum(sizes) == pytest.approx(120 * SAMPLE_RATE, abs=0.05 * SAMPLE_RATE)


def test_the_ffmpeg_decoder_stops_when_the_consumer_does(tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("no ffmpeg")
    path = tmp_path / "take.m4a"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=f=220:r=44100:d=60", str(path)]
    subprocess.run(command, check=True)
    blocks = decode_blocks(path)
    next(blocks)
    blocks.close()  # an error downstream: the ffmpeg process is killed and reaped, nothing left running
    children = subprocess.run(["pgrep", "-P", str(os.getpid()), "ffmpeg"], capture_output=True, text=True)
    assert children.stdout.strip() == ""


def _pedal_model() -> inference.Transcriber:
    """A stand-in with a pedal head: the pedal is down wherever the audio is loud (mel energy)."""

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        loud = (batch.mean(axis=2, keepdims=True) > -8.0).astype(np.float32)  # (batch, frames, 1)
        zeros = np.zeros((*batch.shape[:2], N_KEYS), np.float32)
        return {"onset": zeros, "frame": zeros, "offset": zeros, "velocity": zeros, "pedal": loud}

    return inference.Transcriber(run, ModelConfig(pedal_head=True), "stand-in", Path("."))


def test_the_pedal_comes_through_the_streaming_path_as_through_the_whole_file(
    piano_32s: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from piano_ai.transcribe import transcript

    monkeypatch.setattr(audio, "BLOCK_SAMPLES", 5_000)
    model = _pedal_model()
    whole = transcript(decode(piano_32s["wav"]), model)
    streamed = transcribe_blocks(decode_blocks(piano_32s["wav"]), model)
    assert whole.sustain and streamed.sustain == whole.sustain
    assert whole.activations.pedal is not None and whole.activations.pedal.shape == (
        whole.activations.onset.shape[0],
    )
