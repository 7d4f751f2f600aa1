"""Build plans: seeded, split by piece and instrument, within budget."""

import pytest

from piano_ai.data.options import ALL_INSTRUMENTS, VAL_ONLY_INSTRUMENTS
from piano_ai.data.plan import CLIP_SECONDS, asap_pieces, is_val_piece, plan

SOURCES = ("asap", "synthetic")


def test_plan_is_a_function_of_the_seed():
    assert plan(1, "train", 0.3, SOURCES, ALL_INSTRUMENTS) == plan(1, "train", 0.3, SOURCES, ALL_INSTRUMENTS)
    assert plan(1, "train", 0.3, SOURCES, ALL_INSTRUMENTS) != plan(2, "train", 0.3, SOURCES, ALL_INSTRUMENTS)


def test_plan_is_prefix_stable():
    """A bigger budget plans the same first clips (evaluation re-plans val clips this way)."""
    small = plan(4, "val", 0.2, SOURCES, ALL_INSTRUMENTS)
    assert plan(4, "val", 0.6, SOURCES, ALL_INSTRUMENTS)[: len(small)] == small


def test_budget_is_met_without_overshooting_by_more_than_a_clip():
    specs = plan(0, "train", 0.5, SOURCES, ALL_INSTRUMENTS)
    total = sum(s.seconds for s in specs)
    assert 1800 <= total < 1800 + CLIP_SECONDS[1]
    assert all(CLIP_SECONDS[0] <= s.seconds <= CLIP_SECONDS[1] for s in specs)
    assert [s.index for s in specs] == list(range(len(specs)))


def test_train_and_val_never_share_a_piece_and_val_owns_headroom():
    train = plan(0, "train", 2.0, SOURCES, ALL_INSTRUMENTS)
    val = plan(0, "val", 0.5, SOURCES, ALL_INSTRUMENTS)
    assert not {s.piece for s in train} & {s.piece for s in val}
    assert all(not is_val_piece(s.piece) for s in train) and all(is_val_piece(s.piece) for s in val)
    assert not {s.instrument for s in train} & set(VAL_ONLY_INSTRUMENTS)
    assert {s.instrument for s in val} == set(ALL_INSTRUMENTS)
    assert {s.source for s in train} == set(SOURCES)


def test_val_share_of_asap_pieces_is_about_eight_percent():
    pieces = list(asap_pieces())
    share = sum(map(is_val_piece, pieces)) / len(pieces)
    assert len(pieces) > 200 and 0.04 < share < 0.13


def test_the_quantized_scores_beside_the_performances_are_not_performances():
    files = [f for paths in asap_pieces().values() for f in paths]
    assert files and not any(f.endswith("/midi_score.mid") for f in files)
    assert len(files) == 978  # the training data's README: 978 performances


def test_asap_specs_point_at_files_of_their_piece():
    for spec in plan(0, "train", 0.3, ("asap",), ("fluidr3",)):
        assert spec.path in asap_pieces()[spec.piece]
        assert 0.85 <= spec.time_scale <= 1.2


def test_only_val_instruments_leave_nothing_to_train():
    with pytest.raises(ValueError, match="nothing to render"):
        plan(0, "train", 0.1, SOURCES, VAL_ONLY_INSTRUMENTS)
