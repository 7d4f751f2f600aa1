"""evaluate() and folder_estimator() on tiny hand-written MIDI files: pedal conventions on both sides."""

import json
from pathlib import Path

import pretty_midi
import pytest

from piano_ai.evaluation.evaluate import Transcription, evaluate, folder_estimator, markdown_table
from piano_ai.types import Note

# A key struck at 0 s, released at 0.5 s while the pedal is down from 0.2 s to 2.0 s: it sounds until 2.0 s.
KEY_RELEASE_S, PEDAL_UP_S = 0.5, 2.0


def write_midi(
    path: Path, notes: list[tuple[int, float, float]], ccs: list[tuple[int, int, float]] = ()
) -> Path:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, pitch, start, end) for pitch, start, end in notes]
    piano.control_changes = [pretty_midi.ControlChange(n, v, t) for n, v, t in ccs]
    midi.instruments.append(piano)
    midi.write(str(path))
    return path


PEDALLED = [(64, 127, 0.2), (64, 0, PEDAL_UP_S)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """One pair whose reference writes the pedal: a.wav (never decoded here) + a.mid."""
    (tmp_path / "a.wav").write_bytes(b"")
    write_midi(tmp_path / "a.mid", [(60, 0.0, KEY_RELEASE_S), (64, 3.0, 3.5)], PEDALLED)
    return tmp_path


def predictions(tmp_path: Path, ccs: list[tuple[int, int, float]]) -> Path:
    """A transcriber's output folder: the same notes ending at key release, with ``ccs``."""
    out = tmp_path / "pred"
    out.mkdir()
    write_midi(out / "a.mid", [(60, 0.0, KEY_RELEASE_S), (64, 3.0, 3.5)], ccs)
    return out


def test_folder_estimator_extends_notes_by_their_own_pedal(tmp_path: Path) -> None:
    est = folder_estimator(predictions(tmp_path, PEDALLED))(tmp_path / "a.wav")
    assert isinstance(est, Transcription)
    assert [(n.pitch, n.end) for n in est.notes] == [(60, PEDAL_UP_S), (64, 3.5)]
    assert [n.end for n in est.key_notes] == [KEY_RELEASE_S, 3.5]
    assert est.sustain is not None and len(est.sustain) == 1
    assert est.sustain[0] == pytest.approx((0.2, PEDAL_UP_S))


@pytest.mark.parametrize(
    ("ccs", "pedal"),
    [([], True), ([(67, 127, 0.2), (67, 0, PEDAL_UP_S)], True), (PEDALLED, False)],
    ids=["no controllers", "soft pedal only", "extension turned off"],
)
def test_folder_estimator_reads_notes_as_written(tmp_path: Path, ccs: list, pedal: bool) -> None:
    est = folder_estimator(predictions(tmp_path, ccs), pedal=pedal)(tmp_path / "a.wav")
    assert [n.end for n in est.notes] == [KEY_RELEASE_S, 3.5]


def test_missing_prediction_is_no_notes(tmp_path: Path) -> None:
    (tmp_path / "pred").mkdir()
    assert folder_estimator(tmp_path / "pred")(tmp_path / "a.wav").notes == []


def test_key_release_notes_plus_pedal_meet_pedal_extended_truth(folder: Path) -> None:
    extended = evaluate(folder, folder_estimator(predictions(folder, PEDALLED))).summary()
    as_written = evaluate(folder, folder_estimator(folder / "pred", pedal=False)).summary()
    assert extended["offset"]["f1"] == 1.0
    assert as_written["offset"]["f1"] == 0.5  # the pedalled note ends at key release, 1.5 s early


def test_default_metrics_are_unchanged_by_pedal_metrics(folder: Path) -> None:
    estimate = folder_estimator(predictions(folder, PEDALLED))
    plain, with_pedal = evaluate(folder, estimate), evaluate(folder, estimate, pedal_metrics=True)
    assert set(plain.summary()) == {"onset", "offset", "velocity", "frame"}
    for metric in ("onset", "offset", "velocity", "frame"):
        assert with_pedal.summary()[metric] == plain.summary()[metric]


PEDAL_METRIC_CASES = [
    # name, prediction notes, its controllers, expected release_offset F1, pedal_frame F1 (None: absent)
    ("transkun-like: key release + CC64", [(60, 0.0, KEY_RELEASE_S), (64, 3.0, 3.5)], PEDALLED, 1.0, 1.0),
    ("sounding notes, no CC64", [(60, 0.0, PEDAL_UP_S), (64, 3.0, 3.5)], [], 0.5, None),
    (
        "key release, pedal half as long",
        [(60, 0.0, KEY_RELEASE_S), (64, 3.0, 3.5)],
        [(64, 127, 1.1), (64, 0, 2.0)],
        1.0,
        2 / 3,
    ),
]


@pytest.mark.parametrize(
    ("name", "notes", "ccs", "release_f1", "pedal_f1"),
    PEDAL_METRIC_CASES,
    ids=[c[0] for c in PEDAL_METRIC_CASES],
)
def test_pedal_metrics(
    folder: Path, name: str, notes: list, ccs: list, release_f1: float, pedal_f1: float | None
) -> None:
    out = folder / "pred"
    out.mkdir()
    write_midi(out / "a.mid", notes, ccs)
    summary = evaluate(folder, folder_estimator(out), pedal_metrics=True).summary()
    assert summary["release_offset"]["f1"] == pytest.approx(release_f1)
    if pedal_f1 is None:
        assert "pedal_frame" not in summary
    else:
        assert summary["pedal_frame"]["f1"] == pytest.approx(pedal_f1, abs=0.02)


def test_no_pedal_metrics_without_cc64_in_the_reference(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"")
    write_midi(tmp_path / "a.mid", [(60, 0.0, 0.5)])
    report = evaluate(tmp_path, lambda audio: [Note(60, 0.0, 0.5, 80)], pedal_metrics=True)
    assert set(report.summary()) == {"onset", "offset", "velocity", "frame"}


def test_pedal_metrics_averaged_over_the_files_that_have_them(folder: Path) -> None:
    (folder / "b.wav").write_bytes(b"")
    write_midi(folder / "b.mid", [(60, 0.0, 0.5)])  # no CC64: no pedal metrics for this file
    report = evaluate(folder, lambda audio: [Note(60, 0.0, 0.5, 80)], pedal_metrics=True)
    assert set(report.per_file["a.wav"]) > set(report.per_file["b.wav"])
    assert report.mean_per_file()["release_offset"] == pytest.approx(
        report.per_file["a.wav"]["release_offset"]["f1"]
    )
    assert json.loads(report.to_json())["mean_per_file_f1"]["onset"] == pytest.approx((2 / 3 + 1) / 2)


def test_markdown_table_adds_pedal_columns_only_when_scored(folder: Path) -> None:
    estimate = folder_estimator(predictions(folder, PEDALLED))
    assert "pedal" not in markdown_table({"x": evaluate(folder, estimate)})
    table = markdown_table({"x": evaluate(folder, estimate, pedal_metrics=True)})
    assert "key release" in table.splitlines()[0] and "pedal frame F1" in table.splitlines()[0]
    assert table.splitlines()[2] == "| x | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |"


def test_an_unreadable_reference_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "a.mid").write_bytes(b"not midi")
    with pytest.raises(ValueError, match="a.mid: not a readable MIDI file"):
        evaluate(tmp_path, lambda audio: [])
