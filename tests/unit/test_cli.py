"""The `piano-ai` CLI: a fast --help, the command router, and convert's per-file error handling."""

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from piano_ai import cli
from piano_ai.constants import N_KEYS, SAMPLE_RATE, SECONDS_PER_FRAME
from piano_ai.midi_io import midi_to_notes
from piano_ai.types import Activations

HEAVY_MODULES = ("tensorflow", "keras", "onnxruntime", "librosa", "scipy", "torch", "pretty_midi", "tqdm")
SHOW_IMPORTS = """
import json, sys
from piano_ai.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


def run_python(
    code: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )


def settings_free_env() -> dict[str, str]:
    """This process's environment without the PIANO_AI_ variables that choose a model or runtime."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("PIANO_AI_")}


def command_names() -> list[str]:
    return [m.__name__.rsplit(".", 1)[-1] for m in cli.available_commands()]


@pytest.mark.parametrize("argv", [["--help"], *[[name, "--help"] for name in command_names()]])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    result = run_python(SHOW_IMPORTS.format(heavy=set(HEAVY_MODULES)), *argv)
    assert result.returncode == 0, result.stderr
    assert "usage: piano-ai" in result.stdout
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_help_is_fast() -> None:
    script = Path(sys.executable).with_name("piano-ai")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "piano_ai.cli"]
    started = time.perf_counter()
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0 and "convert" in result.stdout
    assert elapsed < 2.0  # ~0.1 s idle; generous for a busy machine, far below a TensorFlow import


def test_a_conversion_imports_only_what_it_runs(tmp_path: Path) -> None:
    """The model runs on ONNX Runtime and the features on ducc0's FFT: no training stack, no librosa and no
    scipy (scipy.signal / scipy.stats cost every conversion about a second of start-up, scipy.fft and
    scipy.sparse 0.16 s)."""
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    heavy = {"tensorflow", "keras", "librosa", "torch", "scipy", "pydantic", "pydantic_settings"}
    code = SHOW_IMPORTS.format(heavy=heavy)
    argv = ["convert", str(audio), "-o", str(tmp_path), "-q"]
    result = run_python(code, *argv, cwd=tmp_path, env=settings_free_env())
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert (tmp_path / "a.mid").exists()
    assert loaded == []  # no settings: nothing sets the model


@pytest.mark.parametrize("where", ["environment", "lower-case environment", ".env file"])
def test_a_conversion_reads_the_runtime_from_the_settings_where_one_may_be_set(
    tmp_path: Path, where: str
) -> None:
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    env = settings_free_env()
    if where == ".env file":
        (tmp_path / ".env").write_text("PIANO_AI_RUNTIME=no-such-runtime\n")
    else:
        env["PIANO_AI_RUNTIME" if where == "environment" else "piano_ai_runtime"] = "no-such-runtime"
    argv = ["convert", str(audio), "-o", str(tmp_path)]
    result = run_python(SHOW_IMPORTS.format(heavy=set()), *argv, cwd=tmp_path, env=env)
    assert "unknown runtime 'no-such-runtime'" in result.stderr, result.stderr
    assert not (tmp_path / "a.mid").exists()


def test_version_is_looked_up_when_asked() -> None:
    result = run_python(SHOW_IMPORTS.format(heavy={"importlib"}), "--version")
    assert re.fullmatch(r"piano-ai \S+", result.stdout.splitlines()[0]), result.stdout
    result = run_python(SHOW_IMPORTS.format(heavy={"importlib"}), "--help")
    assert "importlib.metadata" not in json.loads(result.stdout.splitlines()[-1])


def test_missing_command_modules_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMANDS", ("convert", "no_such_command"))
    parser = cli.build_parser()
    assert "convert" in parser.format_help() and "no_such_command" not in parser.format_help()


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: piano-ai" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--onset-threshold", "1.5", "onset_threshold must be between 0 and 1"),
        ("--frame-threshold", "0", "frame_threshold must be between 0 and 1"),
        ("--min-note-ms", "-5", "min_note_ms must be between 0 and 5000"),
    ],
)
def test_bad_option_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    assert cli.main(["convert", "x.wav", "-o", str(tmp_path), option, value]) == 2
    assert message in capsys.readouterr().err


