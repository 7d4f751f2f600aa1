"""tune_notes: the score of a setting comes from the real post-processing and mir_eval matching."""

from pathlib import Path

import numpy as np
from pedal_nets import head_reader
from script_loader import load_script

from piano_ai.data.targets import notes_to_targets
from piano_ai.types import Activations, Note, NoteParams

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench" / "tune_notes.py"


tune = load_script(SCRIPT)
REF = [Note(60, 0.5, 1.5, 80), Note(64, 0.5, 0.9, 40), Note(67, 1.0, 2.0, 100)]


def _activations(notes: list[Note], onset_level: float) -> Activations:
    t = {k: v.astype(np.float32) for k, v in notes_to_targets(notes, 80).items()}
    return Activations(t["onset"] * onset_level, t["frame"], t["offset"], t["velocity"] / 127.0)


def test_perfect_activations_score_one_and_onsets_under_the_candidate_floor_none() -> None:
    items = [(_activations(REF, 0.65), REF)]
    scores = tune.f1_scores(items, NoteParams(onset_threshold=0.6))
    assert (scores["onset"], scores["offset"], scores["velocity"]) == (1.0, 1.0, 1.0)
    assert scores["frame"] > 0.98  # frames are quantised to 32 ms, the roll to 10 ms
    assert tune.f1_scores([(_activations(REF, 0.15), REF)], NoteParams())["onset"] == 0.0


def test_scores_are_note_weighted_across_files() -> None:
    other = [Note(72, 0.2, 0.6, 64)]
    items = [(_activations(REF, 0.9), REF), (_activations([], 0.9), other)]  # second file: nothing found
    scores = tune.f1_scores(items, NoteParams())
    assert scores["onset"] == round(2 * 1.0 * 0.75 / 1.75, 4)  # precision 3/3, recall 3/4


def test_a_pedal_model_is_scored_with_its_notes_extended_by_its_own_pedal() -> None:
    keys = [Note(60, 0.5, 0.8, 80)]  # released at 0.8 s under a pedal held 0.6-1.6 s: it sounds to 1.6 s
    sounding = [Note(60, 0.5, 1.6, 80)]
    act = _activations(keys, 0.9)
    pedal = np.zeros(act.onset.shape[0], np.float32)
    pedal[19:50] = 0.45  # frames of 32 ms: 0.61-1.6 s; the network gives sigmoid(-1) = 0.27 there
    act = Activations(act.onset, act.frame, act.offset, act.velocity, pedal)
    net = head_reader()
    assert tune.f1_scores([(act, sounding)], NoteParams(), (0.2, 100.0), net)["offset"] == 1.0
    assert tune.f1_scores([(act, sounding)], NoteParams(), (0.3, 100.0), net)["offset"] == 0.0  # no press
