"""The CNN-BiLSTM transcription model: architecture only (training lives in piano_ai.training).

Pure Keras 3 layers, no tf.* ops, so the model exports cleanly to ONNX.
Input: log-mel (batch, frames, N_MELS). Outputs, each (batch, frames, N_KEYS) in 0..1:
onset, frame, offset and velocity (MIDI velocity / 127); with ``pedal_head``, also pedal (batch, frames, 1):
the probability that the sustain pedal is down.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from piano_ai.constants import HOP_LENGTH, N_KEYS, N_MELS, SAMPLE_RATE

HEADS = ("onset", "frame", "offset", "velocity")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyperparameters; saved as config.json beside the weights."""

    n_mels: int = N_MELS  # input bins; must match piano_ai.constants
    n_keys: int = N_KEYS  # output pitches
    sample_rate: int = SAMPLE_RATE  # Hz, recorded so a model with other constants is refused
    hop_length: int = HOP_LENGTH  # samples, as above
    conv_channels: tuple[int, ...] = (16, 24, 32)  # 3x3 conv blocks, each followed by a /2 pool over mel bins
    dense_units: int = 192  # per-frame embedding after the CNN
    lstm_units: int = 96  # per direction of the BiLSTM
    # per direction of a second BiLSTM that feeds the frame, offset and velocity heads (0 = none: every
    # head reads the first BiLSTM). It sees the CNN embedding, the first BiLSTM and the onset head.
    head_lstm_units: int = 0
    dropout: float = 0.25  # after the CNN and the dense layer (training only)
    pedal_head: bool = False  # a sustain-pedal output (frames, 1)
    # per direction of the pedal head's own BiLSTM over the CNN embedding and the first BiLSTM: the pedal is
    # heard in how the whole sound decays and resonates, over seconds, not in one key's onsets
    pedal_lstm_units: int = 32
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes (training run, date)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "ModelConfig":
        raw = json.loads(path.read_text())
        raw["conv_channels"] = tuple(raw["conv_channels"])
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def heads(config: ModelConfig) -> tuple[str, ...]:
    """Names of the model's outputs."""
    return HEADS + (("pedal",) if config.pedal_head else ())


def build_model(config: ModelConfig):  # -> keras.Model
    """Keras model: (batch, frames, n_mels) log-mel -> dict of four (batch, frames, n_keys) outputs."""
    import keras
    from keras import layers

    mel = keras.Input(shape=(None, config.n_mels), name="mel")
    # Per-bin affine normalisation learned from data; log-mel values are roughly -11.5..+5.
    x = layers.BatchNormalization(name="input_norm")(mel)
    x = layers.Reshape((-1, config.n_mels, 1))(x)  # (batch, frames, bins, 1)
    bins = config.n_mels
    for i, channels in enumerate(config.conv_channels):
        x = layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"conv{i}_bn")(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(pool_size=(1, 2), name=f"pool{i}")(x)
        bins //= 2
    x = layers.Reshape((-1, bins * config.conv_channels[-1]))(x)  # (batch, frames, bins * channels)
    x = layers.Dropout(config.dropout)(x)
    x = layers.Dense(config.dense_units, activation="relu", name="embed")(x)
    embed = layers.Dropout(config.dropout)(x)
    x = layers.Bidirectional(layers.LSTM(config.lstm_units, return_sequences=True), name="bilstm")(embed)
    first = x

    onset = layers.Dense(config.n_keys, activation="sigmoid", name="onset")(x)
    if config.head_lstm_units:
        both = layers.Concatenate(name="head_in")([embed, x, onset])
        lstm = layers.LSTM(config.head_lstm_units, return_sequences=True)
        x = layers.Bidirectional(lstm, name="head_bilstm")(both)
    offset = layers.Dense(config.n_keys, activation="sigmoid", name="offset")(x)
    velocity = layers.Dense(config.n_keys, activation="sigmoid", name="velocity")(x)
    # The frame head sees the onset and offset predictions (as in Onsets and Frames): notes start at onsets.
    frame_in = layers.Concatenate()([x, onset, offset])
    frame = layers.Dense(config.n_keys, activation="sigmoid", name="frame")(frame_in)
    outputs = {"onset": onset, "frame": frame, "offset": offset, "velocity": velocity}
    if config.pedal_head:
        pedal_in = layers.Concatenate(name="pedal_in")([embed, first])
        pedal_lstm = layers.LSTM(config.pedal_lstm_units, return_sequences=True)
        pedal = layers.Bidirectional(pedal_lstm, name="pedal_bilstm")(pedal_in)
        outputs["pedal"] = layers.Dense(1, activation="sigmoid", name="pedal")(pedal)
    return keras.Model(inputs=mel, outputs=outputs, name="piano_ai_cnn_bilstm")


def backbone(model) -> list:  # noqa: ANN001 - a keras.Model built by build_model
    """The layers up to the onset head (input norm, conv front, embedding, first BiLSTM, onset): what a
    run with ``freeze="backbone"`` keeps as initialised, so only the heads after them learn."""
    return [*front(model), *(layer for layer in model.layers if layer.name in ("bilstm", "onset"))]


def front(model) -> list:  # noqa: ANN001 - a keras.Model built by build_model
    """The acoustic front (input norm, conv layers and their batch norms, embedding): what a run with
    ``freeze="front"`` keeps as initialised, so the BiLSTMs and every head learn on its features."""
    return [
        layer
        for layer in model.layers
        if layer.name in ("input_norm", "embed") or layer.name.startswith("conv")
    ]