def test_missing_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["convert", "x.wav", "-o", str(tmp_path), "--model", str(tmp_path / "nope")]) == 2
    assert f"no model at {tmp_path / 'nope'}" in capsys.readouterr().err


def test_non_numeric_option_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["convert", "x.wav", "-o", str(tmp_path), "--onset-threshold", "high"])
    assert info.value.code == 2


class OneNoteModel:
    """Stands in for a Transcriber: middle C from 0.32 s to 0.64 s, whatever the input."""

    run = None  # never called: stream() stands in for the model's calls
    batch_size = 8

    def with_run(self, run: object, batch_size: int | None = None) -> "OneNoteModel":
        return self

    def predict(self, mel: np.ndarray, progress: object = None) -> Activations:
        heads = {h: np.zeros((mel.shape[0], N_KEYS), np.float32) for h in ("onset", "frame", "offset")}
        heads["onset"][10, 39] = 0.9
        heads["frame"][10:21, 39] = 0.9
        return Activations(**heads, velocity=np.full((mel.shape[0], N_KEYS), 0.5, np.float32))

    def stream(self, mel_blocks: Iterable[np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        """The same activations in one block, as Transcriber.stream gives them (convert streams)."""
        yield dataclasses.asdict(self.predict(np.concatenate(list(mel_blocks))))


def write_tone(path: Path, seconds: float = 1.0) -> Path:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(path, (0.3 * np.sin(2 * np.pi * 261.6 * t) * np.exp(-3 * t)).astype(np.float32), SAMPLE_RATE)
    return path


def test_convert_reports_failures_and_converts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import piano_ai.inference

    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: OneNoteModel())
    good = write_tone(tmp_path / "good.wav")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    out = tmp_path / "out"
    argv = ["convert", str(tmp_path / "missing.wav"), str(good), str(bad), "-o", str(out), "--csv", "--json"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"piano-ai: {tmp_path / 'missing.wav'}: no such file" in err
    assert f"piano-ai: {bad}: file is not decodable audio" in err
    assert "2 of 3 files failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["good.csv", "good.json", "good.mid"]
    (note,) = midi_to_notes(out / "good.mid")
    assert (note.pitch, note.velocity) == (60, 64)
    assert note.start == pytest.approx(0.32, abs=1e-3) and note.end == pytest.approx(0.64, abs=1e-3)


def test_convert_all_good_returns_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import piano_ai.inference

    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: OneNoteModel())
    sources = [str(write_tone(tmp_path / f"take{i}.wav")) for i in range(2)]
    assert cli.main(["convert", *sources, "-o", str(tmp_path / "out"), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["take0.mid", "take1.mid"]


@pytest.mark.slow
def test_convert_with_the_shipped_model(tmp_path: Path) -> None:
    """The real thing, in a subprocess: model loaded, one file missing, the good one still written."""
    good = write_tone(tmp_path / "tone.wav", seconds=3.0)
    out = tmp_path / "out"
    code = "import sys; from piano_ai.cli import main; sys.exit(main(sys.argv[1:]))"
    result = run_python(code, "convert", str(tmp_path / "gone.mp3"), str(good), "-o", str(out), "--json")
    assert result.returncode == 1, result.stderr
    assert f"piano-ai: {tmp_path / 'gone.mp3'}: no such file" in result.stderr
    assert (out / "tone.mid").is_file() and (out / "tone.json").is_file()
    midi_to_notes(out / "tone.mid")  # a readable MIDI file, whatever the model heard


def test_convert_help_states_the_note_params_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    from piano_ai.types import NoteParams

    with pytest.raises(SystemExit):
        cli.main(["convert", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    default = NoteParams()
    for option, value in (
        ("--onset-threshold", default.onset_threshold),
        ("--frame-threshold", default.frame_threshold),
        ("--offset-threshold", default.offset_threshold),
        ("--min-note-ms", default.min_note_ms),
    ):
        stated = re.search(re.escape(option) + r" \S+ [^(]*\(([\d.]+)\)", help_text)
        assert stated and float(stated.group(1)) == value, option


def test_inputs_sharing_a_stem_are_refused_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import piano_ai.inference

    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: OneNoteModel())
    wav, flac = write_tone(tmp_path / "a.wav"), write_tone(tmp_path / "a.flac")
    assert cli.main(["convert", str(wav), str(flac), "-o", str(tmp_path / "out"), "-q"]) == 1
    assert "--keep-extension keeps both" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mid"]


def test_keep_extension_keeps_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import piano_ai.inference

    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: OneNoteModel())
    wav, flac = write_tone(tmp_path / "a.wav"), write_tone(tmp_path / "a.flac")
    argv = ["convert", str(wav), str(flac), "-o", str(tmp_path / "out"), "--keep-extension", "--csv", "-q"]
    assert cli.main(argv) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["a.flac.csv", "a.flac.mid", "a.wav.csv", "a.wav.mid"]


def test_convert_save_activations_then_decode_with_other_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """convert --save-activations keeps the model's outputs; decode turns them into notes again offline."""
    import piano_ai.inference

    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: OneNoteModel())
    take = write_tone(tmp_path / "take.wav")
    out = tmp_path / "out"
    assert cli.main(["convert", str(take), "-o", str(out), "--save-activations", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["take.activations.npz", "take.mid"]

    def loads(raising: object) -> None:
        raise AssertionError("decode loaded a model")

    monkeypatch.setattr(piano_ai.inference, "load_transcriber", loads)
    again = tmp_path / "again"
    saved = str(out / "take.activations.npz")
    assert cli.main(["decode", saved, "-o", str(again), "--json"]) == 0
    assert sorted(p.name for p in again.iterdir()) == ["take.json", "take.mid"]
    assert midi_to_notes(again / "take.mid") == midi_to_notes(out / "take.mid")  # same thresholds
    assert f"{again / 'take.mid'}  (1 notes)" in capsys.readouterr().out
    strict = tmp_path / "strict"
    assert cli.main(["decode", saved, "-o", str(strict), "--min-note-ms", "1000"]) == 0
    assert midi_to_notes(strict / "take.mid") == []  # the note lasts 0.32 s: none of a second or more
    assert f"{strict / 'take.mid'}  (0 notes)" in capsys.readouterr().out
    for threshold, frames in (("0.3", 10), ("0.95", 1)):  # by the rule, the frame threshold ends the note
        ruled = tmp_path / f"rule-{threshold}"
        argv = ["decode", saved, "-o", str(ruled), "--ends", "rule", "--frame-threshold", threshold]
        assert cli.main(argv) == 0
        (note,) = midi_to_notes(ruled / "take.mid")
        assert note.end - note.start == pytest.approx(frames * SECONDS_PER_FRAME, abs=0.002)


def test_decode_reports_a_bad_file_and_decodes_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from piano_ai import activations
    from piano_ai.commands import decode

    assert decode.SUFFIX == activations.SUFFIX
    good = activations.save(
        OneNoteModel().predict(np.zeros((40, 229), np.float32)), tmp_path / "a.activations.npz"
    )
    bad = tmp_path / "b.activations.npz"
    bad.write_bytes(b"not an npz")
    argv = [
        "decode",
        str(bad),
        str(good),
        str(tmp_path / "gone.activations.npz"),
        "-o",
        str(tmp_path / "out"),
    ]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"piano-ai: {bad}: not a piano-ai activations file" in err
    assert f"piano-ai: {tmp_path / 'gone.activations.npz'}: cannot read" in err
    assert "2 of 3 files failed" in err
    assert [n.pitch for n in midi_to_notes(tmp_path / "out" / "a.mid")] == [60]


def test_a_failed_input_leaves_its_output_name_to_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import piano_ai.inference

    monkeypatch.setattr(piano_ai.inference, "load_transcriber", lambda *a, **k: OneNoteModel())
    bad, flac = tmp_path / "a.wav", write_tone(tmp_path / "a.flac")
    bad.write_text("not audio")
    assert cli.main(["convert", str(bad), str(flac), "-o", str(tmp_path / "out"), "-q"]) == 1
    assert "1 of 2 files failed" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mid"]


def test_files_at_once_must_be_at_least_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["convert", "x.wav", "-o", str(tmp_path), "--files-at-once", "0"])
    assert info.value.code == 2
    assert "--files-at-once: must be at least 1, not 0" in capsys.readouterr().err
