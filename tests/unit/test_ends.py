"""Where notes end: the candidates piano_ai.ends offers, and the network's choice among them."""

from pathlib import Path

import numpy as np
import pytest

from piano_ai import ends
from piano_ai.constants import LOWEST_KEY, N_KEYS, SECONDS_PER_FRAME
from piano_ai.ends import AFTER, FEATURES, KINDS, NET_FILE, SPAN_FRAMES, candidates, note_ends, span_ends
from piano_ai.mlp import Mlp
from piano_ai.note_nets import NoteNets, nets_for, shipped_nets
from piano_ai.notes import next_true, notes_from_activations
from piano_ai.onsets import shipped_net
from piano_ai.types import Activations, Note, NoteParams

FRAMES = 100
KEY = 39
ONSET = 5


def one_note() -> Activations:
    """A note struck at frame 5 whose frame head falls in steps: 0.9 to frame 20, 0.45 to 30, 0.15 to 40;
    offset peaks at 20 (0.3), 35 (0.06) and 37 (0.04, under OFFSET_FLOOR)."""
    heads = {
        name: np.zeros((FRAMES, N_KEYS), np.float32) for name in ("onset", "frame", "offset", "velocity")
    }
    heads["onset"][ONSET, KEY] = 0.9
    heads["frame"][ONSET:21, KEY] = 0.9
    heads["frame"][21:31, KEY] = 0.45
    heads["frame"][31:41, KEY] = 0.15
    heads["offset"][[20, 35, 37], KEY] = (0.3, 0.06, 0.04)
    heads["velocity"][ONSET, KEY] = 0.5
    return Activations(**heads)


def test_every_kind_offers_its_end() -> None:
    act = one_note()
    times, keys = np.array([ONSET]), np.array([KEY])
    span = span_ends(times, np.array([FRAMES]), FRAMES)
    assert span.tolist() == [FRAMES - 1]  # no strike follows: the recording's end
    got = dict(zip(KINDS, candidates(act.frame, act.offset, times, keys, span)[0].tolist(), strict=True))
    assert [got[f"frame drops below {level}"] for level in ends.CROSSING_LEVELS] == [40, 30, 30, 30, 20, 20]
    assert [got[f"offset peak {i}"] for i in (1, 2, 3)] == [20, 35, FRAMES - 1]  # none more: the span's end
    assert got["span end"] == FRAMES - 1


def candidates_one_by_one(
    frame: np.ndarray, offset: np.ndarray, times: np.ndarray, keys: np.ndarray, span: np.ndarray
) -> np.ndarray:
    """candidates() as a loop over notes and frames: what each kind means, spelled out."""
    frames = frame.shape[0]
    rows = []
    for t, k, s in zip(times.tolist(), keys.tolist(), span.tolist(), strict=True):
        row = []
        for level in ends.CROSSING_LEVELS:  # the frame before the first one below the level
            below = [f for f in range(t + ends.CROSSING_FROM, frames) if frame[f, k] < level]
            row.append(below[0] - 1 if below else frames - 1)
        column = offset[:, k]
        peaks = [
            f
            for f in range(t + 2, frames)
            if column[f] >= ends.OFFSET_FLOOR
            and column[f] > (column[f - 1] if f else 0)
            and column[f] >= (column[f + 1] if f + 1 < frames else 0)
        ]
        row += (peaks + [frames] * ends.OFFSET_PEAKS)[: ends.OFFSET_PEAKS]
        row.append(s)
        rows.append([min(max(end, min(t + 1, s)), s) if end <= s else s for end in row])
    return np.array(rows, np.int64).reshape(len(rows), len(KINDS))


@pytest.mark.parametrize("seed", range(6))
def test_the_candidates_are_what_each_kind_means(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(1, 600))
    frame = (rng.random((frames, N_KEYS)) ** 3).astype(np.float32)
    offset = (rng.random((frames, N_KEYS)) ** 4).astype(np.float32)
    notes = int(rng.integers(0, 40))
    times, keys = rng.integers(0, frames, notes), rng.integers(0, N_KEYS, notes)
    span = span_ends(times, np.minimum(times + rng.integers(1, 2 * SPAN_FRAMES, notes), frames), frames)
    got = candidates(frame, offset, times, keys, span)
    assert got.shape == (notes, len(KINDS))
    np.testing.assert_array_equal(got, candidates_one_by_one(frame, offset, times, keys, span))


def test_a_span_ends_at_the_next_strike_or_after_span_frames() -> None:
    times = np.array([10, 10, 10])
    assert span_ends(times, np.array([50, 1000, 1000]), 1000).tolist() == [
        50,
        10 + SPAN_FRAMES,
        10 + SPAN_FRAMES,
    ]
    assert span_ends(times, np.array([1000, 1000, 1000]), 200).tolist() == [199, 199, 199]


def every_peak() -> Mlp:
    """An onset network that takes every peak for a note."""
    n = len(shipped_net().mean)
    return Mlp(np.zeros(n), np.ones(n), (np.zeros((n, 1)),), (np.full(1, 9.0),))


def reading(feature: str, weight: float) -> Mlp:
    """A one-layer network whose logit is ``weight`` times one feature."""
    n = len(FEATURES)
    w = np.zeros((n, 1))
    w[FEATURES.index(feature), 0] = weight
    return Mlp(np.zeros(n), np.ones(n), (w,), (np.zeros(1),))


