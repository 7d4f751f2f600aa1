"""Score a folder of recordings against their reference MIDI files.

A folder holds pairs <stem>.<audio ext> + <stem>.mid (or .midi). Reference notes follow the sustain pedal
(MAESTRO's convention) unless told otherwise. Estimates come from our model, or from a folder of MIDI files
another transcriber wrote (<stem>.mid), so every system is scored by the same code; a MIDI estimate that
writes CC64 is extended by its own pedal the same way before it meets pedal-extended truth. With
``pedal_metrics`` a reference that carries CC64 is also scored at key release and for the pedal itself
(piano_ai.evaluation.pedal).
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from piano_ai.constants import SUPPORTED_FORMATS
from piano_ai.evaluation.metrics import METRICS, Counts, count_matches
from piano_ai.evaluation.pedal import PEDAL_METRICS, Intervals, pedal_counts, release_counts, sustain
from piano_ai.types import Note

if TYPE_CHECKING:
    from piano_ai.transcribe import Transcript

log = logging.getLogger(__name__)
AUDIO_EXTENSIONS = tuple("." + ext for ext in SUPPORTED_FORMATS)


@dataclass(frozen=True)
class Transcription:
    """What a system wrote for one recording, as far as scoring needs it."""

    notes: list[Note]  # scored against the reference (pedal-extended by default)
    key_notes: list[Note] | None = None  # ending at key release, when the system tells that apart
    sustain: Intervals | None = None  # (down, up) s of its sustain pedal, when it writes CC64


Estimator = Callable[[Path], "list[Note] | Transcription"]


@dataclass
class Report:
    """Per-file and note-weighted (summed counts) scores."""

    per_file: dict[str, dict[str, dict[str, float]]]
    total: Counts

    def summary(self) -> dict[str, dict[str, float]]:
        return self.total.scores()

    def mean_per_file(self) -> dict[str, float]:
        """F1 of each metric averaged over the files that score it (each file counts once)."""
        metrics = dict.fromkeys(m for s in self.per_file.values() for m in s)
        scored = {m: [s[m]["f1"] for s in self.per_file.values() if m in s] for m in metrics}
        return {m: sum(f1) / len(f1) for m, f1 in scored.items()}

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
    return _notes(read_midi(midi_path), pedal)


def _notes(midi, pedal: bool) -> list[Note]:  # noqa: ANN001 - a pretty_midi.PrettyMIDI
    from piano_ai.data.targets import pedal_extended_notes
    from piano_ai.midi_io import midi_notes

    return pedal_extended_notes(midi) if pedal else midi_notes(midi)


def read_midi(path: Path):  # noqa: ANN201 - a pretty_midi.PrettyMIDI
    import pretty_midi

    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # pretty_midi/mido raise many types for a bad file
        raise ValueError(f"{path}: not a readable MIDI file ({exc})") from exc


def evaluate(
    folder: Path, estimate: Estimator, pedal: bool = True, limit: int = 0, pedal_metrics: bool = False
) -> Report:
    """Score ``estimate`` on every pair in ``folder`` (at most ``limit`` when > 0).

    With ``pedal_metrics``, files whose reference writes CC64 are also scored for ``release_offset`` and,
    when the estimate writes CC64 too, ``pedal_frame`` (piano_ai.evaluation.pedal); other files lack them.
    """
    found = pairs(folder)[: limit or None]
    if not found:
        raise FileNotFoundError(f"{folder}: no <stem>.<audio> + <stem>.mid pairs found")
    total = Counts({}, {}, {})
    per_file = {}
    for audio, midi_path in found:
        midi = read_midi(midi_path)
        est = estimate(audio)
        est = est if isinstance(est, Transcription) else Transcription(est)
        ref = _notes(midi, pedal)
        counts = count_matches(ref, est.notes)
        ref_sustain = sustain(midi) if pedal_metrics else None
        if ref_sustain is not None:
            key_notes = est.notes if est.key_notes is None else est.key_notes
            counts = counts + release_counts(_notes(midi, False), key_notes)
            if est.sustain is not None:
                end_s = max([n.end for n in ref + est.notes] + [0.0])
                counts = counts + pedal_counts(ref_sustain, est.sustain, end_s)
        per_file[audio.name] = counts.scores()
        total = total + counts
        log.info("%s onset F1 %.3f", audio.name, per_file[audio.name]["onset"]["f1"])
    return Report(per_file, total)


def model_estimator(model, params=None, pedal: bool = True) -> Estimator:  # noqa: ANN001 - a Transcriber
    """Estimates from our model. With a pedal head, its notes are extended by its own pedal (as
    folder_estimator does with another system's CC64) unless ``pedal`` is off, and the pedal is scored."""
    from dataclasses import replace

    from piano_ai.audio import decode
    from piano_ai.transcribe import transcript
    from piano_ai.types import NoteParams

    params = replace(params or NoteParams(), pedal="cc64")

    def estimate(audio: Path) -> Transcription:
        return scored(transcript(decode(audio), model, params), pedal)

    return estimate


def scored(result: "Transcript", pedal: bool = True) -> Transcription:
    """What is scored of our transcript (decoded with pedal "cc64"): with a pedal head, its notes extended
    by its own pedal unless ``pedal`` is off, its key-release notes and its pedal."""
    from piano_ai.pedal import extend_notes

    if result.activations.pedal is None:
        return Transcription(result.notes)
    notes = extend_notes(result.notes, result.sustain) if pedal else result.notes
    return Transcription(notes, result.notes, result.sustain)


def folder_estimator(predictions: Path, pedal: bool = True) -> Estimator:
    """Estimates read from <predictions>/<stem>.mid written by another transcriber (none if it is missing).

    When a file writes the sustain pedal (CC64) and ``pedal`` is on (the default), its notes are extended
    by its own pedal with the rule the reference follows (piano_ai.data.targets.pedal_extended_notes), so
    a system whose notes end at key release is scored like one that writes sounding notes. Files without
    CC64 are read as they are, either way.
    """

    def estimate(audio: Path) -> Transcription:
        path = predictions / (audio.stem + ".mid")
        if not path.exists():
            return Transcription([])
        midi = read_midi(path)
        key_notes, its_sustain = _notes(midi, False), sustain(midi)
        notes = _notes(midi, True) if pedal and its_sustain is not None else key_notes
        return Transcription(notes, key_notes, its_sustain)

    return estimate


def markdown_table(rows: dict[str, Report]) -> str:
    """One row per system: note-weighted onset / offset / velocity / frame F1, then any pedal metrics."""
    titles = {
        "onset": "onset F1",
        "offset": "onset+offset F1",
        "velocity": "+velocity F1",
        "frame": "frame F1",
        "release_offset": "onset+offset F1 at key release",
        "pedal_frame": "pedal frame F1",
    }
    scored = [m for m in PEDAL_METRICS if any(r.total.n_ref.get(m) for r in rows.values())]
    metrics = [*METRICS, *scored]
    lines = [
        "| system | " + " | ".join(titles[m] for m in metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for name, report in rows.items():
        s = report.summary()
        cells = [f"{s[m]['f1']:.3f}" if m in s else "-" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
