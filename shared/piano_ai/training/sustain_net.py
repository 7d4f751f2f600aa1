"""Train piano_ai.sustain's network: where the sustain pedal is down, from a model's outputs.

    python -m piano_ai.training.sustain_net [--maps data/maps] [--renders data/rendered/v15] [--model DIR]
        [--out PATH] [--cache DIR] [--seeds 0,1,2]

The model (default: the shipped one) transcribes MAPS's training recordings (the seven sampled pianos, minus
every piece a Disklavier recording plays: piano_ai.data.maps_build.recordings) and the training clips of the
rendered datasets given (real performances' pedalling, as piano_ai.data.build renders it). Every other frame
is a sample (a frame's neighbour says nearly the same), and the samples next to a press or a lift count
four times (samples()). The label is the recording's pedal: MAPS's is rebuilt from its two note lists
(scripts/fetch_maps.py: down from the first key release it holds, so it is right wherever it lengthens a
note, which is what decoding uses it for), a render's is the performance's CC64. A scikit-learn MLP is
fitted on them per seed (early stopping on a tenth held back) and the three are written as one network whose
logit is their mean (mlp.averaged: a single fit's scores moved by 0.003 from seed to seed).
Refit it whenever the model's weights change: it judges their outputs.
"""

import argparse
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.mlp import averaged, fit_mlp
from piano_ai.sustain import NET_FILE, features, sums_of
from piano_ai.training.maps_fit import HIDDEN, activations, clip_outputs
from piano_ai.types import Activations

log = logging.getLogger(__name__)
STRIDE = 2  # every STRIDE-th frame is a sample
# the samples this close to a press or a lift count EDGE_COPIES times more: a missed lift (a pedal change)
# carries every sounding note into the next chord, so the network must find the rare frames between
EDGE_SAMPLES = 4
EDGE_COPIES = 3
DEFAULT_RENDERS = "data/rendered/v15"


def samples(act: Activations, down: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float32], np.ndarray]:
    """Features and labels (pedal down) of every STRIDE-th frame of one recording (``down``: (frames,)),
    then EDGE_COPIES more of the samples within EDGE_SAMPLES of a press or a lift."""
    sums = sums_of(act)
    if sums is None:
        raise ValueError("the model has no pedal head: there is nothing for a sustain network to read")
    x, y = features(sums)[::STRIDE], down[: sums.shape[0]][::STRIDE].astype(np.int8)
    changes = np.flatnonzero(np.diff(y) != 0) + 1  # the first sample after each press or lift
    near = np.zeros(y.size, bool)
    for d in range(-EDGE_SAMPLES, EDGE_SAMPLES + 1):
        near[np.clip(changes + d, 0, max(y.size - 1, 0))] = True
    copies = np.tile(np.flatnonzero(near), EDGE_COPIES)
    return np.concatenate([x, x[copies]]), np.concatenate([y, y[copies]])


def maps_samples(maps: Path, model: str | None, cache: Path | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """samples() of every MAPS training recording, labelled as the data factory labels its shards."""
    from piano_ai.data.maps_build import recordings
    from piano_ai.data.targets import midi_sustain, pedal_target
    from piano_ai.evaluation.evaluate import read_midi

    train, _ = recordings(maps)
    out = []
    for audio in train:
        act = activations(audio, model, cache)
        pressed = midi_sustain(read_midi(audio.with_suffix(".mid")))
        out.append(samples(act, pedal_target(pressed, act.onset.shape[0]).astype(bool)))
    log.info("MAPS: %d recordings", len(train))
    return out


def render_samples(location: str, model: str | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """samples() of every training clip of a rendered dataset that labels the pedal."""
    out = [
        samples(act, clip.pedal.astype(bool))
        for act, clip in clip_outputs(location, model)
        if clip.pedal is not None
    ]
    log.info("%s: %d clips", location, len(out))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--maps", type=Path, default=Path("data/maps"), help="scripts/fetch_maps.py's folder")
    parser.add_argument(
        "--renders", default=DEFAULT_RENDERS, help="comma-separated rendered datasets ('' for none)"
    )
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--out", type=Path, default=NET_FILE)
    parser.add_argument("--cache", type=Path, help="keep the model's outputs for MAPS here (npz each)")
    parser.add_argument(
        "--seeds", default="0,1,2", help="one network fitted per seed, their logits averaged (mlp.averaged)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if not (args.maps / "inventory.json").exists():
        parser.error(f"no MAPS recordings under {args.maps} (run scripts/fetch_maps.py)")
    parts = maps_samples(args.maps, args.model, args.cache)
    for location in filter(None, args.renders.split(",")):
        parts += render_samples(location, args.model)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    log.info("%d samples, %.1f%% pedal down", len(y), 100 * y.mean())
    averaged([fit_mlp(x, y, HIDDEN, int(seed)) for seed in args.seeds.split(",")]).save(args.out)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
