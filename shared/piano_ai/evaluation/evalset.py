"""Write a dataset's validation clips as audio + reference MIDI pairs, for `piano-ai evaluate`.

The shards hold log-mels, not audio. The factory's plan is a function of the seed, so validation clips
are re-rendered here sample for sample (same excerpt, instrument and augmentation), and written as
<stem>.flac (16 kHz) + <stem>.mid (pedal-extended notes), which any transcriber can be scored on.
"""

import logging
from pathlib import Path

from piano_ai.constants import SAMPLE_RATE
from piano_ai.training.dataset import load_manifest

log = logging.getLogger(__name__)


def write_eval_set(dataset: str, out_dir: Path, limit: int = 0) -> list[Path]:
    """Render the validation clips of ``dataset`` into ``out_dir``; returns the audio paths."""
    import soundfile as sf

    from piano_ai.data.clip import AUGMENT_LEVELS, clip_audio
    from piano_ai.data.targets import pedal_extended_notes
    from piano_ai.midi_io import write_midi

    manifest = load_manifest(dataset)
    entries = [s for s in manifest["shards"] if s["split"] == "val"][: limit or None]
    level = AUGMENT_LEVELS[manifest.get("augment", "full")]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec, entry in zip(_val_specs(manifest, len(entries)), entries, strict=True):
        if spec.seed != entry["seed"] or spec.piece != entry["piece"]:
            raise ValueError(
                f"{dataset}: val clip {entry['path']} does not match its plan; was the factory changed?"
            )
        audio, midi, _ = clip_audio(spec, level)  # the factory's own rendering: same samples as the shard
        stem = f"{Path(entry['path']).stem}-{spec.instrument}-{spec.source}"
        sf.write(out_dir / f"{stem}.flac", audio, SAMPLE_RATE)
        write_midi(pedal_extended_notes(midi), out_dir / f"{stem}.mid")
        written.append(out_dir / f"{stem}.flac")
    log.info("wrote %d validation pairs to %s", len(written), out_dir)
    return written


def _val_specs(manifest: dict, count: int) -> list:
    """The first ``count`` validation ClipSpecs: from the manifest, else re-planned (older manifests)."""
    from piano_ai.data.plan import ClipSpec, plan

    entries = [s for s in manifest["shards"] if s["split"] == "val"][:count]
    if all("spec" in e for e in entries):
        return [ClipSpec(**e["spec"]) for e in entries]
    hours = (
        float(manifest["hours"]["val"]) * 2 + 0.5
    )  # the plan is prefix-stable: over-plan, take the first n
    sources, instruments = tuple(manifest["sources"]), tuple(manifest["instruments"]["val"])
    return plan(manifest["seed"], "val", hours, sources, instruments)[:count]
