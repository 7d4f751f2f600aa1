"""Generated textures: keyboard range, velocities, determinism."""

import numpy as np
import pytest

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY
from piano_ai.data.synthetic import TEXTURES, synthetic_midi


@pytest.mark.parametrize("texture", sorted(TEXTURES))
def test_texture_stays_on_the_keyboard_and_in_the_clip(texture):
    midi = synthetic_midi(texture, np.random.default_rng(7), 20.0)
    notes = midi.instruments[0].notes
    assert len(notes) >= 10
    assert all(LOWEST_KEY <= n.pitch <= HIGHEST_KEY for n in notes)
    assert all(1 <= n.velocity <= 127 and n.end > n.start and 0 <= n.start < 20.0 for n in notes)


@pytest.mark.parametrize("texture", sorted(TEXTURES))
def test_texture_is_reproducible(texture):
    def notes(seed):
        midi = synthetic_midi(texture, np.random.default_rng(seed), 15.0)
        return [(n.pitch, n.start, n.end, n.velocity) for n in midi.instruments[0].notes]

    assert notes(3) == notes(3)
    assert notes(3) != notes(4)


def test_velocity_sweep_plays_every_velocity():
    midi = synthetic_midi("velocity_sweep", np.random.default_rng(0), 30.0)
    assert {n.velocity for n in midi.instruments[0].notes} == set(range(1, 128))


def test_textures_together_cover_the_whole_keyboard():
    pitches = set()
    for seed in range(12):
        for texture in TEXTURES:
            pitches |= {
                n.pitch
                for n in synthetic_midi(texture, np.random.default_rng(seed), 20.0).instruments[0].notes
            }
    assert pitches == set(range(LOWEST_KEY, HIGHEST_KEY + 1))
