"""Write a dataset's validation clips as audio + reference MIDI pairs, for `piano-ai evaluate`.

The shards hold log-mels, not audio. The factory's plan is a function of the seed, so validation clips
are re-rendered here sample for sample (same excerpt, instrument and augmentation), and written as
<stem>.flac (16 kHz) + <stem>.mid (pedal-extended notes), which any transcriber can be scored on.
"""

import logging
from pathlib import Path

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.training.dataset import load_manifest

log = logging.getLogger(__name__)


def write_eval_set(dataset: str, out_dir: Path, limit: int = 0) -> list[Path]:
    """Render the validation clips of ``dataset`` into ``out_dir``; returns the audio paths."""
    import soundfile as sf

    from piano_ai.data.augment import augment
    from piano_ai.data.clip import AUGMENT_LEVELS, clip_midi
    from piano_ai.data.plan import plan
    from piano_ai.data.render import instruments, render
    from piano_ai.data.targets import pedal_extended_notes
    from piano_ai.midi_io import write_midi

    manifest = load_manifest(dataset)
    entries = [s for s in manifest["shards"] if s["split"] == "val"][: limit or None]
    hours = (
        float(manifest["hours"]["val"]) * 2 + 0.5
    )  # the plan is prefix-stable: over-plan, take the first n
    specs = plan(
        manifest["seed"], "val", hours, tuple(manifest["sources"]), tuple(manifest["instruments"]["val"])
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec, entry in zip(specs, entries, strict=False):
        if spec.seed != entry["seed"] or spec.piece != entry["piece"]:
            raise ValueError(
                f"{dataset}: val clip {entry['path']} does not match its plan; was the factory changed?"
            )
        rng = np.random.default_rng(spec.seed)
        midi, seconds, _ = clip_midi(spec, rng)
        audio = render(midi, instruments()[spec.instrument], seconds)
        level = AUGMENT_LEVELS[manifest.get("augment", "full")]
        if level is not None:
            audio, _ = augment(audio, rng, level)
        stem = f"{Path(entry['path']).stem}-{spec.instrument}-{spec.source}"
        sf.write(out_dir / f"{stem}.flac", audio, SAMPLE_RATE)
        write_midi(pedal_extended_notes(midi), out_dir / f"{stem}.mid")
        written.append(out_dir / f"{stem}.flac")
    log.info("wrote %d validation pairs to %s", len(written), out_dir)
    return written
