"""Training examples: fixed-length windows cut from the dataset's shards.

A clip is one shard: mel (frames, N_MELS) and targets (frames, N_KEYS). Training draws random windows each
epoch; validation cuts every clip into consecutive windows so its loss is comparable between epochs.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from piano_ai.constants import LOWEST_KEY, SECONDS_PER_FRAME
from piano_ai.features import LOG_FLOOR
from piano_ai.notes import VELOCITY_RADIUS
from piano_ai.types import Note

log = logging.getLogger(__name__)
MEL_PAD = float(np.log(LOG_FLOOR))  # log-mel value of silence
DB_TO_LOG = np.log(10.0) / 10.0  # a power ratio in dB as a step of the natural-log mel


@dataclass(frozen=True)
class Clip:
    mel: npt.NDArray[np.float16]  # (frames, N_MELS)
    onset: npt.NDArray[np.uint8]  # (frames, N_KEYS) 0/1
    frame: npt.NDArray[np.uint8]
    offset: npt.NDArray[np.uint8]
    velocity: npt.NDArray[np.uint8]  # MIDI velocity at onset frames, 0 elsewhere
    pedal: npt.NDArray[np.uint8] | None = None  # (frames,) sustain down 0/1; None: not labelled (old shards)


def load_manifest(location: str) -> dict:
    """The dataset's manifest.json, from a folder or gs://bucket/prefix."""
    if location.startswith("gs://"):
        from piano_ai.data.reader import load_manifest as load_remote

        return load_remote(location)
    return json.loads((Path(location) / "manifest.json").read_text())


def load_clips(
    location: str, split: str, note_ends: str = "sound", instruments: tuple[str, ...] = ()
) -> list[Clip]:
    """Every shard of ``split`` ("train" or "val") as in-memory clips (only those rendered on
    ``instruments``, when given).

    note_ends "sound": frame and offset targets end where the sound does (the pedal applied); "key": at key
    release (the shards' key_frame / key_offset; datasets built before them must be rebuilt).
    """
    if note_ends not in ("sound", "key"):
        raise ValueError(f"note_ends must be 'sound' or 'key', not {note_ends!r}")
    manifest = load_manifest(location)
    entries = [
        s
        for s in manifest["shards"]
        if s["split"] == split and (not instruments or s.get("instrument") in instruments)
    ]
    clips = [_load_clip(location, entry["path"], note_ends) for entry in entries]
    hours = sum(c.mel.shape[0] for c in clips) * 0.032 / 3600
    log.info("loaded %d %s clips (%.2f h) from %s", len(clips), split, hours, location)
    return clips


def _load_clip(location: str, path: str, note_ends: str = "sound") -> Clip:
    if location.startswith("gs://"):
        from piano_ai.data.reader import open_shard

        data = np.load(open_shard(location, path))
    else:
        data = np.load(Path(location) / path)
    pedal = data["pedal"] if "pedal" in data.files else None
    ends = ("key_frame", "key_offset") if note_ends == "key" else ("frame", "offset")
    missing = [k for k in ends if k not in data.files]
    if missing:
        raise ValueError(f"{location}/{path} has no {missing[0]}: rebuild the dataset for key-release ends")
    mel, onset, frame, offset, velocity = (data[k] for k in ("mel", "onset", *ends, "velocity"))
    return Clip(mel, onset, frame, offset, velocity, pedal)


