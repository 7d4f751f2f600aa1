"""NoteStream: notes from activations in blocks are the whole recording's notes, in bounded memory."""

import numpy as np
import pytest
import scipy.ndimage

from piano_ai import note_stream, onsets
from piano_ai.constants import N_KEYS
from piano_ai.note_stream import NoteStream
from piano_ai.notes import notes_from_activations
from piano_ai.types import Activations, NoteParams

FRAMES = 12_000  # 6.4 min


def smoothed(rng: np.random.Generator, density: float, sigma: float) -> np.ndarray:
    spikes = (rng.random((FRAMES, N_KEYS)) < density).astype(np.float32)
    return np.clip(scipy.ndimage.gaussian_filter1d(spikes, sigma, axis=0) * 4, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def activations() -> Activations:
    """Dense, overlapping notes of every length: peaks for onsets and offsets, long plateaus for frames."""
    rng = np.random.default_rng(0)
    onset, offset = smoothed(rng, 0.005, 1.0), smoothed(rng, 0.005, 1.0)
    frame = smoothed(rng, 0.5, 20.0)
    return Activations(onset, frame, offset, rng.random((FRAMES, N_KEYS)).astype(np.float32))


@pytest.mark.parametrize("params", [NoteParams(), NoteParams(0.3, 0.2, 0.5, 0.0, ends="rule")])
@pytest.mark.parametrize(
    ("block", "search_every", "frames"),
    [(1, 1, 2000), (7, 50, FRAMES), (128, 300, FRAMES), (1000, 4096, FRAMES)],  # every frame: a shorter run
)
def test_streamed_notes_equal_the_whole_recordings(
    activations: Activations,
    params: NoteParams,
    block: int,
    search_every: int,
    frames: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    activations = Activations(
        *(getattr(activations, h)[:frames] for h in ("onset", "frame", "offset", "velocity"))
    )
    monkeypatch.setattr(note_stream, "MIN_NEW_FRAMES", search_every)
    stream = NoteStream(params)
    for first in range(0, frames, block):
        heads = {
            h: getattr(activations, h)[first : first + block]
            for h in ("onset", "frame", "offset", "velocity")
        }
        stream.push(heads | {"pedal": np.zeros((len(heads["onset"]), 1), np.float32)})  # other heads pass by
    whole = notes_from_activations(activations, params)
    assert len(whole) > frames / 12
    assert stream.finish() == whole


def test_streamed_notes_with_levels_equal_the_whole_recordings(
    activations: Activations, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The onset network that reads the levels (piano_ai.levels) sees the same frames streamed as whole."""
    level = smoothed(np.random.default_rng(1), 0.02, 2.0)
    leveled = Activations(
        activations.onset, activations.frame, activations.offset, activations.velocity, level=level
    )
    monkeypatch.setattr(note_stream, "MIN_NEW_FRAMES", 300)
    stream = NoteStream()
    for first in range(0, FRAMES, 128):
        stream.push(
            {
                h: getattr(leveled, h)[first : first + 128]
                for h in ("onset", "frame", "offset", "velocity", "level")
            }
        )
    whole = notes_from_activations(leveled, NoteParams())
    assert whole != notes_from_activations(activations, NoteParams())  # the levels were read
    assert stream.finish() == whole


def test_the_window_does_not_grow_with_the_recording(activations: Activations) -> None:
    stream = NoteStream()
    held = []
    for first in range(0, FRAMES, 500):
        stream.push(
            {
                h: getattr(activations, h)[first : first + 500]
                for h in ("onset", "frame", "offset", "velocity")
            }
        )
        held.append(stream.window_frames)
    stream.finish()
    # notes here last up to a few hundred frames: the window is the search step plus the longest open note
    assert max(held) < note_stream.MIN_NEW_FRAMES + 1500 < FRAMES


def test_nothing_pushed_gives_no_notes() -> None:
    assert NoteStream().finish() == []


def test_streamed_notes_equal_the_whole_recordings_where_peaks_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Peaks of every height with octave partials and repeated peaks, which notes.echoes drops: a window's
    first frames must hold the context each onset's fate depends on."""
    rng = np.random.default_rng(1)
    spikes = (rng.random((FRAMES, N_KEYS)) < 0.004) * rng.uniform(0.3, 1.0, (FRAMES, N_KEYS))
    onset = scipy.ndimage.gaussian_filter1d(spikes.astype(np.float32), 0.7, axis=0) * 1.7
    onset[:, 12:] = np.maximum(onset[:, 12:], 0.8 * onset[:, :-12])  # octave partials
    onset[2:] = np.maximum(onset[2:], 0.7 * onset[:-2] * (rng.random((FRAMES - 2, N_KEYS)) < 0.5))  # repeats
    onset = np.clip(onset, 0, 1).astype(np.float32)
    frame = smoothed(rng, 0.5, 20.0)
    act = Activations(
        onset, frame, smoothed(rng, 0.005, 1.0), rng.random((FRAMES, N_KEYS)).astype(np.float32)
    )
    params = NoteParams(0.3, 0.3, 0.8, 0.0)
    assert onsets.echoes(onset, onsets.onset_peaks(onset, params.onset_threshold)).sum() > 500
    monkeypatch.setattr(note_stream, "MIN_NEW_FRAMES", 50)
    stream = NoteStream(params)
    for first in range(0, FRAMES, 7):
        stream.push({h: getattr(act, h)[first : first + 7] for h in ("onset", "frame", "offset", "velocity")})
    assert stream.finish() == notes_from_activations(act, params)
