"""Train piano_ai.velocities' network: how hard each note was struck, from a model's outputs and the levels.

    python -m piano_ai.training.velocity_net [--maps data/maps] [--model DIR] [--out PATH] [--cache DIR]

The model (default: the shipped one) transcribes MAPS's training recordings (the seven sampled pianos, minus
every piece a Disklavier recording plays: piano_ai.data.maps_build.recordings) and its notes are found as
decoding finds them (its onset networks, piano_ai.note_nets.nets_for). Every note matched to a reference note
(pitch, and onset within 50 ms: mir_eval's matching) is a sample: velocities.FEATURES, and the reference
velocity / 127 as the target. A scikit-learn regression MLP is fitted on them (fixed seed, early stopping on a
tenth held back) and written as numpy arrays (mlp.Mlp). Refit it whenever the model's weights change.
"""

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.evaluation.metrics import onset_matches
from piano_ai.mlp import fit_regressor
from piano_ai.note_nets import NoteNets
from piano_ai.notes import find_notes
from piano_ai.training.maps_fit import HIDDEN, Samples, fit_main
from piano_ai.types import Activations, Note, NoteParams
from piano_ai.velocities import FEATURES, NET_FILE, velocity_features

log = logging.getLogger(__name__)


def samples(
    act: Activations, reference: list[Note], nets: NoteNets
) -> tuple[npt.NDArray[np.float32], np.ndarray]:
    """Features and target velocities (0..1) of the notes decoded from ``act`` that match a reference note."""
    if act.level is None:
        raise ValueError("the activations carry no levels (piano_ai.levels): the velocity network needs them")
    found = find_notes(
        act.onset, act.frame, act.offset, act.velocity, NoteParams(), nets=nets, level=act.level
    )
    found = found.subset(np.flatnonzero(found.keep))
    pairs = onset_matches(reference, found.to_notes())
    if not pairs:
        return np.zeros((0, len(FEATURES)), np.float32), np.zeros(0)
    ref_index, est_index = np.array(pairs, np.int64).T
    x = velocity_features(
        act.onset, act.frame, act.velocity, act.level, found.times[est_index], found.keys[est_index]
    )
    y = np.array([reference[i].velocity for i in ref_index], np.float64) / 127.0
    return x, y


def write(x: npt.NDArray[np.float32], y: np.ndarray, seed: int, out: Path) -> None:
    fit_regressor(x, y, HIDDEN, seed).save(out)
    log.info("wrote %s", out)


def main(argv: list[str] | None = None) -> int:
    from piano_ai.note_nets import nets_for

    def samples_for(model: str | None) -> Samples:
        nets = nets_for(Path(model) if model else None)
        return lambda act, reference: samples(act, reference, nets)

    return fit_main(__doc__ or "", NET_FILE, samples_for, argv, write)


if __name__ == "__main__":
    raise SystemExit(main())
