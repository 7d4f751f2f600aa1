"""The Basic Pitch threshold grid: folder names for each setting, and picking the best one.

Standard library only: imported by basic_pitch_predict.py (run in .venv-bp, without piano_ai) and by
accuracy.py (run in our .venv), so both agree on how a setting is named.
"""

import itertools
from dataclasses import dataclass

ONSET_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)  # Basic Pitch's onset_threshold (its default 0.5)
FRAME_THRESHOLDS = (0.2, 0.3, 0.4)  # Basic Pitch's frame_threshold (its default 0.3)
MIN_NOTE_MS = (127.7, 58.0)  # minimum note length in milliseconds (its default 127.7)


@dataclass(frozen=True, order=True)
class Setting:
    """One point of Basic Pitch's post-processing grid."""

    onset_threshold: float
    frame_threshold: float
    min_note_ms: float  # milliseconds

    @property
    def name(self) -> str:
        """Folder name "<onset>-<frame>-<min note ms>", e.g. "0.5-0.3-127.7"."""
        return f"{self.onset_threshold:g}-{self.frame_threshold:g}-{self.min_note_ms:g}"

    def describe(self) -> str:
        """Human-readable form for tables."""
        return (
            f"onset {self.onset_threshold:g}, frame {self.frame_threshold:g}, "
            f"min note {self.min_note_ms:g} ms"
        )


def grid(
    onsets: tuple[float, ...] = ONSET_THRESHOLDS,
    frames: tuple[float, ...] = FRAME_THRESHOLDS,
    min_note_ms: tuple[float, ...] = MIN_NOTE_MS,
) -> list[Setting]:
    """Every (onset, frame, min note length) combination, in a stable order."""
    return [Setting(o, f, m) for o, f, m in itertools.product(onsets, frames, min_note_ms)]


def parse_setting(name: str) -> Setting | None:
    """The inverse of Setting.name; None for a name that is not a grid folder."""
    parts = name.split("-")
    if len(parts) != 3:
        return None
    try:
        onset, frame, min_ms = (float(p) for p in parts)
    except ValueError:
        return None
    if not (0.0 < onset < 1.0 and 0.0 < frame < 1.0 and min_ms >= 0.0):
        return None
    return Setting(onset, frame, min_ms)


def on_edge(setting: Setting, settings: list[Setting]) -> list[str]:
    """Thresholds at which ``setting`` sits on the edge of the grid ``settings`` (a wider grid may win)."""
    edges = []
    for field in ("onset_threshold", "frame_threshold"):
        values = sorted({getattr(s, field) for s in settings})
        if len(values) > 1 and getattr(setting, field) in (values[0], values[-1]):
            edges.append(field)
    return edges


def best_setting(scores: dict[str, dict[str, dict[str, float]]]) -> str:
    """The key of ``scores`` with the highest note-weighted onset F1.

    ``scores`` maps a setting's name to a Report.summary() ({metric: {"f1": ...}}). Ties go to the higher
    onset+offset F1, then to the name that sorts first, so the pick does not depend on dict order.
    """
    if not scores:
        raise ValueError("no scored settings to pick from")

    def key(name: str) -> tuple[float, float, str]:
        s = scores[name]
        return (-s["onset"]["f1"], -s.get("offset", {}).get("f1", 0.0), name)

    return min(scores, key=key)
