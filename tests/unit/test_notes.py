"""Table-driven tests for post-processing: activations in, notes out."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from piano_ai.constants import LOWEST_KEY, N_KEYS, SECONDS_PER_FRAME
from piano_ai.mlp import Mlp
from piano_ai.note_nets import NoteNets, nets_for, shipped_nets
from piano_ai.note_stream import NoteStream
from piano_ai.notes import next_true, notes_from_activations
from piano_ai.onsets import (
    CANDIDATE_FLOOR,
    ECHO_FLOOR,
    FEATURES,
    LEVEL_FEATURES,
    LEVEL_NET_FILE,
    LOOKAHEAD,
    NET_FILE,
    ONSET_CONTEXT,
    echoes,
    onset_peaks,
    peak_features,
    shipped_level_net,
    shipped_net,
)
from piano_ai.types import Activations, Note, NoteParams

FRAMES = 40
KEY = 39  # column of MIDI pitch 60 (C4)
PITCH = LOWEST_KEY + KEY
F = SECONDS_PER_FRAME


TABLE_PARAMS = NoteParams(
    onset_threshold=0.5, frame_threshold=0.3, offset_threshold=0.5, min_note_ms=30.0, ends="rule"
)


@dataclass
class Case:
    """Activations for one key, given as {frame: value} per head; everything else is 0."""

    name: str
    onset: dict[int, float] = field(default_factory=dict)
    frame: dict[int, float] = field(default_factory=dict)
    offset: dict[int, float] = field(default_factory=dict)
    velocity: dict[int, float] = field(default_factory=dict)
    # The table's thresholds are fixed (0.5 / 0.3 / 0.5), not the shipped defaults, which follow the model.
    params: NoteParams = field(default_factory=lambda: TABLE_PARAMS)
    expected: list[tuple[float, float, int]] = field(default_factory=list)  # (start_s, end_s, velocity)


def span(first: int, last: int, value: float = 0.9) -> dict[int, float]:
    return {t: value for t in range(first, last + 1)}


CASES = [
    Case("nothing", expected=[]),
    Case(
        "single note, symmetric onset peak",
        onset={4: 0.3, 5: 0.9, 6: 0.3},
        frame=span(5, 14),
        velocity=span(4, 6, 0.5),
        expected=[(5 * F, 14 * F, 64)],
    ),
    Case(
        "frame head still rising after the onset",
        onset={5: 0.9},
        frame={5: 0.1, 6: 0.2, **span(7, 14)},
        velocity={5: 0.5},
        expected=[(5 * F, 14 * F, 64)],
    ),
    Case(
        "frame head never rises: one frame",
        onset={5: 0.9},
        velocity={5: 0.5},
        expected=[(5 * F, 6 * F, 64)],
    ),
    Case(
        "re-onset of the same key cuts the first note",
        onset={5: 0.9, 15: 0.9},
        frame=span(5, 24),
        velocity={5: 0.5, 15: 1.0},
        expected=[(5 * F, 15 * F, 64), (15 * F, 24 * F, 127)],
    ),
    Case(
        "offset head ends the note before the frame head",
        onset={5: 0.9},
        frame=span(5, 30),
        offset={12: 0.8},
        velocity={5: 0.5},
        expected=[(5 * F, 12 * F, 64)],
    ),
    Case(
        "offset right after the onset is ignored (a re-struck key's old offset)",
        onset={5: 0.9},
        frame=span(5, 14),
        offset={5: 0.9, 6: 0.9},
        velocity={5: 0.5},
        expected=[(5 * F, 14 * F, 64)],
    ),
    Case(
        "min length filter drops a short note",
        onset={5: 0.9},
        frame=span(5, 6),
        velocity={5: 0.5},
        params=NoteParams(min_note_ms=100),
        expected=[],
    ),
    Case(
        "min length filter keeps a long enough note",
        onset={5: 0.9},
        frame=span(5, 9),
        velocity={5: 0.5},
        params=NoteParams(min_note_ms=100),
        expected=[(5 * F, 9 * F, 64)],
    ),
    Case(
        "onset exactly at the threshold starts a note",
        onset={5: 0.5},
        frame=span(5, 10),
        velocity={5: 0.5},
        expected=[(5 * F, 10 * F, 64)],
    ),
    Case("onset peak under the candidate floor does not", onset={5: 0.19}, frame=span(5, 10), expected=[]),
    Case(
        "frame exactly at the threshold keeps sounding",
        onset={5: 0.9},
        frame={**span(5, 8), 9: 0.3, 10: 0.3, 11: 0.29},
        velocity={5: 0.5},
        expected=[(5 * F, 10 * F, 64)],
    ),
    Case(
        "offset exactly at the threshold ends the note",
        onset={5: 0.9},
        frame=span(5, 20),
        offset={10: 0.5, 15: 0.49},
        velocity={5: 0.5},
        expected=[(5 * F, 10 * F, 64)],
    ),
    Case(
        "a plateau onset starts one note, between its two frames",
        onset={5: 0.8, 6: 0.8},
        frame=span(5, 12),
        velocity={5: 0.5, 6: 0.5},
        expected=[(5.5 * F, 12 * F, 64)],
    ),
    Case(
        "velocity is the onset-weighted mean around the onset",
        onset={4: 0.6, 5: 0.9, 6: 0.3},
        frame=span(5, 12),
        velocity={4: 0.2, 5: 0.8, 6: 0.5},
        expected=[(None, 12 * F, round(127 * (0.6 * 0.2 + 0.9 * 0.8 + 0.3 * 0.5) / 1.8))],  # type: ignore[list-item]
    ),
    Case("velocity 0 maps to 1", onset={5: 0.9}, frame=span(5, 10), expected=[(5 * F, 10 * F, 1)]),
    Case(
        "a note at the very start",
        onset={0: 0.9, 1: 0.4},
        frame=span(0, 6),
        velocity={0: 1.0, 1: 1.0},
        expected=[(0.0, 6 * F, 127)],
    ),
    Case(
        "a note still sounding at the end of the audio",
        onset={30: 0.9},
        frame=span(30, FRAMES - 1),
        velocity={30: 0.5},
        expected=[(30 * F, (FRAMES - 1) * F, 64)],
    ),
]


def activations(case: Case, frames: int = FRAMES) -> Activations:
    heads = {}
    for head in ("onset", "frame", "offset", "velocity"):
        array = np.zeros((frames, N_KEYS), np.float32)
        for t, value in getattr(case, head).items():
            array[t, KEY] = value
        heads[head] = array
    return Activations(**heads)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cases(case: Case) -> None:
    notes = notes_from_activations(activations(case), case.params)
    assert len(notes) == len(case.expected), notes
    for note, (start, end, velocity) in zip(notes, case.expected, strict=True):
        assert note.pitch == PITCH
        if start is not None:
            assert note.start == pytest.approx(start, abs=1e-6)
        assert note.end == pytest.approx(end, abs=1e-6)
        assert note.velocity == velocity


@pytest.mark.parametrize(
    ("left", "right", "shift"),
    [(0.3, 0.3, 0.0), (0.7, 0.1, -0.3), (0.1, 0.7, 0.3), (0.0, 0.0, 0.0)],
)
def test_onset_time_is_refined_below_a_frame(left: float, right: float, shift: float) -> None:
    case = Case("refine", onset={9: left, 10: 0.9, 11: right}, frame=span(10, 20), velocity={10: 0.5})
    (note,) = notes_from_activations(activations(case))
    assert note.start == pytest.approx((10 + shift) * F, abs=1e-6)
    assert abs(note.start - 10 * F) <= 0.5 * F


@pytest.mark.parametrize(
    ("offset", "end"),
    [
        ({}, 20.0),  # no offset evidence: the frame head's last frame
        ({21: 0.04}, 20.0),  # below OFFSET_SNAP_FLOOR: ignored
        ({21: 0.3}, 21.0),  # a clean peak a frame later: the end moves there
        ({20: 0.2, 21: 0.3, 22: 0.2}, 21.0),  # symmetric: exactly on it
        ({19: 0.1, 20: 0.3, 21: 0.2}, 20.0 + 0.5 * (0.1 - 0.2) / (0.1 - 0.6 + 0.2)),  # vertex between frames
        ({23: 0.4}, 20.0),  # three frames away: not this note's release
    ],
)
def test_the_end_snaps_to_a_nearby_offset_peak(offset: dict[int, float], end: float) -> None:
    case = Case("snap", onset={10: 0.9}, frame=span(10, 20), offset=offset, velocity={10: 0.5})
    (note,) = notes_from_activations(activations(case), NoteParams(0.5, 0.3, 0.5))
    assert note.end == pytest.approx(end * F, abs=1e-6)


def test_keys_map_to_pitches_and_notes_are_sorted() -> None:
    onset = np.zeros((FRAMES, N_KEYS), np.float32)
    frame = np.zeros_like(onset)
    for key, t in [(87, 3), (0, 3), (40, 1)]:
        onset[t, key] = 0.9
        frame[t : t + 5, key] = 0.9
    act = Activations(onset, frame, np.zeros_like(onset), np.full_like(onset, 0.5))
    notes = notes_from_activations(act)
    assert [(n.pitch, round(n.start / F)) for n in notes] == [(61, 1), (21, 3), (108, 3)]


def test_empty_and_silent_input() -> None:
    assert notes_from_activations(activations(Case("empty"), frames=0)) == []
    assert notes_from_activations(activations(Case("one frame", onset={0: 0.9}), frames=1)) == []


def test_mismatched_shapes_are_rejected() -> None:
    a = np.zeros((10, N_KEYS), np.float32)
    with pytest.raises(ValueError, match="activations"):
        notes_from_activations(Activations(a, a, a, np.zeros((9, N_KEYS), np.float32)))


def test_default_params_and_types() -> None:
    case = CASES[1]
    (note,) = notes_from_activations(activations(case))
    assert isinstance(note, Note)
    assert isinstance(note.pitch, int) and isinstance(note.velocity, int)
    assert isinstance(note.start, float) and isinstance(note.end, float)


def test_helpers() -> None:
    mask = np.array([[0, 1], [1, 0], [0, 0], [1, 0]], dtype=bool)
    times = np.arange(5)
    assert next_true(mask, times, np.zeros(5, int)).tolist() == [1, 1, 3, 3, 4]
    assert next_true(mask, times, np.ones(5, int)).tolist() == [0, 4, 4, 4, 4]
    onset = np.array([[0.6], [0.9], [0.9], [0.2], [0.7]], np.float32)
    assert onset_peaks(onset, 0.5)[:, 0].tolist() == [False, True, False, False, True]


def test_decoding_training_targets_gives_back_the_notes() -> None:
    """The decoder inverts piano_ai.data.targets: ideal activations (the targets themselves) decode to
    the notes they were made from, to within a frame. This pins the two frame-time conventions together."""
    from piano_ai.data.targets import notes_to_targets

    truth = [
        Note(60, 0.50, 1.00, 80),
        Note(64, 0.50, 1.30, 40),
        Note(60, 1.00, 1.60, 100),  # the same key again right where the first one ends
        Note(21, 2.00, 2.20, 127),
        Note(108, 2.10, 3.00, 1),
    ]
    frames = int(3.5 / F)
    targets = notes_to_targets(truth, frames)
    act = Activations(
        onset=targets["onset"].astype(np.float32),
        frame=targets["frame"].astype(np.float32),
        offset=targets["offset"].astype(np.float32),
        velocity=targets["velocity"].astype(np.float32) / 127.0,
    )
    decoded = notes_from_activations(act)
    assert [(n.pitch, n.velocity) for n in decoded] == [(n.pitch, n.velocity) for n in truth]
    for got, want in zip(decoded, truth, strict=True):
        assert got.start == pytest.approx(want.start, abs=F / 2 + 1e-9)  # targets quantise to frames
        assert got.end == pytest.approx(want.end, abs=F)


def two_keys(onsets: dict[tuple[int, int], float], frames: int = FRAMES) -> Activations:
    """Onset peaks at {(frame, key): value}, each key sounding from its first onset to frame 30."""
    onset = np.zeros((frames, N_KEYS), np.float32)
    frame = np.zeros((frames, N_KEYS), np.float32)
    for (t, key), value in onsets.items():
        onset[t, key] = value
    for key in {key for _, key in onsets}:
        first = min(t for t, k in onsets if k == key)
        frame[first:31, key] = 0.9
    return Activations(onset, frame, np.zeros_like(onset), np.full_like(onset, 0.5))


def echo_at(onsets: dict[tuple[int, int], float], at: tuple[int, int]) -> bool:
    onset = two_keys(onsets).onset
    return bool(echoes(onset, onset_peaks(onset, ECHO_FLOOR))[at])


@pytest.mark.parametrize(
    ("low", "high", "echo"),
    [
        (0.95, 0.75, True),  # a weak peak an octave above, in the same frame: the low note's partial
        (0.95, 0.9, False),  # SURE_ONSET and up: a played octave
        (0.75, 0.8, False),  # stronger than the note below: played
    ],
)
def test_a_weak_peak_an_octave_above_a_stronger_one_is_an_echo(low: float, high: float, echo: bool) -> None:
    assert echo_at({(5, KEY): low, (5, KEY + 12): high}, (5, KEY + 12)) is echo


def test_an_octave_a_frame_apart_is_no_echo() -> None:
    assert echo_at({(5, KEY): 0.95, (6, KEY + 12): 0.75}, (6, KEY + 12)) is False


@pytest.mark.parametrize(
    ("second", "echo"),
    [
        ((8, 0.75), True),  # 3 frames after a stronger peak, weaker: the same strike
        ((9, 0.75), False),  # 4 frames after: struck again
        ((8, 0.92), False),  # SURE_ONSET and up: struck again
    ],
)
def test_a_weaker_peak_just_after_a_strike_of_the_same_key_is_an_echo(
    second: tuple[int, float], echo: bool
) -> None:
    t, value = second
    assert echo_at({(5, KEY): 0.95, (t, KEY): value}, (t, KEY)) is echo


def onset_height_net(weight: float = 20.0, bias: float = -10.0, width: int = len(FEATURES)) -> Mlp:
    """A one-layer network that reads only the peak's own height: sigmoid(weight * onset[t] + bias)
    (``width`` features: FEATURES, or those and LEVEL_FEATURES)."""
    n = width
    w = np.zeros((n, 1))
    w[FEATURES.index("onset[t+0]"), 0] = weight
    return Mlp(np.zeros(n), np.ones(n), (w,), (np.array([bias]),))


def onset_height_nets(weight: float = 20.0, bias: float = -10.0) -> NoteNets:
    """onset_height_net beside the shipped end network."""
    return NoteNets(onset_height_net(weight, bias), shipped_nets().ends, shipped_nets().sustain)


@pytest.mark.parametrize(
    ("height", "threshold", "kept"), [(0.6, 0.5, True), (0.45, 0.5, False), (0.6, 0.9, False)]
)
def test_the_network_decides_which_peaks_are_notes(height: float, threshold: float, kept: bool) -> None:
    """sigmoid(20 * height - 10) against the threshold: 0.88 for 0.6, 0.27 for 0.45."""
    act = two_keys({(5, KEY): height})
    params = NoteParams(onset_threshold=threshold)
    assert len(notes_from_activations(act, params, onset_height_nets())) == int(kept)


def test_the_numpy_network_is_scikit_learns_mlp() -> None:
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURES)))
    y = (x[:, 2] + 0.3 * x[:, 9] > 0.7).astype(int)
    mlp = MLPClassifier((8, 4), max_iter=300, random_state=0).fit(x, y)
    net = Mlp(np.zeros(x.shape[1]), np.ones(x.shape[1]), tuple(mlp.coefs_), tuple(mlp.intercepts_))
    np.testing.assert_allclose(
        net.probability(x.astype(np.float32)), mlp.predict_proba(x.astype(np.float32))[:, 1], atol=1e-6
    )


def test_a_peaks_features_read_only_its_context() -> None:
    """Features of peaks at least ONSET_CONTEXT frames inside a run and LOOKAHEAD before its end are those
    of the whole recording: what note_stream's windows rely on."""
    rng = np.random.default_rng(3)
    heads = [rng.random((300, N_KEYS)).astype(np.float32) ** 3 for _ in range(4)]
    times, keys = np.nonzero(onset_peaks(heads[0], CANDIDATE_FLOOR))
    whole = peak_features(*heads, times, keys)
    first, last = 100, 200
    inside = (times >= first + ONSET_CONTEXT) & (times < last - LOOKAHEAD)
    part = peak_features(*(h[first:last] for h in heads), times[inside] - first, keys[inside])
    np.testing.assert_array_equal(part, whole[inside])
    wider = (times >= first + ONSET_CONTEXT - 1) & (times < last - LOOKAHEAD + 1)
    cut = peak_features(*(h[first:last] for h in heads), times[wider] - first, keys[wider])
    assert not np.array_equal(cut, whole[wider])  # one frame less context does change some