def window(clip: Clip, start: int, length: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Frames [start, start + length) of a clip, padded with silence; velocity target is -1 off onsets.

    The pedal target is (length, 1): 0/1 where the clip is labelled, -1 (no loss) where it is not.
    """
    end = min(start + length, clip.mel.shape[0])
    n = end - start
    mel = np.full((length, clip.mel.shape[1]), MEL_PAD, np.float32)
    mel[:n] = clip.mel[start:end]
    targets = {}
    for name in ("onset", "frame", "offset"):
        t = np.zeros((length, clip.onset.shape[1]), np.float32)
        t[:n] = getattr(clip, name)[start:end]
        targets[name] = t
    targets["velocity"] = velocity_target(clip.onset[start:end], clip.velocity[start:end], length)
    pedal = np.full((length, 1), -1.0 if clip.pedal is None else 0.0, np.float32)
    if clip.pedal is not None:
        pedal[:n, 0] = clip.pedal[start:end]
    targets["pedal"] = pedal
    return mel, targets


def velocity_target(onset: np.ndarray, velocity: np.ndarray, length: int) -> np.ndarray:
    """(length, keys) velocity / 127 on and next to onset frames, -1 elsewhere (no loss there).

    Post-processing reads the velocity head up to VELOCITY_RADIUS frames either side of a detected onset
    peak, which can itself be a frame off, so those frames are trained too; the onset frame wins overlaps.
    """
    n, keys = onset.shape
    target = np.full((length, keys), -1.0, np.float32)
    times, cols = np.nonzero(onset > 0)
    values = velocity[times, cols] / 127.0
    for shift in sorted(range(-VELOCITY_RADIUS, VELOCITY_RADIUS + 1), key=abs, reverse=True):
        rows = times + shift
        inside = (rows >= 0) & (rows < n)
        target[rows[inside], cols[inside]] = values[inside]
    return target


def batches_random(clips: list[Clip], length: int, batch_size: int, rng: np.random.Generator):
    """One random batch: (mel (batch, length, N_MELS), dict of (batch, length, N_KEYS) targets)."""
    weights = np.array([max(1, c.mel.shape[0] - length // 2) for c in clips], np.float64)
    picks = rng.choice(len(clips), size=batch_size, p=weights / weights.sum())
    items = []
    for i in picks:
        frames = clips[i].mel.shape[0]
        start = int(rng.integers(0, max(1, frames - length // 2)))
        items.append(window(clips[i], start, length))
    return _stack(items)


def augment(mel: np.ndarray, rng: np.random.Generator, gain_db: float, tilt_db: float) -> np.ndarray:
    """A batch of log-mel windows (batch, frames, bands), each as if recorded at another level (a random
    gain within +-gain_db) through another microphone or room (a random linear tilt across the bands, the
    top band within +-tilt_db of the bottom one); silence stays at the floor."""
    if gain_db <= 0 and tilt_db <= 0:
        return mel
    batch, _, bands = mel.shape
    gain = rng.uniform(-gain_db, gain_db, (batch, 1, 1))
    tilt = rng.uniform(-tilt_db, tilt_db, (batch, 1, 1)) * np.linspace(-0.5, 0.5, bands)
    shift = (gain + tilt) * DB_TO_LOG
    return np.where(mel > MEL_PAD, np.maximum(mel + shift, MEL_PAD), MEL_PAD).astype(mel.dtype)


def fixed_windows(clips: list[Clip], length: int) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Every clip cut into consecutive windows (the last one padded)."""
    return [window(c, s, length) for c in clips for s in range(0, c.mel.shape[0], length)]


def _stack(items):
    mel = np.stack([m for m, _ in items])
    targets = {k: np.stack([t[k] for _, t in items]) for k in items[0][1]}
    return mel, targets


def clip_notes(clip: Clip) -> list[Note]:
    """The notes a clip's targets mark, to the frame (the sound's ends: the pedal applied). A key's onset
    marks take its offset marks in order, each the first one at or after it that an earlier note has not
    taken (a re-strike shares its frame with the end of the note before); a note whose end lies past the
    clip is left out."""
    notes = []
    for k in range(clip.onset.shape[1]):
        ends = list(np.flatnonzero(clip.offset[:, k]))
        for t in np.flatnonzero(clip.onset[:, k]):
            while ends and ends[0] < t:
                ends.pop(0)
            if not ends:
                break
            start, end = t * SECONDS_PER_FRAME, ends.pop(0) * SECONDS_PER_FRAME
            velocity = max(int(clip.velocity[t, k]), 1)
            notes.append(Note(k + LOWEST_KEY, start, max(end, start + SECONDS_PER_FRAME / 2), velocity))
    return notes
