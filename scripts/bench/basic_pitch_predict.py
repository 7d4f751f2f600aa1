"""Transcribe a folder with Spotify's Basic Pitch at every point of a threshold grid.

Runs in the benchmark-only environment .venv-bp (scripts/bench/setup_basic_pitch.sh), not in ours:

    .venv-bp/bin/python scripts/bench/basic_pitch_predict.py data/eval/v1 --out data/eval/v1-basic-pitch

The model (its ONNX export, saved_models/icassp_2022/nmp.onnx) runs once per audio file; its note creation
(melodia trick on, as by default) then runs for every (onset, frame, minimum note length) setting and writes
OUT/<onset>-<frame>-<min note ms>/<stem>.mid. The speed (audio seconds per wall second, model load excluded)
is printed and written to OUT/speed.json.
"""

import argparse
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from threshold_grid import Setting, grid  # scripts/bench/, on sys.path when run as a script

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
DEFAULT_SETTING = Setting(0.5, 0.3, 127.7)  # basic_pitch.inference.predict's defaults


def load_model():  # noqa: ANN201 - basic_pitch.inference.Model, imported lazily
    """Basic Pitch's ONNX model, loaded once."""
    logging.disable(logging.WARNING)  # its __init__ warns about every runtime that is not installed
    from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
    from basic_pitch.inference import Model

    logging.disable(logging.NOTSET)
    return Model(build_icassp_2022_model_path(FilenameSuffix.onnx))


def warm_up(model, out: Path) -> float:  # noqa: ANN001 - basic_pitch.inference.Model
    """One untimed call on 2 s of silence (first-call costs: session setup, decoder and resampler)."""
    import numpy as np
    import soundfile as sf
    from basic_pitch.inference import run_inference

    out.mkdir(parents=True, exist_ok=True)
    silence = out / "warmup-silence.wav"
    sf.write(str(silence), np.zeros(32000, np.float32), 16000)
    t0 = time.perf_counter()
    run_inference(silence, model)
    silence.unlink()
    return time.perf_counter() - t0


def min_note_frames(min_note_ms: float) -> int:
    """Milliseconds to Basic Pitch model frames, rounded as basic_pitch.inference.predict does."""
    from basic_pitch.constants import AUDIO_SAMPLE_RATE, FFT_HOP

    return int(round(min_note_ms / 1000 * (AUDIO_SAMPLE_RATE / FFT_HOP)))


def notes_midi(output: dict, setting: Setting):  # noqa: ANN201 - pretty_midi.PrettyMIDI
    """Basic Pitch's note creation for one setting; the model output is copied, never changed."""
    from basic_pitch.note_creation import model_output_to_notes

    midi, _ = model_output_to_notes(
        {k: v.copy() for k, v in output.items()},
        onset_thresh=setting.onset_threshold,
        frame_thresh=setting.frame_threshold,
        min_note_len=min_note_frames(setting.min_note_ms),
        melodia_trick=True,
    )
    return midi


def transcribe_folder(folder: Path, out: Path, settings: list[Setting], limit: int = 0) -> dict:
    """Write OUT/<setting>/<stem>.mid for every audio file; returns the timing report."""
    import soundfile as sf

    audio_files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)[: limit or None]
    if not audio_files:
        raise SystemExit(f"{folder}: no audio files")
    t0 = time.perf_counter()
    model = load_model()
    load_s = time.perf_counter() - t0
    from basic_pitch.inference import run_inference  # after load_model, which silences its import

    warmup_s = warm_up(model, out)
    for setting in settings:
        (out / setting.name).mkdir(parents=True, exist_ok=True)
    audio_s = inference_s = default_notes_s = grid_notes_s = 0.0
    for i, path in enumerate(audio_files, 1):
        audio_s += sf.info(str(path)).duration
        t0 = time.perf_counter()
        output = run_inference(path, model)  # decode + resample to 22.05 kHz + model
        inference_s += time.perf_counter() - t0
        for setting in settings:
            t0 = time.perf_counter()
            notes_midi(output, setting).write(str(out / setting.name / f"{path.stem}.mid"))
            spent = time.perf_counter() - t0
            grid_notes_s += spent
            if setting == DEFAULT_SETTING:
                default_notes_s += spent
        print(f"[{i}/{len(audio_files)}] {path.name}", file=sys.stderr, flush=True)
    if DEFAULT_SETTING not in settings:  # time its default once more, so the speed is a real conversion's
        default_notes_s = grid_notes_s / len(settings)
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "files": len(audio_files),
        "audio_s": audio_s,
        "model_load_s": load_s,
        "warmup_s": warmup_s,
        "inference_s": inference_s,
        "note_creation_default_s": default_notes_s,
        "note_creation_grid_s": grid_notes_s,
        "settings": [s.name for s in settings],
        # decode + model + note creation + MIDI at the default thresholds: what one conversion costs
        "realtime_factor": audio_s / (inference_s + default_notes_s),
        "realtime_factor_model_only": audio_s / inference_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of audio files (.wav/.flac/.mp3/.ogg/.m4a)")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT/<setting>/<stem>.mid")
    parser.add_argument("--limit", type=int, default=0, help="only the first N audio files (sorted)")
    parser.add_argument(
        "--default-only", action="store_true", help="only its default setting (a plain conversion's speed)"
    )
    args = parser.parse_args(argv)
    settings = [DEFAULT_SETTING] if args.default_only else grid()
    report = transcribe_folder(args.folder, args.out, settings, args.limit)
    (args.out / "speed.json").write_text(json.dumps(report, indent=2))
    print(
        f"Basic Pitch: {report['audio_s']:.1f} s of audio in {report['files']} files; "
        f"model load {report['model_load_s']:.2f} s + warm-up {report['warmup_s']:.2f} s (excluded); "
        f"decode+model {report['inference_s']:.1f} s "
        f"({report['realtime_factor_model_only']:.1f}x real time); "
        f"with note creation at its defaults {report['realtime_factor']:.1f}x real time; "
        f"note creation for all {len(report['settings'])} settings {report['note_creation_grid_s']:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
