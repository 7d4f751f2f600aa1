"""`piano-ai train` end to end on a tiny rendered dataset: warm start into a grown model, checkpoints,
the CSV log, resume, and an exported model directory that the serving code loads on both runtimes."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from piano_ai.activations import QUANT_LEVELS
from piano_ai.cli import main as cli_main
from piano_ai.model import ModelConfig

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[3] / "shared/piano_ai/weights/default/model.weights.h5"
BUILD = ["--seed", "9", "--hours-train", "0.004", "--hours-val", "0.003", "--sources", "synthetic",
         "--instruments", "fluidr3", "--augment", "light"]  # fmt: skip
SMALL_RUN = ["--window-frames", "64", "--batch-size", "2", "--steps-per-epoch", "2"]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "tiny"
    assert cli_main(["data", "build", "--out", str(out), *BUILD]) == 0
    return out


def _train(dataset: Path, run_dir: Path, *extra: str) -> None:
    args = ["train", "--data", str(dataset), "--run-dir", str(run_dir), *SMALL_RUN, *extra]
    assert cli_main(args) == 0


def test_warm_started_run_grows_the_model_logs_and_exports(tiny_dataset, tmp_path, caplog):
    import keras

    from piano_ai.model import build_model

    run_dir, out = tmp_path / "run", tmp_path / "model"
    caplog.set_level("INFO", logger="piano_ai.training.fit")
    _train(tiny_dataset, run_dir, "--epochs", "1", "--head-lstm-units", "8",
           "--init-weights", str(DEFAULT_WEIGHTS), "--export-to", str(out))  # fmt: skip

    assert "except head_bilstm, offset, frame, velocity" in caplog.text  # the rest: shipped model
    assert ModelConfig.load(run_dir / "config.json").head_lstm_units == 8
    assert json.loads((run_dir / "train_config.json").read_text())["window_frames"] == 64
    rows = list(csv.DictReader((run_dir / "log.csv").open()))
    assert [r["epoch"] for r in rows] == ["0"] and np.isfinite(float(rows[0]["val_loss"]))
    assert (run_dir / "best.weights.h5").exists()

    # The trunk is the shipped model's, moved by two small steps at most.
    shipped = build_model(ModelConfig.load(DEFAULT_WEIGHTS.parent / "config.json"))
    shipped.load_weights(DEFAULT_WEIGHTS)
    grown = build_model(ModelConfig.load(out / "config.json"))
    grown.load_weights(out / "model.weights.h5")
    before, after = shipped.get_layer("conv1").get_weights()[0], grown.get_layer("conv1").get_weights()[0]
    assert np.abs(after - before).max() < 0.05 * np.abs(before).max()
    keras.backend.clear_session()

    # The exported directory serves: ONNX and Keras agree on the same audio.
    from piano_ai.inference import load_transcriber

    mel = np.random.default_rng(0).normal(-4.0, 2.0, (300, ModelConfig().n_mels)).astype(np.float32)
    onnx = load_transcriber(out, runtime="onnx").predict(mel)
    kers = load_transcriber(out, runtime="keras").predict(mel)
    np.testing.assert_allclose(onnx.frame, kers.frame, atol=1 / QUANT_LEVELS + 1e-4)  # a step apart at most
    # ... and its int8 copy has int8 convolutions, calibrated on the run's training clips
    assert (out / "int8_ranges.json").is_file()
    int8 = load_transcriber(out, runtime="onnx-int8").predict(mel)
    assert np.abs(int8.frame - onnx.frame).max() < 0.2


def test_a_stopped_run_resumes_at_the_next_epoch(tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    _train(tiny_dataset, run_dir, "--epochs", "1")
    _train(tiny_dataset, run_dir, "--epochs", "2")  # the same run, asked for one more epoch
    epochs = [r["epoch"] for r in csv.DictReader((run_dir / "log.csv").open())]
    assert epochs == ["0", "1"]
    kept = sorted(p.name for p in (run_dir / "epochs").iterdir())
    assert kept == ["000.weights.h5", "001.weights.h5"]  # every epoch's weights, numbered as the log


FRONT = ("input_norm", "conv0", "conv2_bn", "embed")  # the acoustic front, weights and BN statistics


@pytest.mark.parametrize(
    ("part", "kept", "learned"),
    [("backbone", (*FRONT, "bilstm", "onset"), ("frame",)), ("front", FRONT, ("bilstm", "onset", "frame"))],
)
def test_a_frozen_part_keeps_its_weights_and_the_rest_learns(tiny_dataset, tmp_path, part, kept, learned):
    import keras

    from piano_ai.model import build_model

    run_dir, out = tmp_path / "run", tmp_path / "model"
    init = ["--init-weights", str(DEFAULT_WEIGHTS), "--export-to", str(out)]
    _train(tiny_dataset, run_dir, "--epochs", "1", "--pedal-head", "--freeze", part,
           "--learning-rate", "0.01", *init)  # fmt: skip

    shipped = build_model(ModelConfig.load(DEFAULT_WEIGHTS.parent / "config.json"))
    shipped.load_weights(DEFAULT_WEIGHTS)
    tuned = build_model(ModelConfig.load(out / "config.json"))
    tuned.load_weights(out / "model.weights.h5")

    def pairs(name: str) -> list:
        before, after = shipped.get_layer(name).get_weights(), tuned.get_layer(name).get_weights()
        return list(zip(before, after, strict=True))

    for name in kept:
        for before, after in pairs(name):
            np.testing.assert_array_equal(before, after, err_msg=name)
    for name in learned:
        assert max(np.abs(a - b).max() for a, b in pairs(name)) > 0, name
    keras.backend.clear_session()


def test_all_but_the_pedal_frozen_keeps_every_other_output(tiny_dataset, tmp_path):
    import keras

    from piano_ai.model import build_model

    run_dir, out = tmp_path / "run", tmp_path / "model"
    init = ["--init-weights", str(DEFAULT_WEIGHTS), "--export-to", str(out)]
    _train(tiny_dataset, run_dir, "--epochs", "1", "--pedal-head", "--freeze", "all-but-pedal",
           "--pedal-loss-weight", "1", "--learning-rate", "0.01", *init)  # fmt: skip

    shipped = build_model(ModelConfig.load(DEFAULT_WEIGHTS.parent / "config.json"))
    shipped.load_weights(DEFAULT_WEIGHTS)
    tuned = build_model(ModelConfig.load(out / "config.json"))
    tuned.load_weights(out / "model.weights.h5")
    changed = set()
    for before, after in zip(shipped.layers, tuned.layers, strict=True):  # auto-named layers differ by name
        pairs = zip(before.get_weights(), after.get_weights(), strict=True)
        if any(np.any(a != b) for a, b in pairs):
            changed.add(before.name)
    assert changed == {"pedal_bilstm", "pedal"}
    keras.backend.clear_session()


def test_a_new_pedal_size_starts_the_pedal_head_afresh_beside_the_kept_model(tiny_dataset, tmp_path):
    import keras

    from piano_ai.model import build_model

    run_dir, out = tmp_path / "run", tmp_path / "model"
    init = ["--init-weights", str(DEFAULT_WEIGHTS), "--export-to", str(out)]
    _train(
        tiny_dataset, run_dir, "--epochs", "1", "--pedal-lstm-units", "8", "--freeze", "all-but-pedal", *init
    )

    assert ModelConfig.load(out / "config.json").pedal_lstm_units == 8
    shipped = build_model(ModelConfig.load(DEFAULT_WEIGHTS.parent / "config.json"))
    shipped.load_weights(DEFAULT_WEIGHTS)
    tuned = build_model(ModelConfig.load(out / "config.json"))
    tuned.load_weights(out / "model.weights.h5")
    for name in ("conv0", "bilstm", "onset", "head_bilstm", "frame", "velocity"):
        pairs = zip(shipped.get_layer(name).get_weights(), tuned.get_layer(name).get_weights(), strict=True)
        for before, after in pairs:
            np.testing.assert_array_equal(before, after, err_msg=name)
    assert tuned.get_layer("pedal").get_weights()[0].shape == (16, 1)
    keras.backend.clear_session()


def test_an_unknown_freeze_is_refused_before_training(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="freeze"):
        _train(tiny_dataset, tmp_path / "run", "--epochs", "1", "--freeze", "everything")


def test_a_run_starts_from_another_runs_epoch(tiny_dataset, tmp_path):
    import keras

    from piano_ai.model import build_model

    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "model"
    _train(tiny_dataset, first, "--epochs", "1", "--pedal-head", "--freeze", "backbone",
           "--init-weights", str(DEFAULT_WEIGHTS))  # fmt: skip
    epoch = first / "epochs" / "000.weights.h5"
    _train(tiny_dataset, second, "--epochs", "1", "--pedal-head", "--freeze", "all-but-pedal",
           "--init-weights", str(epoch), "--export-to", str(out))  # fmt: skip

    source = build_model(ModelConfig.load(first / "config.json"))
    source.load_weights(epoch)
    tuned = build_model(ModelConfig.load(out / "config.json"))
    tuned.load_weights(out / "model.weights.h5")
    for name in ("conv1", "bilstm", "frame"):  # frozen in the second run: the first run's epoch, exactly
        before, after = source.get_layer(name).get_weights(), tuned.get_layer(name).get_weights()
        for old, new in zip(before, after, strict=True):
            np.testing.assert_array_equal(old, new, err_msg=name)
    keras.backend.clear_session()
