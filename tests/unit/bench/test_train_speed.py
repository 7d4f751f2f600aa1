"""train_speed: times real training steps of the model piano-ai train builds."""

from pathlib import Path

import pytest
from script_loader import load_script

from piano_ai.model import ModelConfig

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench" / "train_speed.py"

speed = load_script(SCRIPT)


def test_a_small_model_trains_a_step_and_reports_its_time() -> None:
    config = ModelConfig(conv_channels=(4, 4, 4), dense_units=16, lstm_units=8, head_lstm_units=8)
    assert 0 < speed.step_seconds(config, batch_size=2, window_frames=32, steps=2) < 60


@pytest.mark.parametrize("batch, frames, steps", [(0, 32, 1), (1, 0, 1), (1, 32, 0)])
def test_nothing_to_time_is_refused_before_building_the_model(batch: int, frames: int, steps: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        speed.step_seconds(ModelConfig(), batch_size=batch, window_frames=frames, steps=steps)
