"""Plain data passed between pipeline stages."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

# progress(stage, fraction): stage is one of STAGES, fraction in 0..1 within that stage.
ProgressCallback = Callable[[str, float], None]
STAGES = ("decoding", "features", "inference", "postprocessing")
PEDAL_MODES = ("cc64", "extend")  # NoteParams.pedal
END_MODES = ("network", "rule")  # NoteParams.ends


@dataclass(frozen=True)
class Note:
    """One transcribed note."""

    pitch: int  # MIDI pitch, 21..108
    start: float  # seconds from the start of the audio
    end: float  # seconds, > start
    velocity: int  # MIDI velocity, 1..127


@dataclass(frozen=True)
class Activations:
    """Model outputs for one recording; every array is (frames, 88) float32 in 0..1.

    Column k is MIDI pitch LOWEST_KEY + k; row t covers t * SECONDS_PER_FRAME seconds.
    ``velocity`` is the predicted MIDI velocity / 127 (meaningful where an onset is). ``pedal`` is (frames,):
    the probability that the sustain pedal is down, from models with a pedal head (None otherwise).
    ``level`` is not a head: piano_ai.levels reads it off the model's input.
    """

    onset: FloatArray
    frame: FloatArray
    offset: FloatArray
    velocity: FloatArray
    pedal: FloatArray | None = None
    # (frames, 88) in 0..1: the log-mel at each key's fundamental (piano_ai.levels), which the onset network
    # reads beside the heads; None in outputs stored before it was kept (the onset network without it judges)
    level: FloatArray | None = None


@dataclass(frozen=True)
class NoteParams:
    """Post-processing knobs a user may set (CLI options, API parameters)."""

    # Tuned for the shipped model on its validation split (docs/benchmarks.md): the weighted onset loss
    # makes its onset probabilities run high, so the best onset threshold is above 0.5.
    onset_threshold: float = 0.6  # how sure piano_ai.onsets must be that a peak starts a note
    frame_threshold: float = 0.3  # frame probability that keeps a note sounding
    offset_threshold: float = 0.8  # offset probability that ends a note early
    min_note_ms: float = 30.0  # notes shorter than this are dropped (milliseconds)
    # "cc64": the sustain pedal is written as CC64 events beside the notes (models with a pedal head);
    # "extend": notes are lengthened by the pedal instead and no CC64 is written (for tools that ignore it)
    pedal: str = "cc64"
    # "network": piano_ai.ends' network chooses where each note ends (frame and offset thresholds unused);
    # "rule": a note ends where the frame head drops below frame_threshold or the offset head reaches
    # offset_threshold
    ends: str = "network"

    def validate(self) -> "NoteParams":
        """Raise InvalidParametersError when a knob is out of range; return self."""
        from piano_ai.errors import InvalidParametersError

        for name in ("onset_threshold", "frame_threshold", "offset_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise InvalidParametersError(f"{name} must be between 0 and 1 (exclusive), got {value}")
        if not 0.0 <= self.min_note_ms <= 5000.0:
            raise InvalidParametersError(f"min_note_ms must be between 0 and 5000, got {self.min_note_ms}")
        if self.pedal not in PEDAL_MODES:
            raise InvalidParametersError(f"pedal must be one of {', '.join(PEDAL_MODES)}, got {self.pedal!r}")
        if self.ends not in END_MODES:
            raise InvalidParametersError(f"ends must be one of {', '.join(END_MODES)}, got {self.ends!r}")
        return self