def test_a_peaks_level_features_read_only_its_context_too() -> None:
    rng = np.random.default_rng(4)
    heads = [rng.random((300, N_KEYS)).astype(np.float32) ** 3 for _ in range(5)]
    times, keys = np.nonzero(onset_peaks(heads[0], CANDIDATE_FLOOR))
    whole = peak_features(*heads[:4], times, keys, heads[4])
    assert whole.shape == (times.size, len(FEATURES) + len(LEVEL_FEATURES))
    np.testing.assert_array_equal(whole[:, : len(FEATURES)], peak_features(*heads[:4], times, keys))
    first, last = 100, 200
    inside = (times >= first + ONSET_CONTEXT) & (times < last - LOOKAHEAD)
    part = peak_features(
        *(h[first:last] for h in heads[:4]), times[inside] - first, keys[inside], heads[4][first:last]
    )
    np.testing.assert_array_equal(part, whole[inside])


def test_a_level_rising_at_the_peak_reads_as_a_rise() -> None:
    onset = np.zeros((FRAMES, N_KEYS), np.float32)
    onset[10, KEY] = 0.8
    level = np.full((FRAMES, N_KEYS), 0.2, np.float32)
    level[10:, KEY] = 0.7  # this key's fundamental gets louder at the peak
    zeros = np.zeros_like(onset)
    x = peak_features(onset, zeros, zeros, zeros, np.array([10]), np.array([KEY]), level)[0]
    named = dict(zip(FEATURES + LEVEL_FEATURES, x, strict=True))
    assert named["level[t..t+1] max - level[t-2..t-1] min, key+0"] == pytest.approx(0.5)
    assert named["level[t+1] - level[t-1], key+0"] == pytest.approx(0.5)
    assert named["level[t+1] - loudest key's level[t+1], key+0"] == 0.0  # the loudest key
    assert named["level[t..t+1] max - level[t-2..t-1] min, key+12"] == 0.0  # its octave did not move
    assert named["level rise over keys at t"] == pytest.approx(0.5 / N_KEYS)


