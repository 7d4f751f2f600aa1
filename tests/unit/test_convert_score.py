"""`piano-ai convert --score`: the MusicXML beside the MIDI, whose tempo map carries the tracked beats; hard
input still converts and says the beat was not found. The model and the transcription are stood in for."""

from pathlib import Path
from types import SimpleNamespace

import music21
import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from piano_ai import cli
from piano_ai.constants import SAMPLE_RATE
from piano_ai.types import Note

PERIOD_S = 0.6  # 100 bpm


def clicks(path: Path, count: int = 24) -> list[Note]:
    """A wav of piano-like tones every PERIOD_S (each bar's first one lower and louder); returns its notes."""
    audio = np.zeros(int((count * PERIOD_S + 1.0) * SAMPLE_RATE), dtype=np.float32)
    t = np.arange(int(0.3 * SAMPLE_RATE)) / SAMPLE_RATE
    notes = []
    for i in range(count):
        pitch = 48 if i % 4 == 0 else 60
        tone = (0.6 if pitch == 48 else 0.3) * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t)
        at = int(i * PERIOD_S * SAMPLE_RATE)
        audio[at : at + t.size] += (tone * np.exp(-t * 12)).astype(np.float32)
        notes.append(Note(pitch, i * PERIOD_S, i * PERIOD_S + 0.3, 90))
    sf.write(path, audio, SAMPLE_RATE)
    return notes


def stand_in(monkeypatch: pytest.MonkeyPatch, notes: list[Note]) -> None:
    import piano_ai.inference
    import piano_ai.transcribe

    model = SimpleNamespace(run=None, batch_size=8, with_run=lambda run, size: None)  # transcript is replaced
    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: model)
    transcript = piano_ai.transcribe.Transcript(notes, [], None)  # type: ignore[arg-type]  # no activations
    monkeypatch.setattr(piano_ai.transcribe, "transcript", lambda *a, **k: transcript)


@pytest.mark.slow
def test_score_writes_musicxml_and_a_tempo_mapped_midi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = clicks(tmp_path / "clicks.wav")
    stand_in(monkeypatch, notes)
    out = tmp_path / "out"
    assert cli.main(["convert", str(tmp_path / "clicks.wav"), "-o", str(out), "--score", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clicks.mid", "clicks.musicxml", "clicks.quantized.mid"]
    midi = pretty_midi.PrettyMIDI(str(out / "clicks.mid"))
    assert np.median(np.diff(midi.get_beats())) == pytest.approx(PERIOD_S, abs=0.03)
    starts = sorted(n.start for n in midi.instruments[0].notes)
    np.testing.assert_allclose(starts, [n.start for n in notes], atol=1e-3)  # nothing moved
    score = music21.converter.parse(out / "clicks.musicxml")
    assert len(score.parts) == 2
    assert score.recurse().getElementsByClass("MetronomeMark").first().number == pytest.approx(100, abs=5)
    quantized = pretty_midi.PrettyMIDI(str(out / "clicks.quantized.mid"))
    assert len(quantized.get_tempo_changes()[1]) == 1  # one constant tempo: the score's metronome mark
    on_beats = sorted(quantized.time_to_tick(n.start) for i in quantized.instruments for n in i.notes)
    assert len(on_beats) == len(notes) and {t % quantized.resolution for t in on_beats} == {0}


def test_no_steady_beat_still_writes_both_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sf.write(tmp_path / "chord.wav", np.zeros(2 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    stand_in(monkeypatch, [Note(60, 0.26, 1.8, 70), Note(64, 0.27, 1.8, 70)])
    out = tmp_path / "out"
    assert cli.main(["convert", str(tmp_path / "chord.wav"), "-o", str(out), "--score", "--json", "-q"]) == 0
    names = ["chord.json", "chord.mid", "chord.musicxml", "chord.quantized.mid"]
    assert sorted(p.name for p in out.iterdir()) == names
    assert "chord.wav: no steady beat: only 1 distinct note onsets" in capsys.readouterr().err
    midi = pretty_midi.PrettyMIDI(str(out / "chord.mid"))
    assert midi.get_tempo_changes()[1].tolist() == [120.0]
    assert b"no steady beat found" in (out / "chord.musicxml").read_bytes()
    quantized = pretty_midi.PrettyMIDI(str(out / "chord.quantized.mid"))
    assert quantized.get_tempo_changes()[1].tolist() == [120.0]
    starts = sorted(n.start for i in quantized.instruments for n in i.notes)
    assert starts == [0.25, 0.25]  # played at 0.26 s: the eighth after the beat at 120 bpm
