"""The training loop: compile, fit with early stopping / LR decay / checkpoints, resume, export."""

import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from piano_ai.model import ModelConfig, backbone, build_model, front, heads
from piano_ai.quantize import RANGES_FILE, calibration_windows, write_int8
from piano_ai.training.config import TrainConfig
from piano_ai.training.dataset import Clip, augment, batches_random, fixed_windows, load_clips
from piano_ai.training.losses import head_losses

log = logging.getLogger(__name__)
BEST_WEIGHTS = "best.weights.h5"
PEDAL_LAYERS = ("pedal_bilstm", "pedal")  # what freeze="all-but-pedal" leaves to learn
EPOCHS_DIR = "epochs"  # every epoch's weights, 000.weights.h5 ... (numbered as log.csv numbers epochs)


def train(cfg: TrainConfig, model_config: ModelConfig, init_weights: Path | None = None) -> Path:
    """Train (or resume) a run in cfg.run_dir; returns the path of the best weights."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "train_config.json")
    model_config.save(run_dir / "config.json")
    keras.utils.set_random_seed(cfg.seed)

    train_clips = [c for place in cfg.data.split(",") for c in load_clips(place, "train", cfg.note_ends)]
    val_places = (cfg.val_data or cfg.data).split(",")
    val_clips = [c for place in val_places for c in load_clips(place, "val", cfg.note_ends)]
    model = build_model(model_config)
    if init_weights:
        warm_start(model, init_weights)
    freeze(model, cfg.freeze)
    losses, weights = head_losses(cfg, heads(model_config))
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate, clipnorm=3.0), loss=losses, loss_weights=weights
    )
    model.fit(
        _RandomWindows(train_clips, cfg, heads(model_config)),
        validation_data=_FixedWindows(val_clips, cfg, heads(model_config)),
        epochs=cfg.epochs,
        callbacks=_callbacks(cfg, run_dir),
        verbose=2,
    )
    return run_dir / BEST_WEIGHTS


def warm_start(model, weights: Path) -> list[str]:  # noqa: ANN001 - a keras.Model
    """Load ``weights`` into ``model``; returns the names of the layers that were not initialised.

    Weights of the same architecture load whole. Otherwise the model they were saved from is rebuilt from
    the config.json beside them and every layer whose name and weight shapes match is copied, so a
    grown model (say, with a head BiLSTM added) starts from a trained one; the rest keep their init.
    """
    try:
        model.load_weights(weights)
        log.info("initialised from %s", weights)
        return []
    except ValueError:
        config_path = config_of(Path(weights))
        if config_path is None:
            raise
    source = build_model(ModelConfig.load(config_path))
    source.load_weights(weights)
    by_name = {layer.name: layer for layer in source.layers}
    fresh = []
    for layer in model.layers:
        twin = by_name.get(layer.name)
        shapes = [w.shape for w in layer.get_weights()]
        if twin is not None and shapes == [w.shape for w in twin.get_weights()]:
            layer.set_weights(twin.get_weights())
        elif shapes:
            fresh.append(layer.name)
    log.info("initialised from %s except %s (new or reshaped layers)", weights, ", ".join(fresh))
    return fresh


def config_of(weights: Path) -> Path | None:
    """The config.json of the model ``weights`` were saved from: beside them (a model directory, a run's
    best weights) or, for an epoch's weights (RUN_DIR/epochs/NNN.weights.h5), in the run directory."""
    for folder in (weights.parent, weights.parent.parent if weights.parent.name == EPOCHS_DIR else None):
        if folder is not None and (folder / "config.json").is_file():
            return folder / "config.json"
    return None


def freeze(model, part: str) -> None:  # noqa: ANN001 - a keras.Model
    """Keep ``part`` (TrainConfig.freeze's choices) as it is: its weights and batch statistics."""
    if part == "backbone":
        frozen = backbone(model)
    elif part == "front":
        frozen = front(model)
    elif part == "all-but-pedal":
        frozen = [layer for layer in model.layers if layer.name not in PEDAL_LAYERS]
    else:
        return
    for layer in frozen:
        layer.trainable = False
    log.info("frozen: %s", ", ".join(layer.name for layer in frozen))


def _callbacks(cfg: TrainConfig, run_dir: Path) -> list:
    import keras

    return [
        # kept after the run ends, so calling the same run again with more epochs continues it
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / BEST_WEIGHTS), monitor="val_loss", save_best_only=True, save_weights_only=True
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.early_stop_patience),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=cfg.lr_decay_factor, patience=cfg.lr_patience, min_lr=1e-5
        ),
        keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=True),
        _time_limit_callback(cfg.max_hours),
        _every_epoch_callback(run_dir / EPOCHS_DIR),
    ]


