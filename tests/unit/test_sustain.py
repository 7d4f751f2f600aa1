"""The sustain network's inputs (per-frame sums, the features around each frame) and its place in decoding."""

from dataclasses import replace

import numpy as np
import pytest
from pedal_nets import head_reader

from piano_ai.constants import LOWEST_KEY, N_KEYS, SECONDS_PER_FRAME
from piano_ai.note_nets import nets_for, shipped_nets
from piano_ai.pedal import sustain_intervals
from piano_ai.sustain import (
    FEATURES,
    NET_FILE,
    ROWS,
    SUMS,
    THRESHOLD,
    features,
    frame_sums,
    probability,
    sums_of,
)
from piano_ai.transcribe import decode_activations
from piano_ai.types import Activations, NoteParams

F = SECONDS_PER_FRAME


def outputs(frames: int, pedal: np.ndarray | None, seed: int = 0) -> Activations:
    """One note on middle C from frame 2 to 9; elsewhere the heads stay near 0, as in silence."""
    rng = np.random.default_rng(seed)
    onset, frame, offset = (rng.uniform(0, 0.001, (frames, N_KEYS)).astype(np.float32) for _ in range(3))
    onset[2, 60 - LOWEST_KEY] = 0.95
    frame[2:10, 60 - LOWEST_KEY] = 0.9
    return Activations(onset, frame, offset, np.full((frames, N_KEYS), 0.5, np.float32), pedal)


def test_sums_of_blocks_stacked_are_the_sums_of_the_whole() -> None:
    act = outputs(300, np.random.default_rng(1).uniform(0, 1, 300).astype(np.float32))
    whole = sums_of(act)
    assert whole is not None and whole.shape == (300, len(SUMS))
    cuts = (0, 7, 128, 129, 300)
    blocks = [
        frame_sums(act.onset[a:b], act.frame[a:b], act.offset[a:b], act.pedal[a:b, None])  # type: ignore[index]
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    assert np.array_equal(np.concatenate(blocks), whole)
    assert whole[5, SUMS.index("keys sounding")] == 1  # middle C; the noise stays under 0.5


def test_features_read_the_neighbouring_frames_and_zero_outside() -> None:
    sums = np.zeros((200, len(SUMS)), np.float32)
    sums[:, SUMS.index("pedal")] = np.arange(200) / 200
    sums[:, SUMS.index("offset summed over keys")] = 1.0
    x = features(sums)
    assert x.shape == (200, len(FEATURES)) and x.dtype == np.float32
    column = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert column["pedal[t+4]"][10] == pytest.approx(14 / 200)
    assert column["pedal[t-8]"][3] == 0.0 and column["pedal[t+8]"][195] == 0.0  # outside the recording
    assert column["pedal mean t-32..t-1"][100] == pytest.approx(np.mean(np.arange(68, 100)) / 200)
    assert column["offset sum mean t-8..t+7"][100] == pytest.approx(1.0)
    assert column["offset sum mean t-8..t+7"][0] == pytest.approx(0.5)  # half the window lies before frame 0


def test_the_network_s_presses_are_written_as_cc64_or_lengthen_the_notes() -> None:
    pedal = np.zeros(40, np.float32)
    pedal[5:30] = 0.9
    nets = replace(shipped_nets(), sustain=head_reader())
    cc64 = decode_activations(outputs(40, pedal), NoteParams(), nets)
    assert cc64.sustain == [(round(5 * F, 4), round(30 * F, 4))]
    assert len(cc64.notes) == 1 and cc64.notes[0].end < 30 * F
    extended = decode_activations(outputs(40, pedal), replace(NoteParams(), pedal="extend"), nets)
    assert extended.sustain == [] and extended.notes[0].end == pytest.approx(30 * F)
    without_head = decode_activations(outputs(40, None), NoteParams(), nets)
    assert without_head.sustain == [] and without_head.notes == cc64.notes


def test_decoding_cuts_the_network_s_probability_at_its_threshold() -> None:
    pedal = np.zeros(600, np.float32)
    pedal[100:400] = 0.97
    act = outputs(600, pedal)
    sums = sums_of(act)
    assert sums is not None
    expected = sustain_intervals(probability(sums), THRESHOLD)
    assert decode_activations(act).sustain == expected
    assert decode_activations(act, nets=replace(shipped_nets(), sustain=head_reader())).sustain == [
        (round(100 * F, 4), round(400 * F, 4))
    ]


def test_the_shipped_network_hears_a_long_clear_press() -> None:
    pedal = np.full(600, 0.02, np.float32)
    pedal[100:400] = 0.97
    p = probability(sums_of(outputs(600, pedal)))  # type: ignore[arg-type]
    assert p[150:350].min() > THRESHOLD
    assert p[:60].max() < THRESHOLD and p[460:].max() < THRESHOLD


def test_no_frames_no_probability() -> None:
    assert probability(np.zeros((0, len(SUMS)), np.float32)).shape == (0,)


def test_a_model_directory_s_own_sustain_network_is_used(tmp_path) -> None:
    assert nets_for(tmp_path).sustain is shipped_nets().sustain
    mine = tmp_path / "mine"
    mine.mkdir()
    head_reader().save(mine / NET_FILE.name)
    assert np.array_equal(nets_for(mine).sustain.weights[0], head_reader().weights[0])
    (mine / NET_FILE.name).unlink()
    nets_for.cache_clear()


def test_a_long_recording_is_judged_in_blocks_as_it_would_be_whole() -> None:
    sums = np.random.default_rng(4).uniform(0, 3, (2 * ROWS + 500, len(SUMS))).astype(np.float32)
    whole = shipped_nets().sustain.probability(features(sums))
    # The network runs in float32, and BLAS rounds a float32 product differently for another number of
    # rows on some CPUs (an AMD EPYC: up to 4.6e-7 for the same rows judged 8,192 at a time or 16,884 at
    # once); a block read without its context is off by 0.89.
    np.testing.assert_allclose(probability(sums), whole, rtol=0, atol=1e-5)
