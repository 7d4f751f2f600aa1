"""The velocity network's training samples: decoded notes that match a reference note, with its velocity."""

import numpy as np
import pytest

from piano_ai.constants import LOWEST_KEY, N_KEYS, SECONDS_PER_FRAME
from piano_ai.note_nets import NoteNets, shipped_nets
from piano_ai.training.velocity_net import samples
from piano_ai.types import Activations, Note
from piano_ai.velocities import FEATURES

KEY = 39


def two_notes() -> Activations:
    onset = np.zeros((60, N_KEYS), np.float32)
    onset[10, KEY] = onset[30, KEY + 7] = 0.95
    frame = np.zeros_like(onset)
    frame[10:25, KEY] = frame[30:50, KEY + 7] = 0.9
    level = np.full_like(onset, 0.2)
    return Activations(onset, frame, np.zeros_like(onset), np.full_like(onset, 0.5), level=level)


def test_matched_notes_carry_the_reference_velocity() -> None:
    nets = NoteNets(*(getattr(shipped_nets(), f) for f in ("onsets", "ends", "sustain", "onsets_level")))
    start = 10 * SECONDS_PER_FRAME
    reference = [Note(LOWEST_KEY + KEY, start + 0.01, start + 0.5, 100)]  # the second note is not played
    x, y = samples(two_notes(), reference, nets)
    assert x.shape == (1, len(FEATURES))
    assert y.tolist() == pytest.approx([100 / 127])
    assert x[0, FEATURES.index("velocity[t]")] == pytest.approx(0.5)
    x, y = samples(two_notes(), [], nets)
    assert x.shape == (0, len(FEATURES)) and y.size == 0


def test_outputs_without_levels_are_refused() -> None:
    act = two_notes()
    with pytest.raises(ValueError, match="levels"):
        samples(Activations(act.onset, act.frame, act.offset, act.velocity), [], shipped_nets())
