"""The end network's training samples: every distinct candidate of a matched note, labelled as evaluate
would score the end it gives."""

import numpy as np
import pytest

from piano_ai.constants import LOWEST_KEY, N_KEYS, SECONDS_PER_FRAME
from piano_ai.ends import FEATURES
from piano_ai.mlp import Mlp
from piano_ai.onsets import FEATURES as ONSET_FEATURES
from piano_ai.training.end_net import matches, samples
from piano_ai.types import Activations, Note

FRAMES = 100
KEY = 39
F = SECONDS_PER_FRAME
EVERY_PEAK = Mlp(
    np.zeros(len(ONSET_FEATURES)),
    np.ones(len(ONSET_FEATURES)),
    (np.zeros((len(ONSET_FEATURES), 1)),),
    (np.full(1, 9.0),),
)


def outputs(pedal: np.ndarray | None = None) -> Activations:
    """Two notes struck at frame 5: KEY, whose frame head falls below 0.6 after frame 20, below 0.3 after 30
    and below 0.1 after 40 (offset peaks at 20 and 35), and KEY + 5, which no reference plays."""
    heads = {h: np.zeros((FRAMES, N_KEYS), np.float32) for h in ("onset", "frame", "offset", "velocity")}
    for key in (KEY, KEY + 5):
        heads["onset"][5, key] = 0.9
        heads["frame"][5:21, key] = 0.9
        heads["frame"][21:31, key] = 0.45
        heads["frame"][31:41, key] = 0.15
        heads["offset"][[20, 35], key] = (0.3, 0.06)
    return Activations(**heads, pedal=pedal)


def labelled(act: Activations, reference: list[Note]) -> dict[int, int]:
    """{candidate end frame: label} of the samples."""
    x, y = samples(act, reference, EVERY_PEAK)
    assert x.shape == (len(y), len(FEATURES))
    length = x[:, FEATURES.index("frames")].astype(int)
    assert len(set(length)) == len(length)  # each distinct end once
    return dict(zip((5 + length).tolist(), y.tolist(), strict=True))


def test_the_end_within_tolerance_of_the_release_is_the_one_labelled() -> None:
    reference = [Note(LOWEST_KEY + KEY, 5 * F, 29 * F, 80)]  # tolerance: a fifth of 24 frames, 4.8 frames
    assert labelled(outputs(), reference) == {20: 0, 30: 1, 35: 0, 40: 0, FRAMES - 1: 0}


def test_ends_are_lengthened_by_the_model_s_own_pedal_before_they_are_compared() -> None:
    pedal = np.zeros(FRAMES, np.float32)
    pedal[25:60] = 0.95  # down from 0.8 s to 1.92 s: ends at 30, 35 and 40 sound on to 1.92 s
    reference = [Note(LOWEST_KEY + KEY, 5 * F, 60 * F, 80)]  # the truth, lengthened by its own pedal
    assert labelled(outputs(pedal), reference) == {20: 0, 30: 1, 35: 1, 40: 1, FRAMES - 1: 0}


@pytest.mark.parametrize(
    ("starts", "expected"),
    [((1.00, 2.00), [0, 1]), ((1.04, 1.03), [-1, 0]), ((1.20,), [-1])],
)
def test_found_notes_claim_the_nearest_free_reference_onset(starts: tuple, expected: list[int]) -> None:
    reference = [Note(60, 1.0, 1.5, 80), Note(60, 2.0, 2.5, 80), Note(62, 1.0, 1.5, 80)]
    keys = np.full(len(starts), 60 - LOWEST_KEY)
    assert matches(np.array(starts), keys, reference).tolist() == expected