def test_the_level_network_judges_where_levels_are_at_hand() -> None:
    act = two_keys({(5, KEY): 0.6})
    quiet = Activations(act.onset, act.frame, act.offset, act.velocity, level=np.zeros_like(act.onset))
    reads_level = NoteNets(
        onset_height_net(bias=-30.0),
        shipped_nets().ends,
        shipped_nets().sustain,
        onset_height_net(weight=20.0, bias=-10.0, width=len(FEATURES) + len(LEVEL_FEATURES)),
    )
    params = NoteParams(onset_threshold=0.5)
    assert len(notes_from_activations(quiet, params, reads_level)) == 1  # the level network: 0.88
    assert len(notes_from_activations(act, params, reads_level)) == 0  # no levels: the other one, 0.00
    assert reads_level.onset_judge(None) == (reads_level.onsets, False)
    assert reads_level.onset_judge(quiet.level) == (reads_level.onsets_level, True)


def test_the_shipped_level_network_reads_these_features() -> None:
    net = Mlp.load(LEVEL_NET_FILE, len(FEATURES) + len(LEVEL_FEATURES))
    assert net is not None and shipped_level_net().weights[-1].shape[1] == 1
    assert shipped_nets().onsets_level is shipped_level_net()


def test_a_model_directory_with_its_own_onset_network_reads_no_shipped_level_network(tmp_path: Path) -> None:
    assert nets_for(None).onsets_level is shipped_level_net()
    assert nets_for(tmp_path / "bare").onsets_level is shipped_level_net()  # nothing of its own
    onset_height_net().save(tmp_path / "onsets.npz")
    assert nets_for(tmp_path).onsets_level is None  # fitted to other outputs than the shipped level network's
    mine = tmp_path / "both"
    mine.mkdir()
    onset_height_net().save(mine / "onsets.npz")
    onset_height_net(width=len(FEATURES) + len(LEVEL_FEATURES)).save(mine / "onsets_level.npz")
    assert nets_for(mine).onsets_level is not None and nets_for(mine).onsets_level is not shipped_level_net()


