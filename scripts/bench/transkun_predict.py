"""Transcribe audio files with Transkun V2, caching every output by the file's content.

Runs in the benchmark-only environment .venv-transkun (scripts/bench/setup_transkun.sh), not in ours:

    .venv-transkun/bin/python scripts/bench/transkun_predict.py data/eval/v2 --out data/eval/v2-transkun

Arguments are audio files or folders of them. Transkun runs below real time on 2 CPU cores, so each output is
kept in --cache (default data/cache/transkun/) under the sha256 of the audio file's bytes and the transkun
version, with the seconds it took; a rerun, or a run killed half way, starts where the cache ends. OUT gets
<stem>.mid for every file and speed.json (per-file wall and CPU seconds when it was transcribed; the model
load is once per run and not in them). Transkun's MIDI has notes ending at key release plus CC64 (sustain)
and CC67 (soft pedal), exactly as its own CLI writes it (`transkun IN OUT --device cpu`).
"""

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CACHE = ROOT / "data" / "cache" / "transkun"


def transkun_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("transkun")


def audio_files(paths: list[Path]) -> list[Path]:
    """Audio files named, and those inside named folders (sorted); the order is kept, duplicates dropped."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
        elif path.exists():
            found.append(path)
        else:
            raise SystemExit(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


def cache_key(path: Path, version: str) -> str:
    """sha256 of the file's bytes (hex) plus the transkun version: the same audio is transcribed once."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{digest.hexdigest()}-transkun{version}"


def load_model(device: str = "cpu"):  # noqa: ANN201 - a transkun.ModelTransformer.TransKun, imported lazily
    """Transkun V2 with the checkpoint its wheel bundles (transkun/pretrained/2.0.pt), as its CLI loads it."""
    import importlib.resources

    import moduleconf
    import torch

    pretrained = importlib.resources.files("transkun") / "pretrained"
    conf_manager = moduleconf.parseFromFile(str(pretrained / "2.0.conf"))
    model = conf_manager["Model"].module.TransKun(conf=conf_manager["Model"].config).to(device)
    checkpoint = torch.load(str(pretrained / "2.0.pt"), map_location=device)
    model.load_state_dict(checkpoint.get("best_state_dict", checkpoint.get("state_dict")), strict=False)
    model.eval()
    torch.set_grad_enabled(False)
    return model


def transcriber(device: str = "cpu") -> Callable[[Path, Path], float]:
    """(audio in, MIDI out) -> audio seconds: transkun.transcribe's steps, in this process."""
    import soxr
    import torch
    from transkun.Data import writeMidi
    from transkun.transcribe import readAudio

    model = load_model(device)

    def transcribe(audio_path: Path, midi_path: Path) -> float:
        fs, audio = readAudio(str(audio_path))  # (samples, channels) float32, via pydub/ffmpeg as its CLI
        if fs != model.fs:
            audio = soxr.resample(audio, fs, model.fs)
        notes = model.transcribe(torch.from_numpy(audio).to(device), discardSecondHalf=False)
        writeMidi(notes).write(str(midi_path))
        return len(audio) / model.fs

    return transcribe


def cached_or_transcribe(
    path: Path, cache: Path, version: str, transcribe: Callable[[Path, Path], float] | None
) -> dict | None:
    """The cache entry for ``path`` ({mid, audio_s, wall_s, cpu_s, ...}), transcribing it first when absent.

    With ``transcribe`` None (no model loaded yet) a missing entry returns None. Entries are written to a
    temporary name and renamed, so a run killed mid-file leaves no half entry.
    """
    key = cache_key(path, version)
    mid, meta = cache / f"{key}.mid", cache / f"{key}.json"
    if mid.exists() and meta.exists():
        return {**json.loads(meta.read_text()), "mid": str(mid), "cached": True}
    if transcribe is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    tmp_mid = cache / f"{key}.tmp.mid"
    wall0, cpu0 = time.perf_counter(), time.process_time()
    audio_s = transcribe(path, tmp_mid)
    entry = {
        "source": path.name,
        "audio_s": audio_s,
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0,
        "transcribed_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "transkun": version,
    }
    tmp_mid.rename(mid)
    tmp_meta = cache / f"{key}.tmp.json"
    tmp_meta.write_text(json.dumps(entry, indent=1) + "\n")
    tmp_meta.rename(meta)
    return {**entry, "mid": str(mid), "cached": False}


def predict(
    files: list[Path],
    out: Path,
    cache: Path,
    version: str,
    make_transcriber: Callable[[], Callable[[Path, Path], float]],
) -> dict:
    """OUT/<stem>.mid for every file, from the cache or transcribed now; returns the speed report.

    The model is loaded (``make_transcriber``) only when some file is not cached.
    """
    out.mkdir(parents=True, exist_ok=True)
    transcribe, load_s, per_file = None, 0.0, []
    for i, path in enumerate(files, 1):
        entry = cached_or_transcribe(path, cache, version, transcribe)
        if entry is None:
            t0 = time.perf_counter()
            transcribe = make_transcriber()
            load_s = time.perf_counter() - t0
            entry = cached_or_transcribe(path, cache, version, transcribe)
        assert entry is not None
        shutil.copyfile(entry["mid"], out / f"{path.stem}.mid")
        per_file.append(
            {"file": path.name, **{k: entry[k] for k in ("audio_s", "wall_s", "cpu_s", "cached")}}
        )
        print(
            f"[{i}/{len(files)}] {path.name}: {entry['audio_s']:.1f} s of audio in {entry['wall_s']:.1f} s"
            + (" (cached)" if entry["cached"] else ""),
            file=sys.stderr,
            flush=True,
        )
    return speed_report(per_file, version, load_s)


def speed_report(per_file: list[dict], version: str, model_load_s: float) -> dict:
    """Totals over the files: seconds per file and audio seconds per wall second (model load excluded)."""
    audio_s = sum(f["audio_s"] for f in per_file)
    wall_s = sum(f["wall_s"] for f in per_file)
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "transkun": version,
        "files": len(per_file),
        "audio_s": audio_s,
        "wall_s": wall_s,
        "cpu_s": sum(f["cpu_s"] for f in per_file),
        "seconds_per_file": wall_s / len(per_file) if per_file else 0.0,
        "realtime_factor": audio_s / wall_s if wall_s else 0.0,
        "model_load_s": model_load_s,
        "per_file": per_file,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", type=Path, nargs="+", help="audio files or folders of them")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT/<stem>.mid and OUT/speed.json")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"default: {DEFAULT_CACHE}")
    parser.add_argument("--limit", type=int, default=0, help="only the first N audio files")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    files = audio_files(args.inputs)[: args.limit or None]
    if not files:
        raise SystemExit(f"{', '.join(map(str, args.inputs))}: no audio files")
    report = predict(files, args.out, args.cache, transkun_version(), lambda: transcriber(args.device))
    (args.out / "speed.json").write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"Transkun {report['transkun']}: {report['audio_s']:.1f} s of audio in {report['files']} files, "
        f"{report['seconds_per_file']:.1f} s per file ({report['realtime_factor']:.2f}x real time)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