@pytest.mark.parametrize(
    ("feature", "weight", "end_frame"),
    [
        ("frames", -1.0, 20),  # the shortest candidate
        ("frames", 1.0, FRAMES - 1),  # the longest
        ("crossing level", 10.0, 20),  # dropping below 0.6 (the first of the kinds that end there)
        ("frame mean onset..end", 10.0, 20),  # the end that keeps the head highest
        ("offset peak height", 10.0, 20),  # the strongest offset peak
    ],
)
def test_the_note_ends_at_the_likeliest_candidate(feature: str, weight: float, end_frame: int) -> None:
    act = one_note()
    (note,) = notes_from_activations(
        act, NoteParams(), NoteNets(every_peak(), reading(feature, weight), shipped_nets().sustain)
    )
    assert note.pitch == LOWEST_KEY + KEY
    assert note.start == pytest.approx(ONSET * SECONDS_PER_FRAME)
    assert note.end == pytest.approx(end_frame * SECONDS_PER_FRAME)


def test_a_choice_reads_nothing_past_its_read_frame() -> None:
    """Choices whose read frame lies inside a shorter run are the whole recording's: what note_stream's
    windows rely on; and a span cut by the run's end is never read as decided."""
    rng = np.random.default_rng(5)
    heads = [rng.random((900, N_KEYS)).astype(np.float32) ** 3 for _ in range(4)]
    onset, frame, offset, velocity = heads
    peaks = rng.random((900, N_KEYS)) < 0.01
    times, keys = np.nonzero(peaks)
    reonset = next_true(peaks, times + 1, keys)
    whole, read = note_ends(onset, frame, offset, velocity, times, keys, reonset)
    last = 600
    part_reonset = np.minimum(reonset, last)
    inside = times < last
    part, part_read = note_ends(*(h[:last] for h in heads), times[inside], keys[inside], part_reonset[inside])
    decided = part_read <= last - 1
    assert decided.sum() > 100 and (~decided).sum() > 10
    np.testing.assert_array_equal(part[decided], whole[inside][decided])
    np.testing.assert_array_equal(part_read[decided], read[inside][decided])
    assert (read[inside][~decided] >= last - AFTER).all()


def test_the_shipped_network_reads_these_features(tmp_path: Path) -> None:
    net = Mlp.load(NET_FILE, len(FEATURES))
    assert net.weights[-1].shape[1] == 1
    reading("frames", -1.0).save(tmp_path / "ends.npz")
    own = nets_for(tmp_path)
    assert own.ends.weights[0][FEATURES.index("frames"), 0] == -1.0
    assert own.onsets is shipped_nets().onsets  # it has no onsets.npz: the shipped one


def test_the_rule_ignores_the_network() -> None:
    act = one_note()
    nets = NoteNets(every_peak(), reading("frames", 1.0), shipped_nets().sustain)
    rule = notes_from_activations(act, NoteParams(frame_threshold=0.3, ends="rule"), nets)
    assert rule == [Note(LOWEST_KEY + KEY, rule[0].start, 30 * SECONDS_PER_FRAME, rule[0].velocity)]


def test_a_choice_with_levels_reads_nothing_past_its_read_frame_either() -> None:
    rng = np.random.default_rng(6)
    onset, frame, offset, velocity, level = (
        rng.random((900, N_KEYS)).astype(np.float32) ** 3 for _ in range(5)
    )
    peaks = rng.random((900, N_KEYS)) < 0.01
    times, keys = np.nonzero(peaks)
    reonset = next_true(peaks, times + 1, keys)
    heads = (onset, frame, offset, velocity)
    whole, _ = note_ends(*heads, times, keys, reonset, level=level)
    last = 600
    inside = times < last
    part, part_read = note_ends(
        *(h[:last] for h in heads),
        times[inside],
        keys[inside],
        np.minimum(reonset, last)[inside],
        level=level[:last],
    )
    decided = part_read <= last - 1
    assert decided.sum() > 100
    np.testing.assert_array_equal(part[decided], whole[inside][decided])


def test_the_level_end_network_reads_the_key_falling_silent() -> None:
    """A network that ends the note where its key's level falls most, given levels; the other without."""
    act = one_note()
    level = np.full((FRAMES, N_KEYS), 0.1, np.float32)
    level[ONSET:36, KEY] = 0.8  # the key sounds to frame 35, past every frame-head drop but one offset peak
    n = len(FEATURES) + len(ends.LEVEL_FEATURES)
    w = np.zeros((n, 1))
    w[len(FEATURES) + ends.LEVEL_FEATURES.index("level[e-1] - level[e+2]"), 0] = 20.0
    falls = Mlp(np.zeros(n), np.ones(n), (w,), (np.zeros(1),))
    nets = NoteNets(every_peak(), reading("frames", -1.0), shipped_nets().sustain, ends_level=falls)
    heard = Activations(act.onset, act.frame, act.offset, act.velocity, level=level)
    assert nets.end_judge(heard.level) == (falls, True) and nets.end_judge(None) == (nets.ends, False)
    assert notes_from_activations(heard, NoteParams(), nets)[0].end == pytest.approx(35 * SECONDS_PER_FRAME)
    assert notes_from_activations(act, NoteParams(), nets)[0].end == pytest.approx(20 * SECONDS_PER_FRAME)


def test_the_shipped_level_end_network_reads_these_features() -> None:
    net = Mlp.load(ends.LEVEL_NET_FILE, len(FEATURES) + len(ends.LEVEL_FEATURES))
    assert net.weights[-1].shape[1] == 1 and shipped_nets().ends_level is ends.shipped_level_net()
