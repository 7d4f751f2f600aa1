"""music21 corpus scores turned into humanised piano performances."""

import numpy as np
import pytest

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY
from piano_ai.data.scores import PIANO_COMPOSERS, humanize, music21_pieces, score_midi

CHORALE = "music21/bach/bwv1.6"


def test_catalog_holds_piano_playable_works_once_each():
    pieces = music21_pieces()
    assert len(pieces) > 300 and CHORALE in pieces
    assert all(p.split("/")[1] in PIANO_COMPOSERS and len(files) == 1 for p, files in pieces.items())


def test_score_performance_is_seeded_and_humanised():
    path = music21_pieces()[CHORALE][0]
    first, again, other = score_midi(path, 1), score_midi(path, 1), score_midi(path, 2)

    def rows(midi):
        return [(n.pitch, n.start, n.end, n.velocity) for n in midi.instruments[0].notes]

    assert rows(first) == rows(again) and rows(first) != rows(other)
    notes = first.instruments[0].notes
    assert len(notes) > 100 and all(LOWEST_KEY <= n.pitch <= HIGHEST_KEY for n in notes)
    assert len({n.velocity for n in notes}) > 20  # dynamics vary, not one flat velocity
    onsets = np.array([n.start for n in notes])
    assert np.mean(np.abs(onsets * 4 - np.round(onsets * 4)) > 0.005) > 0.5  # off the grid: timing jitter


def test_humanize_drops_out_of_range_notes_and_can_pedal():
    score = ((10, 0.0, 1.0),) + tuple((48 + (i % 3) * 12, i * 0.5, i * 0.5 + 0.4) for i in range(40))
    pedalled = [humanize(score, np.random.default_rng(s)) for s in range(10)]
    assert all(all(n.pitch != 10 for n in m.instruments[0].notes) for m in pedalled)
    with_pedal = [m for m in pedalled if m.instruments[0].control_changes]
    assert 0 < len(with_pedal) < 10
    ccs = with_pedal[0].instruments[0].control_changes
    assert {c.number for c in ccs} == {64} and ccs[-1].value == 0


@pytest.mark.parametrize("piece", ["music21/joplin/maple_leaf_rag", "music21/chopin/mazurka06-2"])
def test_piano_works_parse(piece):
    midi = score_midi(music21_pieces()[piece][0], 0)
    assert midi.get_end_time() > 30 and len(midi.instruments[0].notes) > 300