def _dataset_base():
    import keras

    return keras.utils.PyDataset


class _RandomWindows(_dataset_base()):  # type: ignore[misc]
    """cfg.steps_per_epoch random batches, drawn afresh every epoch."""

    def __init__(self, clips: list[Clip], cfg: TrainConfig, heads: tuple[str, ...]) -> None:
        super().__init__()
        self.clips, self.cfg, self.heads, self.epoch = clips, cfg, heads, 0

    def __len__(self) -> int:
        return self.cfg.steps_per_epoch

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.cfg.seed, self.epoch, index])
        mel, targets = batches_random(self.clips, self.cfg.window_frames, self.cfg.batch_size, rng)
        mel = augment(mel, rng, self.cfg.gain_db, self.cfg.tilt_db)
        return mel, {h: targets[h] for h in self.heads}

    def on_epoch_end(self) -> None:
        self.epoch += 1


class _FixedWindows(_dataset_base()):  # type: ignore[misc]
    """The validation clips cut into consecutive windows, in a fixed order."""

    def __init__(self, clips: list[Clip], cfg: TrainConfig, heads: tuple[str, ...]) -> None:
        super().__init__()
        self.items, self.batch = fixed_windows(clips, cfg.window_frames), cfg.batch_size
        self.heads = heads

    def __len__(self) -> int:
        return (len(self.items) + self.batch - 1) // self.batch

    def __getitem__(self, index: int):
        chunk = self.items[index * self.batch : (index + 1) * self.batch]
        mel = np.stack([m for m, _ in chunk])
        return mel, {k: np.stack([t[k] for _, t in chunk]) for k in self.heads}


def _time_limit_callback(max_hours: float):
    import keras

    class TimeLimit(keras.callbacks.Callback):
        """Stops training after max_hours of wall time; BackupAndRestore lets a later run continue."""

        def __init__(self) -> None:
            super().__init__()
            self.deadline = time.time() + max_hours * 3600 if max_hours > 0 else None

        def on_epoch_end(self, epoch: int, logs=None) -> None:
            if self.deadline and time.time() > self.deadline:
                log.info("time limit of %.2f h reached after epoch %d", max_hours, epoch + 1)
                self.model.stop_training = True

    return TimeLimit()


def _every_epoch_callback(folder: Path):
    import keras

    class EveryEpoch(keras.callbacks.Callback):
        """Keeps each epoch's weights, so checkpoints other than the best can be scored or averaged."""

        def on_epoch_end(self, epoch: int, logs=None) -> None:
            folder.mkdir(parents=True, exist_ok=True)
            self.model.save_weights(folder / epoch_weights_name(epoch))

    return EveryEpoch()


def epoch_weights_name(epoch: int) -> str:
    return f"{epoch:03d}.weights.h5"


def export(run_dir: Path, out_dir: Path, weights: Path | None = None) -> Path:
    """Write a servable model directory: config.json, model.weights.h5, model.onnx (and its int8 copy,
    model.int8.onnx, for runtime "onnx-int8", calibrated on the run's training data where it is at hand:
    piano_ai.quantize), train_config.json."""

    out_dir.mkdir(parents=True, exist_ok=True)
    config = ModelConfig.load(run_dir / "config.json")
    model = build_model(config)
    model.load_weights(weights or run_dir / BEST_WEIGHTS)
    model(np.zeros((1, 64, config.n_mels), np.float32))  # build before export
    model.save_weights(out_dir / "model.weights.h5")
    config.save(out_dir / "config.json")
    shutil.copy(run_dir / "train_config.json", out_dir / "train_config.json")
    model.export(str(out_dir / "model.onnx"), format="onnx", verbose=False)
    calibration = calibration_windows([Path(p) for p in _train_data(run_dir)])
    if not calibration:  # an earlier export's ranges belong to other weights
        (out_dir / RANGES_FILE).unlink(missing_ok=True)
    write_int8(out_dir, calibration or None)
    log.info("exported %s (%s) to %s", run_dir, asdict(config), out_dir)
    return out_dir


def _train_data(run_dir: Path) -> list[str]:
    """The training datasets the run's train_config.json names (paths as given: relative to where it ran)."""
    data = json.loads((run_dir / "train_config.json").read_text()).get("data") or ""
    return [path for path in data.split(",") if path]
