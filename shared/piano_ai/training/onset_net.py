"""Train piano_ai.onsets' network: which onset peaks of a model's outputs are notes.

    python -m piano_ai.training.onset_net [--maps data/maps] [--model DIR] [--out PATH] [--cache DIR]

The model (default: the shipped one) transcribes MAPS's training recordings (the seven sampled pianos, minus
every piece a Disklavier recording plays: piano_ai.data.maps_build.recordings); every onset peak of at
least onsets.CANDIDATE_FLOOR is a sample, labelled a note when it is the nearest peak of its key to a
reference onset within 50 ms (mir_eval's onset tolerance; the strongest peaks claim first). A
scikit-learn MLP is fitted on them (fixed seed, early stopping on a tenth held back) and written as numpy
arrays (mlp.Mlp), so decoding needs no scikit-learn. Retrain it whenever the model's weights change:
it judges their outputs.
"""

import argparse
import logging
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.constants import LOWEST_KEY, SECONDS_PER_FRAME
from piano_ai.mlp import fit_mlp
from piano_ai.notes import refined_peaks
from piano_ai.onsets import CANDIDATE_FLOOR, NET_FILE, onset_peaks, peak_features
from piano_ai.types import Activations, Note

log = logging.getLogger(__name__)
TOLERANCE_S = 0.05  # mir_eval's onset tolerance
HIDDEN = (64, 32)


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
    """Features and labels of every candidate peak of one recording."""
    times, keys = np.nonzero(onset_peaks(act.onset, CANDIDATE_FLOOR))
    x = peak_features(act.onset, act.frame, act.offset, act.velocity, times, keys)
    return x, labels(act.onset, times, keys, reference)


def activations(audio: Path, model: str | None, cache: Path | None) -> Activations:
    """The model's outputs for one recording (kept in ``cache`` as npz when given)."""
    stored = (
        cache / Path(model or "shipped").name / audio.parent.name / f"{audio.stem}.npz" if cache else None
    )
    if stored is not None and stored.exists():
        with np.load(stored) as data:
            return Activations(**{k: data[k].astype(np.float32) for k in data.files})
    from piano_ai.audio import decode
    from piano_ai.features import log_mel

    act = _transcriber(model).predict(log_mel(decode(audio)))
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            stored, **{f.name: getattr(act, f.name) for f in fields(act) if getattr(act, f.name) is not None}
        )
    return act


@lru_cache(maxsize=2)
def _transcriber(model: str | None):  # noqa: ANN202 - an inference.Transcriber, loaded once
    from piano_ai.inference import load_transcriber

    return load_transcriber(model)


def main(argv: list[str] | None = None) -> int:
    from piano_ai.data.maps_build import recordings
    from piano_ai.evaluation.evaluate import reference_notes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=Path, default=Path("data/maps"), help="scripts/fetch_maps.py's folder")
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--out", type=Path, default=NET_FILE)
    parser.add_argument("--cache", type=Path, help="keep the model's outputs here (npz per recording)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    train, _ = recordings(args.maps)
    if not train:
        parser.error(f"no MAPS training recordings under {args.maps} (run scripts/fetch_maps.py)")
    xs, ys = [], []
    for i, audio in enumerate(train):
        x, y = samples(activations(audio, args.model, args.cache), reference_notes(audio.with_suffix(".mid")))
        xs.append(x)
        ys.append(y)
        log.info("%d/%d %s: %d peaks, %d notes", i + 1, len(train), audio.name, len(y), int(y.sum()))
    x, y = np.concatenate(xs), np.concatenate(ys)
    log.info("%d recordings, %d peaks, %.1f%% notes", len(train), len(y), 100 * y.mean())
    fit_mlp(x, y, HIDDEN, args.seed).save(args.out)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
