"""Where a transcription's note ends go wrong: early or late, by reference duration and by instrument.

    piano-ai convert data/eval/v2/*.flac -o /tmp/v2pred
    python scripts/bench/end_errors.py data/eval/v2 /tmp/v2pred

Every reference note whose onset is matched (mir_eval's rules, as `piano-ai evaluate` scores) is counted;
a miss is one whose end falls outside the offset tolerance, both sides lengthened by their own pedal. Of the
late misses, how many were late already at the prediction's key release (before its pedal).
"""

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from piano_ai.evaluation.evaluate import pairs, reference_notes
from piano_ai.evaluation.metrics import offset_matches, onset_matches

BANDS = ((0, 0.25), (0.25, 0.5), (0.5, 1), (1, 2), (2, 4), (4, 1e9))


def main(folder: Path, predictions: Path) -> None:
    rows = []  # (reference duration, est end - reference end, ok, key-release end late, instrument)
    for _, midi in pairs(folder):
        ref = reference_notes(midi)
        est, raw = reference_notes(predictions / midi.name), reference_notes(predictions / midi.name, False)
        ok = set(offset_matches(ref, est))
        instrument = midi.stem.split("-")[1] if "-" in midi.stem else midi.stem
        for i, j in onset_matches(ref, est):
            r = ref[i]
            tolerance = max(0.05, 0.2 * (r.end - r.start))
            late_raw = raw[j].end - r.end > tolerance
            rows.append((r.end - r.start, est[j].end - r.end, (i, j) in ok, late_raw, instrument))
    duration, error, ok, late_raw = (np.array([row[k] for row in rows]) for k in range(4))
    print(f"{len(rows)} notes with a matched onset, {ok.mean():.3f} of them end within tolerance")
    miss = ~ok
    late = miss & (error > 0)
    print(f"misses: {np.mean(error[miss] < 0):.3f} early, {np.mean(error[miss] > 0):.3f} late "
          f"({np.mean(late_raw[late]):.3f} of the late ones already late at key release)")  # fmt: skip
    for lo, hi in BANDS:
        band = (duration >= lo) & (duration < hi)
        if band.any():
            e = error[band & miss]
            early, late = e[e < 0], e[e > 0]
            early_s = np.median(early) if early.size else 0.0
            late_s = np.median(late) if late.size else 0.0
            share = early.size / max(e.size, 1)
            print(f"reference {lo:g}-{hi:g} s: {band.sum():5d} notes, {ok[band].mean():.3f} ok, misses "
                  f"{share:.2f} early (median {early_s:+.2f} s), late median {late_s:+.2f} s")  # fmt: skip
    by = Counter(row[4] for row in rows)
    missed = Counter(row[4] for row in rows if not row[2])
    for name, count in by.most_common():
        print(f"{name}: {count} notes, {missed[name] / count:.3f} of ends missed")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
