"""The eval set re-renders a dataset's validation clips: the same audio the shards were computed from."""

import json

import numpy as np
import pytest
import soundfile as sf

from piano_ai.cli import main as cli_main
from piano_ai.evaluation.evalset import write_eval_set
from piano_ai.features import log_mel
from piano_ai.midi_io import midi_to_notes

pytestmark = pytest.mark.slow

ARGS = ["--seed", "5", "--hours-train", "0.002", "--hours-val", "0.01", "--sources", "asap,synthetic"]
MEL_TOLERANCE = 0.05  # mean |log-mel| difference: float16 shards and 16-bit FLAC, not another rendering (~2)


def test_eval_audio_and_notes_are_the_shards(tmp_path) -> None:
    dataset = tmp_path / "ds"
    assert cli_main(["data", "build", "--out", str(dataset), *ARGS, "--instruments", "fluidr3,timgm6mb"]) == 0
    val = [s for s in json.loads((dataset / "manifest.json").read_text())["shards"] if s["split"] == "val"]
    written = write_eval_set(str(dataset), tmp_path / "eval")
    assert len(written) == len(val) > 0
    for audio_path, entry in zip(written, val, strict=True):
        shard = np.load(dataset / entry["path"])
        audio, _ = sf.read(audio_path, dtype="float32")
        mel = log_mel(audio)
        assert mel.shape == shard["mel"].shape
        assert float(np.abs(mel - shard["mel"].astype(np.float32)).mean()) < MEL_TOLERANCE
        assert len(midi_to_notes(audio_path.with_suffix(".mid"))) == int(shard["onset"].sum())
