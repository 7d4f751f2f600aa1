"""model.int8.onnx: int8 convolutions at calibrated scales kept beside the model, so written again alike."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from piano_ai import inference, quantize
from piano_ai.constants import N_MELS

SHIPPED = inference.DEFAULT_MODEL_DIR


def op_types(path: Path) -> Counter[str]:
    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def float32_model(folder: Path) -> Path:
    (folder / quantize.ONNX_FILE).write_bytes((SHIPPED / quantize.ONNX_FILE).read_bytes())
    return folder


def test_the_shipped_int8_model_is_the_shipped_model_quantized_at_its_ranges(tmp_path: Path) -> None:
    """Quantization is deterministic: model.int8.onnx must be rewritten whenever model.onnx changes
    (training.fit.export does it, calibrating on the run's data; by hand: python -m piano_ai.quantize)."""
    float32_model(tmp_path)
    (tmp_path / quantize.RANGES_FILE).write_bytes((SHIPPED / quantize.RANGES_FILE).read_bytes())
    fresh = quantize.write_int8(tmp_path).read_bytes()
    assert fresh == (SHIPPED / quantize.INT8_FILE).read_bytes()


def test_the_convolutions_but_the_first_are_int8_and_the_lstms_too() -> None:
    shipped = op_types(SHIPPED / quantize.INT8_FILE)
    assert shipped["Conv"] == 3  # each between QuantizeLinear / DequantizeLinear pairs, but the first
    assert quantize._one_channel_convolutions(SHIPPED / quantize.ONNX_FILE) == ["Conv__554"]
    assert shipped["QuantizeLinear"] >= 4 and shipped["DynamicQuantizeLSTM"] == 3
    assert shipped["LSTM"] == 0 and shipped["MatMul"] == 0


def test_calibration_writes_the_ranges_and_they_give_the_same_model_again(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    windows = [rng.normal(-5, 2, (64, N_MELS)).astype(np.float32) for _ in range(3)]
    calibrated = quantize.write_int8(float32_model(tmp_path), windows).read_bytes()
    ranges = json.loads((tmp_path / quantize.RANGES_FILE).read_text())
    assert ranges["CLS"] == "TensorsData" and len(ranges["data"]) >= 4
    assert quantize.write_int8(tmp_path).read_bytes() == calibrated
    louder = [window + 6 for window in windows]  # other data, other ranges, another model
    assert quantize.write_int8(tmp_path, louder).read_bytes() != calibrated


def test_without_ranges_the_convolutions_stay_float32(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = quantize.write_int8(float32_model(tmp_path))
    assert "no int8_ranges.json" in caplog.text
    types = op_types(path)
    assert types["Conv"] == 3 and types["QuantizeLinear"] == 0 and types["DynamicQuantizeLSTM"] == 3


def test_calibration_windows_spread_over_the_clips_of_every_dataset(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name / "train").mkdir(parents=True)
        for i in range(3):
            mel = np.full((600, N_MELS), 10 * (name == "b") + i, np.float16)
            np.savez(tmp_path / name / "train" / f"clip{i}.npz", mel=mel)
    windows = quantize.calibration_windows([tmp_path / "a", tmp_path / "b", tmp_path / "a"], count=3)
    assert [w.shape for w in windows] == [(quantize.CALIBRATION_FRAMES, N_MELS)] * 3
    assert [float(w[0, 0]) for w in windows] == [0.0, 2.0, 12.0]  # the first, third and last of six
    assert all(w.dtype == np.float32 for w in windows)
    assert quantize.calibration_windows([tmp_path / "missing"]) == []
