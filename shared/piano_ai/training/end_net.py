"""Train piano_ai.ends' network: where the notes of a model's outputs end.

    python -m piano_ai.training.end_net [--maps data/maps] [--model DIR] [--out PATH] [--cache DIR]

The model (default: the shipped one) transcribes MAPS's training recordings (the seven sampled pianos, minus
every piece a Disklavier recording plays: piano_ai.data.maps_build.recordings) and its onset network (the
model directory's onsets.npz, else the shipped one) picks the notes. Every distinct candidate end of every
note that starts within 50 ms of a reference note of its key is a sample, labelled a release when the end it
gives, lengthened by the model's own sustain pedal as `piano-ai evaluate` lengthens it, lies within mir_eval's
offset tolerance (50 ms or a fifth of the reference note, whichever is longer) of that note's end lengthened
by the true pedal. (Labelled by key releases instead, key-release offset F1 rose further but the
pedal-extended scores fell: docs/model.md.) A scikit-learn MLP is fitted on them (fixed seed, early
stopping on a tenth held back) and written as numpy arrays (mlp.Mlp); where the outputs carry levels
(piano_ai.levels), a second one that also reads ends.LEVEL_FEATURES is written beside it (ends_level.npz).
Refit them whenever the model's weights or its onset network change: they judge their outputs.
"""

from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.constants import LOWEST_KEY, SECONDS_PER_FRAME
from piano_ai.ends import FEATURES, KINDS, LEVEL_NET_FILE, NET_FILE, candidates, features, span_ends
from piano_ai.mlp import Mlp
from piano_ai.notes import end_frames, next_true, refined_peaks
from piano_ai.onsets import note_onsets
from piano_ai.pedal import extended_ends, sustain_intervals
from piano_ai.training.maps_fit import Samples, fit_main, plain_and_level_writer
from piano_ai.types import Activations, Note, NoteParams

ONSET_TOLERANCE_S = 0.05  # mir_eval's onset tolerance
OFFSET_MIN_S = 0.05  # mir_eval's offset tolerance: this, or OFFSET_RATIO of the reference note
OFFSET_RATIO = 0.2


def matches(starts: npt.NDArray[np.float64], keys: np.ndarray, reference: list[Note]) -> np.ndarray:
    """(notes,) the index in ``reference`` of the note each found note (start s, key) starts, -1 if none:
    the nearest free reference onset of its key within ONSET_TOLERANCE_S, the earliest notes first."""
    by_key: dict[int, list[int]] = {}
    for j, note in enumerate(reference):
        by_key.setdefault(note.pitch - LOWEST_KEY, []).append(j)
    taken: set[int] = set()
    out = np.full(starts.shape, -1, np.int64)
    for i in np.argsort(starts, kind="stable"):
        near = [
            (abs(reference[j].start - starts[i]), j)
            for j in by_key.get(int(keys[i]), [])
            if j not in taken and abs(reference[j].start - starts[i]) <= ONSET_TOLERANCE_S
        ]
        if near:
            taken.add(min(near)[1])
            out[i] = min(near)[1]
    return out


def samples(
    act: Activations, reference: list[Note], onset_net: Mlp | None = None, reads_level: bool = False
) -> tuple[npt.NDArray[np.float32], np.ndarray]:
    """Features and labels of every distinct candidate end of the matched notes of one recording
    (``reference``: notes lengthened by the sustain pedal; the candidates are lengthened by the model's own
    pedal, when it has a pedal head, before they are compared). The notes are the peaks ``onset_net``
    judges notes (reading the activations' levels when ``reads_level``), as decoding finds them."""
    onset, frame, offset, velocity = act.onset, act.frame, act.offset, act.velocity
    frames, kinds = onset.shape[0], len(KINDS)
    level = act.level if reads_level else None
    peaks = note_onsets(onset, frame, offset, velocity, NoteParams().onset_threshold, onset_net, level)
    times, keys = np.nonzero(peaks)
    reonset = next_true(peaks, times + 1, keys)
    span = span_ends(times, reonset, frames)
    ends = candidates(frame, offset, times, keys, span)
    x = features(onset, frame, offset, velocity, times, keys, span, reonset, ends, act.level)

    start_f = refined_peaks(onset, times, keys)
    each = np.repeat(np.arange(times.size), kinds)  # the note of each candidate
    end_s = SECONDS_PER_FRAME * end_frames(
        onset, offset, keys[each], ends.reshape(-1), reonset[each], start_f[each]
    )
    struck = reonset < frames
    following = np.full(times.size, np.inf)
    following[struck] = SECONDS_PER_FRAME * refined_peaks(onset, reonset[struck], keys[struck])
    pressed = sustain_intervals(act.pedal) if act.pedal is not None else []
    end_s = extended_ends(SECONDS_PER_FRAME * start_f[each], end_s, following[each], pressed)

    match = matches(SECONDS_PER_FRAME * start_f, keys, reference)[each]
    ref_start = np.array([n.start for n in reference] + [0.0])[match]
    ref_end = np.array([n.end for n in reference] + [0.0])[match]
    release = np.abs(end_s - ref_end) <= np.maximum(OFFSET_MIN_S, OFFSET_RATIO * (ref_end - ref_start))
    repeated = (ends[:, :, None] == ends[:, None, :]).any(axis=2, where=np.tri(kinds, k=-1, dtype=bool))
    chosen = (match >= 0) & ~repeated.reshape(-1)
    return x[chosen], release[chosen].astype(np.int8)


def main(argv: list[str] | None = None) -> int:
    from piano_ai.note_nets import nets_for

    def samples_for(model: str | None) -> Samples:
        nets = nets_for(Path(model) if model else None)
        return lambda act, reference: samples(act, reference, *nets.onset_judge(act.level))

    write = plain_and_level_writer(len(FEATURES), LEVEL_NET_FILE.name)
    return fit_main(__doc__ or "", NET_FILE, samples_for, argv, write)


if __name__ == "__main__":
    raise SystemExit(main())