def test_the_shipped_network_reads_these_features() -> None:
    net = Mlp.load(NET_FILE, len(FEATURES))
    assert net.mean.shape == (len(FEATURES),) and net.weights[-1].shape[1] == 1
    with pytest.raises(ValueError, match="features"):
        Mlp.load(NET_FILE, len(FEATURES) + 1)


def test_a_model_directory_brings_its_own_onset_network(tmp_path: Path) -> None:
    onset_height_net(weight=1.0).save(tmp_path / "onsets.npz")
    own = nets_for(tmp_path)
    assert own.onsets.weights[0][FEATURES.index("onset[t+0]"), 0] == 1.0
    assert own.ends is shipped_nets().ends  # it has no ends.npz: the shipped one
    for elsewhere in (tmp_path / "elsewhere", None):
        assert nets_for(elsewhere).onsets is shipped_net() and nets_for(elsewhere).ends is shipped_nets().ends


def test_the_stream_uses_the_network_it_is_given() -> None:
    act = two_keys({(5, KEY): 0.6, (12, KEY + 4): 0.45})
    stream = NoteStream(TABLE_PARAMS, onset_height_nets())
    stream.push({"onset": act.onset, "frame": act.frame, "offset": act.offset, "velocity": act.velocity})
    notes = stream.finish()
    assert notes == notes_from_activations(act, TABLE_PARAMS, onset_height_nets())
    assert [n.pitch for n in notes] == [PITCH]  # sigmoid(20 * 0.45 - 10) = 0.27 < 0.5
