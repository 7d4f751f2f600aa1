"""Training hyperparameters in one dataclass, saved beside the checkpoints as train_config.json."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

FREEZES = ("", "backbone", "front", "all-but-pedal")


@dataclass(frozen=True)
class TrainConfig:
    data: str = "data/rendered/v2"  # dataset(s) to train on: folders or gs://bucket/prefix, comma-separated
    val_data: str = ""  # dataset(s) whose val split measures progress; empty = the same as data
    run_dir: str = "runs/default"  # checkpoints, logs and the exported model go here
    window_frames: int = 320  # frames per training example (10.2 s)
    batch_size: int = 16  # windows per step
    steps_per_epoch: int = 250  # random windows are drawn afresh each epoch
    epochs: int = 200  # upper bound; early stopping usually ends sooner
    learning_rate: float = 1e-3  # Adam's initial rate
    lr_decay_factor: float = 0.5  # ReduceLROnPlateau multiplies the rate by this
    lr_patience: int = 3  # epochs without val-loss improvement before the rate decays
    early_stop_patience: int = 8  # epochs without val-loss improvement before training stops
    onset_pos_weight: float = 8.0  # weight of positive onset frames in the BCE: onsets are ~1% of frames
    offset_pos_weight: float = 4.0  # likewise for offsets
    velocity_loss_weight: float = 1.0  # masked MSE on velocity at true onsets
    pedal_loss_weight: float = 0.5  # masked BCE of the sustain-pedal head (models that have one)
    note_ends: str = "sound"  # frame/offset targets end at the "sound" (pedal applied) or at "key" release
    # "backbone": conv front, first BiLSTM and onset head stay as initialised (faster steps);
    # "front": input norm, conv layers and embedding stay; the BiLSTMs and every head learn;
    # "all-but-pedal": only the pedal head's BiLSTM and output learn (every other output stays as it was)
    freeze: str = ""
    gain_db: float = 0.0  # each training window's level moved by a random gain within +-this (0 = none)
    tilt_db: float = 0.0  # and its spectrum tilted: the top mel band moved up to +-this against the bottom
    seed: int = 1234  # window sampling and weight init
    max_hours: float = 0.0  # stop after this much wall time (0 = no limit); resumable afterwards

    def __post_init__(self) -> None:
        if self.freeze not in FREEZES:
            raise ValueError(
                f"freeze: expected one of {', '.join(FREEZES[1:])} or nothing, got {self.freeze!r}"
            )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
