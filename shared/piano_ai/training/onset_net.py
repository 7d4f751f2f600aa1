"""Train piano_ai.onsets' network: which onset peaks of a model's outputs are notes.

    python -m piano_ai.training.onset_net [--maps data/maps] [--model DIR] [--out PATH] [--cache DIR]
        [--renders data/rendered/v15,data/rendered/v24]

The model (default: the shipped one) transcribes MAPS's training recordings (the seven sampled pianos, minus
every piece a Disklavier recording plays: piano_ai.data.maps_build.recordings) and the training clips of the
rendered datasets given (DEFAULT_RENDERS; their notes read back from the clips' targets,
training.dataset.clip_notes); every onset peak of at least onsets.CANDIDATE_FLOOR is a sample, labelled a
note when it is the nearest peak of its key to a reference onset within 50 ms (mir_eval's onset tolerance;
the strongest peaks claim first). A
scikit-learn MLP is fitted on them (fixed seed, early stopping on a tenth held back) and written as numpy
arrays (mlp.Mlp), so decoding needs no scikit-learn; a second one, fitted on the same peaks, also reads the
levels (piano_ai.levels) and is written beside it as onsets_level.npz. Retrain them whenever the model's
weights change: they judge their outputs.
"""

import numpy as np
import numpy.typing as npt

from piano_ai.constants import LOWEST_KEY, SECONDS_PER_FRAME
from piano_ai.notes import refined_peaks
from piano_ai.onsets import CANDIDATE_FLOOR, FEATURES, LEVEL_NET_FILE, NET_FILE, onset_peaks, peak_features
from piano_ai.training.maps_fit import fit_main, plain_and_level_writer
from piano_ai.types import Activations, Note

TOLERANCE_S = 0.05  # mir_eval's onset tolerance
# their clips gained every score on both ENSTDkCl and v2 (docs/model.md); the end and velocity networks stay
# on MAPS alone, where the renders cost the Disklavier's offsets
DEFAULT_RENDERS = "data/rendered/v15,data/rendered/v24"


def labels(
    onset: npt.NDArray[np.float32], times: np.ndarray, keys: np.ndarray, reference: list[Note]
) -> np.ndarray:
    """(peaks,) int8: 1 where the peak at (times, keys) is the one matched to a reference onset of its key
    within TOLERANCE_S (peaks claim their nearest free reference onset, the strongest peaks first)."""
    starts = refined_peaks(onset, times, keys) * SECONDS_PER_FRAME
    by_key: dict[int, list[float]] = {}
    for note in reference:
        by_key.setdefault(note.pitch - LOWEST_KEY, []).append(note.start)
    taken: set[tuple[int, int]] = set()
    out = np.zeros(times.shape, np.int8)
    for i in np.argsort(-onset[times, keys], kind="stable"):
        key = int(keys[i])
        free = [(abs(r - starts[i]), j) for j, r in enumerate(by_key.get(key, [])) if (key, j) not in taken]
        near = [f for f in free if f[0] <= TOLERANCE_S]
        if near:
            taken.add((key, min(near)[1]))
            out[i] = 1
    return out


def samples(act: Activations, reference: list[Note]) -> tuple[npt.NDArray[np.float32], np.ndarray]:
    """Features (FEATURES, then LEVEL_FEATURES) and labels of every candidate peak of one recording."""
    if act.level is None:
        raise ValueError("the activations carry no levels (piano_ai.levels): the level network needs them")
    times, keys = np.nonzero(onset_peaks(act.onset, CANDIDATE_FLOOR))
    x = peak_features(act.onset, act.frame, act.offset, act.velocity, times, keys, act.level)
    return x, labels(act.onset, times, keys, reference)


def main(argv: list[str] | None = None) -> int:
    write = plain_and_level_writer(len(FEATURES), LEVEL_NET_FILE.name)
    return fit_main(__doc__ or "", NET_FILE, lambda model: samples, argv, write, DEFAULT_RENDERS)


if __name__ == "__main__":
    raise SystemExit(main())
