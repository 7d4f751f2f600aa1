"""Basic Pitch's threshold grid: folder names round-trip, and the best setting is picked by onset F1."""

from pathlib import Path

import pytest
from script_loader import load_script

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench" / "threshold_grid.py"


tg = load_script(SCRIPT)


def summary(onset: float, offset: float = 0.0) -> dict[str, dict[str, float]]:
    return {"onset": {"f1": onset}, "offset": {"f1": offset}}


def test_grid_is_the_briefs_30_settings_with_basic_pitchs_defaults() -> None:
    settings = tg.grid()
    assert len(settings) == len(set(settings)) == 5 * 3 * 2
    assert tg.Setting(0.5, 0.3, 127.7) in settings
    assert {s.min_note_ms for s in settings} == {127.7, 58.0}


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        ((0.5, 0.3, 127.7), "0.5-0.3-127.7"),
        ((0.3, 0.2, 58.0), "0.3-0.2-58"),
        ((0.7, 0.4, 58.0), "0.7-0.4-58"),
    ],
)
def test_folder_name_round_trips(setting: tuple[float, float, float], name: str) -> None:
    assert tg.Setting(*setting).name == name
    assert tg.parse_setting(name) == tg.Setting(*setting)


def test_every_grid_name_round_trips_and_is_unique() -> None:
    names = [s.name for s in tg.grid()]
    assert len(set(names)) == len(names)
    assert [tg.parse_setting(n) for n in names] == tg.grid()


@pytest.mark.parametrize("name", ["speed.json", "0.5-0.3", "a-b-c", "1.5-0.3-58", "0.5-0.3-58-1", "0-0.3-58"])
def test_other_names_are_not_settings(name: str) -> None:
    assert tg.parse_setting(name) is None


def test_best_is_the_highest_onset_f1() -> None:
    scores = {"0.5-0.3-127.7": summary(0.80), "0.7-0.4-58": summary(0.84), "0.3-0.2-58": summary(0.70, 0.9)}
    assert tg.best_setting(scores) == "0.7-0.4-58"


def test_onset_ties_go_to_offset_f1_then_to_the_name() -> None:
    assert tg.best_setting({"b": summary(0.8, 0.3), "a": summary(0.8, 0.2)}) == "b"
    assert tg.best_setting({"b": summary(0.8, 0.3), "a": summary(0.8, 0.3)}) == "a"


def test_no_scores_is_an_error() -> None:
    with pytest.raises(ValueError, match="no scored settings"):
        tg.best_setting({})


def test_edges_of_the_grid() -> None:
    settings = tg.grid()
    assert tg.on_edge(tg.Setting(0.5, 0.3, 127.7), settings) == []
    assert tg.on_edge(tg.Setting(0.7, 0.3, 58.0), settings) == ["onset_threshold"]
    assert tg.on_edge(tg.Setting(0.3, 0.4, 58.0), settings) == ["onset_threshold", "frame_threshold"]
