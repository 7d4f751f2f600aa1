"""The "## Accuracy vs Basic Pitch" section of docs/benchmarks.md: the table and the text around it.

Pure functions of the scores (no piano_ai imports), so the layout is tested without a model.
"""

import re
from dataclasses import dataclass
from typing import Any

SECTION = "## Accuracy vs Basic Pitch"
METRICS = ("onset", "offset", "velocity", "frame")
BAR_ONSET_F1 = 0.92  # issue 3's bar: our onset F1 on the validation split...
BAR_MARGIN = 0.05  # ...and at least this much above Basic Pitch's best thresholds


@dataclass
class Row:
    """One system in the table: a label, its Report (piano_ai.evaluation.evaluate), and a remark."""

    system: str
    report: Any  # piano_ai.evaluation.evaluate.Report
    note: str = ""  # "default", "best", "its defaults", "best of the grid"
    seconds_per_file: float | None = None  # wall s of one conversion, model load excluded; None: not timed

    def f1(self, metric: str) -> float:
        return self.report.summary()[metric]["f1"]


def table(rows: list[Row]) -> str:
    """Markdown table of note-weighted F1 and wall seconds per file; rows noted "best" are bold."""
    lines = [
        "| system | onset F1 | onset+offset F1 | +velocity F1 | frame F1 | n files | s per file |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        bold = "**" if "best" in row.note else ""
        name = row.system + (f" ({row.note})" if row.note else "")
        cells = [f"{bold}{row.f1(m):.3f}{bold}" for m in METRICS]
        seconds = "-" if row.seconds_per_file is None else f"{row.seconds_per_file:.3g}"
        lines.append(
            f"| {bold}{name}{bold} | " + " | ".join(cells) + f" | {len(row.report.per_file)} | {seconds} |"
        )
    return "\n".join(lines)


def margin_line(rows: list[Row]) -> str:
    """Our best onset F1 against Basic Pitch's best, and against issue 3's bar."""
    ours = [r for r in rows if r.system.startswith("piano-ai") and "best" in r.note]
    theirs = [r for r in rows if r.system.startswith("Basic Pitch") and "best" in r.note]
    if not ours or not theirs:
        return ""
    ours_f1, theirs_f1 = ours[0].f1("onset"), theirs[0].f1("onset")
    met = ours_f1 >= BAR_ONSET_F1 and ours_f1 - theirs_f1 >= BAR_MARGIN
    return (
        f"Onset F1, our best minus Basic Pitch's best: {ours_f1 - theirs_f1:+.3f} "
        f"(the bar: >= {BAR_ONSET_F1:.2f} and >= +{BAR_MARGIN:.2f}; {'met' if met else 'not met'})."
    )


def edge_note(edges: list[str]) -> str:
    """A warning when Basic Pitch's best setting lies on the grid's edge."""
    if not edges:
        return ""
    names = " and ".join(e.replace("_", " ") for e in edges)
    return (
        f" Basic Pitch's best is at the edge of the grid ({names}), so a wider grid might raise it a little."
    )


def speed_line(context: dict[str, Any]) -> str:
    """Real-time factors measured during the run (a side note; `make bench` is the speed benchmark)."""
    parts = [f"{label} {s['realtime_factor']:.0f}x" for label, s in context.get("our_speed", {}).items()]
    bp = context.get("basic_pitch_speed")
    if bp:
        when = f" (when its predictions were made, {bp['measured_at']})" if bp.get("measured_at") else ""
        parts.append(f"Basic Pitch {bp['realtime_factor']:.0f}x{when}")
    tk = context.get("transkun_speed")
    if tk:
        parts.append(
            f"Transkun {tk['realtime_factor']:.2f}x, {tk['seconds_per_file']:.0f} s per file and "
            f"{tk['cpu_s'] / tk['audio_s']:.2f} CPU s per audio s (each file when it was first transcribed; "
            "runs are cached)"
        )
    return (
        "Speed seen while benchmarking (audio s / wall s for decoding, model and notes at the default "
        f"thresholds; model load and a warm-up call excluded; {context.get('machine', '')}, shared with "
        "other work; `make bench` is the speed benchmark): " + ", ".join(parts) + "."
    )


BASIC_PITCH_TEXT = (
    "\nBasic Pitch 0.4.0 ran its ONNX model once per file, then its own note creation (melodia trick on) "
    "at 30 settings: onset threshold 0.3-0.7 x frame threshold 0.2-0.4 x minimum note length 127.7 or "
    "58 ms. Its best setting is picked on this same set, which favours it (as it does our best "
    "onset threshold)."
)
TRANSKUN_TEXT = (
    " Transkun 2.0.1 (Transkun V2, trained on MAESTRO; its checkpoint ships in its wheel) ran once per file "
    "on CPU with its defaults, in its own environment; its notes end at key release and it writes the "
    "sustain pedal (CC64), so its notes are extended by its own pedal with the rule the reference follows "
    "before scoring. Its weights are CC BY-NC-SA: a benchmark peer, never a dependency."
)


def markdown_section(rows: list[Row], context: dict[str, Any]) -> str:
    """The whole section, heading included, ending in a newline."""
    held_out = ", ".join(context.get("held_out_instruments", [])) or "none in this dataset"
    minutes = context.get("audio_s", 0.0) / 60
    text = [
        SECTION,
        "",
        f"Measured {context['measured_at']} with `{context['command']}` (scripts/bench/accuracy.py) on the "
        f"validation split of {context['dataset']}: {context['n_files']} clips, {minutes:.1f} min of audio, "
        "re-rendered sample for sample from the dataset's plan (16 kHz FLAC, reference MIDI extended by the "
        f"sustain pedal). Validation pieces are never in training (split rule: {context['split_rule']}); "
        f"instruments held out of training: {held_out}.",
        "",
        "Every system is scored by the same code (piano_ai.evaluation, mir_eval): a note counts when its "
        "onset is within 50 ms; with offset, when its offset is also within 20% of the note's length or "
        "50 ms; with velocity, when its velocity also matches (mir_eval.transcription_velocity); frame F1 "
        "on a 10 ms piano roll. F1 is note-weighted (counts summed over files)."
        + (BASIC_PITCH_TEXT if context.get("basic_pitch_speed") else "")
        + (TRANSKUN_TEXT if context.get("transkun_speed") else ""),
        "",
        table(rows),
        "",
    ]
    margin = margin_line(rows) + edge_note(context.get("basic_pitch_best_on_edge", []))
    text += [margin, "", speed_line(context)] if margin else [speed_line(context)]
    if context.get("remark"):
        text += ["", context["remark"]]
    return "\n".join(text) + "\n"


def replace_section(doc: str, section: str) -> str:
    """``doc`` with its SECTION (up to the next "## " heading) replaced by ``section``, or appended."""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(doc):
        return pattern.sub(lambda _: section.rstrip("\n") + "\n\n", doc, count=1).rstrip("\n") + "\n"
    return doc.rstrip("\n") + "\n\n" + section
