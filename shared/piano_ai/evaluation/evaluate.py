"""Score a folder of recordings against their reference MIDI files.

A folder holds pairs <stem>.<audio ext> + <stem>.mid (or .midi). Reference notes follow the sustain pedal
(MAESTRO's convention) unless told otherwise. Estimates come from our model, or from a folder of MIDI files
another transcriber wrote (<stem>.mid), so every system is scored by the same code.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from piano_ai.constants import SUPPORTED_FORMATS
from piano_ai.evaluation.metrics import Counts, count_matches
from piano_ai.types import Note

log = logging.getLogger(__name__)
AUDIO_EXTENSIONS = tuple("." + ext for ext in SUPPORTED_FORMATS)

Estimator = Callable[[Path], list[Note]]


@dataclass
class Report:
    """Per-file and note-weighted (summed counts) scores."""

    per_file: dict[str, dict[str, dict[str, float]]]
    total: Counts

    def summary(self) -> dict[str, dict[str, float]]:
        return self.total.scores()

    def mean_per_file(self) -> dict[str, float]:
        """F1 of each metric averaged over files (each file counts once)."""
        metrics = next(iter(self.per_file.values())).keys() if self.per_file else []
        n = max(len(self.per_file), 1)
        return {m: sum(s[m]["f1"] for s in self.per_file.values()) / n for m in metrics}

    def to_json(self) -> str:
        return json.dumps(
            {
                "note_weighted": self.summary(),
                "mean_per_file_f1": self.mean_per_file(),
                "files": self.per_file,
                "n_files": len(self.per_file),
            },
            indent=2,
        )


def pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(audio, reference MIDI) pairs in a folder, by shared stem, sorted."""
    found = []
    for audio in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS):
        for ext in (".mid", ".midi"):
            midi = audio.with_suffix(ext)
            if midi.exists():
                found.append((audio, midi))
                break
    return found


def reference_notes(midi_path: Path, pedal: bool = True) -> list[Note]:
    """Reference notes of a MIDI file, extended by the sustain pedal when ``pedal``."""
    import pretty_midi

    from piano_ai.data.targets import pedal_extended_notes
    from piano_ai.midi_io import midi_to_notes

    return pedal_extended_notes(pretty_midi.PrettyMIDI(str(midi_path))) if pedal else midi_to_notes(midi_path)


def evaluate(folder: Path, estimate: Estimator, pedal: bool = True, limit: int = 0) -> Report:
    """Score ``estimate`` on every pair in ``folder`` (at most ``limit`` when > 0)."""
    found = pairs(folder)[: limit or None]
    if not found:
        raise FileNotFoundError(f"{folder}: no <stem>.<audio> + <stem>.mid pairs found")
    total = Counts({}, {}, {})
    per_file = {}
    for audio, midi in found:
        counts = count_matches(reference_notes(midi, pedal), estimate(audio))
        per_file[audio.name] = counts.scores()
        total = total + counts
        log.info("%s onset F1 %.3f", audio.name, per_file[audio.name]["onset"]["f1"])
    return Report(per_file, total)


def model_estimator(model, params=None) -> Estimator:  # noqa: ANN001 - a piano_ai.inference.Transcriber
    """Estimates from our model."""
    from piano_ai.transcribe import transcribe_file

    return lambda audio: transcribe_file(audio, model, params)


def folder_estimator(predictions: Path) -> Estimator:
    """Estimates read from <predictions>/<stem>.mid written by another transcriber."""
    from piano_ai.midi_io import midi_to_notes

    def estimate(audio: Path) -> list[Note]:
        path = predictions / (audio.stem + ".mid")
        return midi_to_notes(path) if path.exists() else []

    return estimate


def markdown_table(rows: dict[str, Report]) -> str:
    """One row per system: note-weighted onset / offset / velocity / frame F1."""
    lines = ["| system | onset F1 | onset+offset F1 | +velocity F1 | frame F1 |", "|---|---|---|---|---|"]
    for name, report in rows.items():
        s = report.summary()
        lines.append(
            f"| {name} | "
            + " | ".join(f"{s[m]['f1']:.3f}" for m in ("onset", "offset", "velocity", "frame"))
            + " |"
        )
    return "\n".join(lines)
