"""scripts/graft_pedal.py: a model's note layers plus another's pedal branch, exported as a servable dir."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script

from piano_ai.model import ModelConfig, build_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "graft_pedal.py"
TINY = ModelConfig(
    conv_channels=(4, 4, 4), dense_units=8, lstm_units=4, head_lstm_units=4, pedal_lstm_units=4
)


def _model_dir(folder: Path, config: ModelConfig, seed: int) -> Path:
    import keras

    keras.utils.set_random_seed(seed)
    folder.mkdir()
    config.save(folder / "config.json")
    build_model(config).save_weights(folder / "model.weights.h5")
    (folder / "train_config.json").write_text(json.dumps({"seed": seed}))
    return folder


def _weights(folder: Path):  # -> keras.Model
    model = build_model(ModelConfig.load(folder / "config.json"))
    model.load_weights(folder / "model.weights.h5")
    return model


def test_the_graft_keeps_every_note_layer_and_takes_the_pedal_branch(tmp_path: Path) -> None:
    graft = load_script(SCRIPT, "graft_pedal")
    notes = _model_dir(tmp_path / "notes", TINY, seed=1)
    pedal = _model_dir(tmp_path / "pedal", replace(TINY, pedal_head=True), seed=2)

    out = graft.graft(notes, pedal, tmp_path / "out")

    assert ModelConfig.load(out / "config.json").pedal_head
    assert json.loads((out / "train_config.json").read_text()) == {"seed": 1}  # NOTES' history
    assert (out / "model.onnx").is_file()
    grafted, note_model, pedal_model = _weights(out), _weights(notes), _weights(pedal)
    for layer in grafted.layers:
        if not layer.get_weights():
            continue
        donor = pedal_model if layer.name in graft.PEDAL_LAYERS else note_model
        for mine, theirs in zip(layer.get_weights(), donor.get_layer(layer.name).get_weights(), strict=True):
            assert np.array_equal(mine, theirs), layer.name
    # the two donors differ, so the check above tells them apart
    assert not np.array_equal(note_model.get_layer("conv0").get_weights()[0],
                              pedal_model.get_layer("conv0").get_weights()[0])  # fmt: skip
