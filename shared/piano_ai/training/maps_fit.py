"""What fitting a decoding network on MAPS's training recordings shares (piano_ai.training.onset_net and
end_net): the model's outputs per recording (cached as npz), the command line, the loop and the fit."""

import argparse
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from piano_ai.mlp import fit_mlp
from piano_ai.types import Activations, Note

if TYPE_CHECKING:
    from piano_ai.training.dataset import Clip

log = logging.getLogger(__name__)
HIDDEN = (64, 32)
# samples(activations, reference notes) -> (features, labels) of one recording
Samples = Callable[[Activations, list[Note]], tuple[npt.NDArray[np.float32], np.ndarray]]


def activations(audio: Path, model: str | None, cache: Path | None) -> Activations:
    """The model's outputs for one recording (kept in ``cache`` as npz when given, under the model's name
    and a digest of its weights, so new weights in the same place are never answered from the old ones)."""
    stored = cache / cache_name(model) / audio.parent.name / f"{audio.stem}.npz" if cache else None
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


def plain_and_level_writer(
    width: int, level_name: str
) -> Callable[[npt.NDArray[np.float32], np.ndarray, int, Path], None]:
    """A fit_main ``write``: the network on the first ``width`` columns to --out and, where the samples carry
    more (levels), the one that reads them all beside it under ``level_name``."""

    def write(x: npt.NDArray[np.float32], y: np.ndarray, seed: int, out: Path) -> None:
        fit_mlp(x[:, :width], y, HIDDEN, seed).save(out)
        log.info("wrote %s", out)
        if x.shape[1] > width:
            fit_mlp(x, y, HIDDEN, seed).save(out.with_name(level_name))
            log.info("wrote %s", out.with_name(level_name))

    return write


@lru_cache(maxsize=8)
def cache_name(model: str | None) -> str:
    """<the model directory's name, or "shipped">-<sha256 of its model.onnx, 12 hex digits>."""
    from piano_ai.inference import DEFAULT_MODEL_DIR

    directory = Path(model) if model else DEFAULT_MODEL_DIR
    digest = hashlib.sha256((directory / "model.onnx").read_bytes()).hexdigest()[:12]
    return f"{Path(model).name if model else 'shipped'}-{digest}"


@lru_cache(maxsize=2)
def _transcriber(model: str | None):  # noqa: ANN202 - an inference.Transcriber, loaded once
    from piano_ai.inference import load_transcriber

    return load_transcriber(model)


def clip_outputs(
    location: str, model: str | None, instruments: tuple[str, ...] = ()
) -> Iterator[tuple[Activations, "Clip"]]:
    """The model's outputs for every training clip of a rendered dataset (those on ``instruments``, when
    given), each with its clip; the model is loaded once per process (_transcriber)."""
    from piano_ai.training.dataset import load_clips

    for clip in load_clips(location, "train", instruments=instruments):
        yield _transcriber(model).predict(clip.mel.astype(np.float32)), clip


def render_samples(
    location: str, model: str | None, samples: Samples, instruments: tuple[str, ...] = ()
) -> list[tuple[np.ndarray, np.ndarray]]:
    """samples() of every training clip of a rendered dataset (those on ``instruments``, when given),
    against the notes its targets mark."""
    from piano_ai.training.dataset import clip_notes

    out = [samples(act, clip_notes(clip)) for act, clip in clip_outputs(location, model, instruments)]
    log.info("%s: %d clips, %d samples", location, len(out), sum(len(y) for _, y in out))
    return out


def fit_main(
    doc: str,
    default_out: Path,
    samples_for: Callable[[str | None], Samples],
    argv: list[str] | None,
    write: Callable[[npt.NDArray[np.float32], np.ndarray, int, Path], None] | None = None,
    renders: str = "",
) -> int:
    """The command: ``samples_for(model directory or None)`` describes each recording; writes the fitted
    network (HIDDEN, mlp.Mlp) to --out, or calls ``write(features, labels, seed, out)`` to fit and write.
    ``renders``: --renders' default (rendered datasets whose training clips join MAPS's recordings)."""
    from piano_ai.data.maps_build import recordings
    from piano_ai.evaluation.evaluate import reference_notes

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--maps", type=Path, default=Path("data/maps"), help="scripts/fetch_maps.py's folder")
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--cache", type=Path, help="keep the model's outputs here (npz per recording)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--renders",
        default=renders,
        help=f"also these rendered datasets' training clips, comma-separated ('' none; default {renders!r})",
    )
    parser.add_argument(
        "--render-instruments",
        default="",
        help="only the renders' clips on these instruments (comma-separated)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    train, _ = recordings(args.maps)
    if not train:
        parser.error(f"no MAPS training recordings under {args.maps} (run scripts/fetch_maps.py)")
    samples = samples_for(args.model)
    xs, ys = [], []
    for i, audio in enumerate(train):
        x, y = samples(activations(audio, args.model, args.cache), reference_notes(audio.with_suffix(".mid")))
        xs.append(x)
        ys.append(y)
        log.info("%d/%d %s: %d samples, %d positive", i + 1, len(train), audio.name, len(y), int(y.sum()))
    instruments = tuple(filter(None, args.render_instruments.split(",")))
    for location in filter(None, args.renders.split(",")):
        for x, y in render_samples(location, args.model, samples, instruments):
            xs.append(x)
            ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    log.info("%d recordings and clips, %d samples, %.1f%% positive", len(xs), len(y), 100 * y.mean())
    if write is not None:
        write(x, y, args.seed, args.out)
    else:
        fit_mlp(x, y, HIDDEN, args.seed).save(args.out)
        log.info("wrote %s", args.out)
    return 0
