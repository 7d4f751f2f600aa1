"""transkun_predict.py: outputs cached by audio content + version, with per-file seconds; and, in its own
environment (.venv-transkun), the real model end to end on a short clip."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "bench" / "transkun_predict.py"
TK_PYTHON = ROOT / ".venv-transkun" / "bin" / "python"

tp = load_script(SCRIPT)


def clip(path: Path, freq: float = 440.0, seconds: float = 2.0) -> Path:
    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t) * np.exp(-t)).astype(np.float32), sr)
    return path


class FakeTranscriber:
    """Stands in for Transkun in this process: writes one note per file and counts its calls."""

    def __init__(self) -> None:
        self.loads = 0
        self.calls: list[str] = []

    def load(self):  # noqa: ANN201 - the transcribe function
        self.loads += 1

        def transcribe(audio: Path, midi_path: Path) -> float:
            self.calls.append(audio.name)
            midi = pretty_midi.PrettyMIDI()
            piano = pretty_midi.Instrument(0)
            piano.notes.append(pretty_midi.Note(80, 69, 0.0, 0.5))
            midi.instruments.append(piano)
            midi.write(str(midi_path))
            return sf.info(str(audio)).duration

        return transcribe


@pytest.fixture
def audio(tmp_path: Path) -> list[Path]:
    (tmp_path / "in").mkdir()
    return [clip(tmp_path / "in" / "a.flac", 440.0), clip(tmp_path / "in" / "b.flac", 220.0, 3.0)]


def test_each_file_is_transcribed_once_then_served_from_the_cache(tmp_path: Path, audio: list[Path]) -> None:
    fake, cache = FakeTranscriber(), tmp_path / "cache"
    first = tp.predict(audio, tmp_path / "out1", cache, "2.0.1", fake.load)
    assert fake.calls == ["a.flac", "b.flac"] and fake.loads == 1
    assert sorted(p.name for p in (tmp_path / "out1").iterdir()) == ["a.mid", "b.mid"]
    assert [f["cached"] for f in first["per_file"]] == [False, False]
    assert first["audio_s"] == pytest.approx(5.0) and first["files"] == 2

    second = tp.predict(audio, tmp_path / "out2", cache, "2.0.1", fake.load)
    assert fake.calls == ["a.flac", "b.flac"] and fake.loads == 1  # no model load, no transcription
    assert [f["cached"] for f in second["per_file"]] == [True, True]
    # the seconds reported are those of the run that transcribed each file
    assert [f["wall_s"] for f in second["per_file"]] == [f["wall_s"] for f in first["per_file"]]
    assert second["seconds_per_file"] == pytest.approx(first["wall_s"] / 2)
    assert (tmp_path / "out2" / "a.mid").read_bytes() == (tmp_path / "out1" / "a.mid").read_bytes()


def test_cache_is_keyed_by_content_and_version_not_by_name(tmp_path: Path, audio: list[Path]) -> None:
    fake, cache = FakeTranscriber(), tmp_path / "cache"
    tp.predict(audio[:1], tmp_path / "out", cache, "2.0.1", fake.load)
    renamed = audio[0].with_name("renamed.flac")
    renamed.write_bytes(audio[0].read_bytes())
    tp.predict([renamed], tmp_path / "out", cache, "2.0.1", fake.load)
    assert fake.calls == ["a.flac"]  # same bytes under another name: cached
    tp.predict(audio[:1], tmp_path / "out", cache, "2.0.2", fake.load)
    assert fake.calls == ["a.flac", "a.flac"]  # another transkun version: transcribed again
    clip(audio[0], 330.0)
    tp.predict(audio[:1], tmp_path / "out", cache, "2.0.1", fake.load)
    assert fake.calls == ["a.flac"] * 3  # the file changed


def test_a_run_killed_mid_file_leaves_no_cache_entry(tmp_path: Path, audio: list[Path]) -> None:
    def dies(audio: Path, midi_path: Path) -> float:
        midi_path.write_bytes(b"half a file")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tp.predict(audio[:1], tmp_path / "out", tmp_path / "cache", "2.0.1", lambda: dies)
    fake = FakeTranscriber()
    tp.predict(audio[:1], tmp_path / "out", tmp_path / "cache", "2.0.1", fake.load)
    assert fake.calls == ["a.flac"]


def test_audio_files_from_folders_and_files(tmp_path: Path, audio: list[Path]) -> None:
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    assert tp.audio_files([tmp_path / "in", audio[0]]) == audio
    with pytest.raises(SystemExit, match="no such file"):
        tp.audio_files([tmp_path / "missing.flac"])


@pytest.mark.slow
@pytest.mark.skipif(not TK_PYTHON.exists(), reason="no .venv-transkun: bash scripts/bench/setup_transkun.sh")
def test_transkun_transcribes_a_clip_offline_and_caches_it(tmp_path: Path) -> None:
    sr = 16000
    t = np.arange(4 * sr) / sr
    # a C major triad struck twice, with decaying harmonics (a crude piano)
    tone = sum(
        0.1 * np.sin(2 * np.pi * f * k * t) * np.exp(-3 * (t % 2)) / k
        for f in (261.63, 329.63, 392.0)
        for k in (1, 2, 3)
    )
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "triad.flac", tone.astype(np.float32), sr)
    cmd = [str(TK_PYTHON), str(SCRIPT), str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    cmd += ["--cache", str(tmp_path / "cache")]
    # a dead proxy and offline hubs: the checkpoint must come from the wheel (`unshare -n` is stricter)
    env = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "NO_PROXY": "*",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    subprocess.run(cmd, check=True, env=env)
    speed = json.loads((tmp_path / "out" / "speed.json").read_text())
    assert speed["files"] == 1 and speed["audio_s"] == pytest.approx(4.0, abs=0.01) and speed["wall_s"] > 0
    midi = pretty_midi.PrettyMIDI(str(tmp_path / "out" / "triad.mid"))
    assert len(midi.instruments) == 1
    subprocess.run(cmd, check=True, env=env)  # cached: the second run does not transcribe
    again = json.loads((tmp_path / "out" / "speed.json").read_text())
    assert again["per_file"][0]["cached"] and again["model_load_s"] == 0.0
