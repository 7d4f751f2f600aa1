"""Stored model outputs: what goes in comes back within a quantization step, every head included, and
decoding them needs no TensorFlow."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from piano_ai import activations
from piano_ai.constants import N_KEYS
from piano_ai.errors import InvalidActivationsError
from piano_ai.midi_io import notes_from_dicts
from piano_ai.notes import notes_from_activations
from piano_ai.types import Activations, NoteParams

STEP = 1.0 / activations.QUANT_LEVELS
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


def random_outputs(frames: int = 50, seed: int = 0) -> Activations:
    rng = np.random.default_rng(seed)
    return Activations(*(rng.random((frames, N_KEYS), dtype=np.float32) for _ in range(4)))


def test_round_trip_is_within_half_a_quantization_step() -> None:
    act = random_outputs()
    back = activations.loads(activations.dumps(act))
    for name, array in activations.heads_of(act).items():
        restored = getattr(back, name)
        assert restored.dtype == np.float32 and restored.shape == array.shape
        assert np.max(np.abs(restored - array)) <= STEP / 2 + 1e-6, name


@pytest.mark.parametrize(
    ("value", "stored"), [(0.0, 0), (1.0, 255), (-0.5, 0), (1.7, 255), (0.5, 128), (0.7, 178)]
)
def test_quantize_clips_and_rounds(value: float, stored: int) -> None:
    assert activations.quantize(np.array([[value]], np.float32))[0, 0] == stored


def test_every_head_is_kept_whatever_its_width() -> None:
    """A head the decoder does not know yet (a pedal, (frames, 1)) is stored and read back too."""
    act = random_outputs(frames=20)
    heads = {**activations.heads_of(act), "pedal": np.linspace(0, 1, 20, dtype=np.float32)[:, None]}
    stored = activations.loads_heads(activations.dumps(heads))
    assert sorted(stored) == ["frame", "offset", "onset", "pedal", "velocity"]
    assert stored["pedal"].shape == (20, 1)
    assert np.allclose(stored["pedal"][:, 0], np.linspace(0, 1, 20), atol=STEP / 2)
    decoded = activations.activations_from_heads(stored)  # the decoder takes what it knows
    assert decoded.onset.shape == (20, N_KEYS)


def test_a_models_own_pedal_of_one_dimension_is_stored_as_a_column() -> None:
    """predict() gives the pedal as (frames,); storing those outputs keeps it, read back as (frames, 1)."""
    from dataclasses import replace

    act = replace(random_outputs(frames=20), pedal=np.linspace(0, 1, 20, dtype=np.float32))
    stored = activations.loads_heads(activations.dumps(act))
    assert stored["pedal"].shape == (20, 1)
    assert np.allclose(stored["pedal"][:, 0], np.linspace(0, 1, 20), atol=STEP / 2)


def test_heads_of_different_lengths_are_refused() -> None:
    act = random_outputs(frames=10)
    heads = {**activations.heads_of(act), "frame": np.zeros((11, N_KEYS), np.float32)}
    with pytest.raises(ValueError, match="same frames"):
        activations.dumps(heads)


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip file at all", b"PK\x03\x04broken"],
)
def test_a_file_that_is_not_ours_is_invalid_activations(data: bytes) -> None:
    with pytest.raises(InvalidActivationsError):
        activations.loads(data)


def test_another_format_version_or_a_missing_head_is_refused() -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, format_version=np.int32(99), seconds_per_frame=np.float64(0.032))
    with pytest.raises(InvalidActivationsError, match="format 99"):
        activations.loads(buffer.getvalue())
    heads = activations.heads_of(random_outputs(frames=5))
    del heads["velocity"]
    with pytest.raises(InvalidActivationsError, match="lack a head"):
        activations.loads(activations.dumps(heads))


def test_save_and_load_a_file(tmp_path: Path) -> None:
    act = random_outputs(frames=7)
    path = activations.save(act, tmp_path / f"take{activations.SUFFIX}")
    assert np.allclose(activations.load(path).onset, act.onset, atol=STEP / 2)
    with pytest.raises(InvalidActivationsError, match="cannot read"):
        activations.load(tmp_path / "missing.activations.npz")


def test_as_stored_is_what_a_stored_file_gives_back() -> None:
    values = np.random.default_rng(5).uniform(-0.1, 1.1, (500, N_KEYS)).astype(np.float32)
    values[0, :4] = [0.5 / 255, 1.5 / 255, 254.5 / 255, 1.0]  # halfway between steps
    np.testing.assert_array_equal(
        activations.as_stored(values), activations.dequantize(activations.quantize(values))
    )


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["onnx", "onnx-int8"])
def test_stored_golden_outputs_decode_to_the_pinned_notes(runtime: str) -> None:
    """The shipped model's outputs for the golden clip, stored and read back, give its pinned notes
    exactly: re-decoding a stored job gives the job's own notes.

    Storing rounds every output (and the levels) to 1/255. The model's outputs come rounded so
    (piano_ai.activations.as_stored); before they did, a decision within half a step of its threshold could
    go the other way, and this clip's stored outputs gave three notes of 89 that the job's did not.
    """
    from piano_ai.audio import decode
    from piano_ai.features import log_mel
    from piano_ai.inference import load_transcriber

    model = load_transcriber(runtime=runtime)
    outputs = model.predict(log_mel(decode(GOLDEN / "clip.flac")))
    stored = activations.loads(activations.dumps(outputs))
    for head in ("onset", "frame", "offset", "velocity", "pedal", "level"):
        np.testing.assert_array_equal(np.ravel(getattr(stored, head)), np.ravel(getattr(outputs, head)), head)
    pin = "clip.notes.json" if runtime == "onnx" else "clip.int8.notes.json"
    pinned = notes_from_dicts(json.loads((GOLDEN / pin).read_text()))
    notes = notes_from_activations(stored, NoteParams())
    assert len(notes) == len(pinned) > 50
    for got, want in zip(notes, pinned, strict=True):  # the pin keeps times to 0.1 ms
        assert (got.pitch, got.velocity) == (want.pitch, want.velocity)
        assert got.start == pytest.approx(want.start, abs=1e-4)
        assert got.end == pytest.approx(want.end, abs=1e-4)


def test_decoding_stored_outputs_imports_no_tensorflow() -> None:
    """What the API's decode endpoint runs: loading and decoding pull in no model runtime."""
    code = (
        "import sys, numpy as np\n"
        "from piano_ai import activations\n"
        "from piano_ai.notes import notes_from_activations\n"
        "from piano_ai.midi_io import midi_bytes\n"
        "act = activations.loads(activations.dumps({h: np.zeros((9, 88), np.float32)\n"
        "    for h in ('onset', 'frame', 'offset', 'velocity')}))\n"
        "midi_bytes(notes_from_activations(act))\n"
        "banned = ('tensorflow', 'keras', 'onnxruntime', 'piano_ai.inference', 'piano_ai.model')\n"
        "print([m for m in banned if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
