"""`piano-ai train`'s architecture: a resumed run's own, else the starting weights', else defaults."""

from dataclasses import replace

from piano_ai.commands.train import run_model_config
from piano_ai.model import ModelConfig


def test_a_new_run_takes_the_architecture_of_the_weights_it_starts_from(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    replace(ModelConfig(), head_lstm_units=96).save(model_dir / "config.json")
    config = run_model_config(tmp_path / "run", model_dir / "model.weights.h5")
    assert config.head_lstm_units == 96


def test_a_resumed_run_keeps_its_own_architecture(tmp_path):
    (tmp_path / "run").mkdir()
    replace(ModelConfig(), lstm_units=64).save(tmp_path / "run" / "config.json")
    replace(ModelConfig(), lstm_units=128).save(tmp_path / "config.json")
    assert run_model_config(tmp_path / "run", tmp_path / "w.h5").lstm_units == 64


def test_without_either_the_defaults(tmp_path):
    assert run_model_config(tmp_path / "run", None) == ModelConfig()
    assert run_model_config(tmp_path / "run", tmp_path / "loose.weights.h5") == ModelConfig()
