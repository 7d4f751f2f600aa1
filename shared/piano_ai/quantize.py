"""model.int8.onnx: the float32 model.onnx with int8 weights, written once beside it (runtime "onnx-int8").

Two passes of onnxruntime.quantization:
1. Static quantization of the convolutions but the first, with the ReLUs and poolings after them: weights
   int8 per channel, activations uint8 at fixed scales calibrated on real log-mel (Q/DQ pairs that ONNX
   Runtime runs as QLinearConv and a uint8 pooling; a chunk 13.3 ms with the convolutions alone, 10.9 ms
   with their ReLUs and poolings, against 18.7 ms with every convolution float32, one thread). The calibrated
   ranges are kept beside the model (RANGES_FILE, ONNX Runtime's calibration cache), so the file can be
   written again, byte for byte, without the data. Fixed scales keep a chunk's outputs independent of the
   chunks beside it. The first convolution reads one channel, where QLinearConv took 3.0 ms a chunk against
   float32's 0.7 ms, so it stays float32.
2. Dynamic quantization of the MatMul and LSTM weights (their inputs scaled per call).

A model with no ranges and no calibration data gets the second pass only (float32 convolutions).

    python -m piano_ai.quantize MODEL_DIR                    # again, at the ranges kept beside it
    python -m piano_ai.quantize MODEL_DIR --calibrate data/rendered/maps,data/rendered/v15
"""

import argparse
import logging
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from piano_ai.types import FloatArray

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
RANGES_FILE = "int8_ranges.json"  # the calibrated ranges of the int8 convolutions' inputs and outputs
STATIC_OP_TYPES = ("Conv", "Relu", "MaxPool")  # quantized at calibrated scales
DYNAMIC_OP_TYPES = ("MatMul", "LSTM")  # quantized with their inputs scaled per call
CALIBRATION_WINDOWS = 64  # log-mel windows the ranges are calibrated on
CALIBRATION_FRAMES = 512  # frames a window (piano_ai.inference.CHUNK_FRAMES)


def write_int8(model_dir: Path, calibration: Iterable[FloatArray] | None = None) -> Path:
    """Quantize model_dir's model.onnx into model.int8.onnx beside it.

    calibration: (frames, N_MELS) log-mel windows to calibrate the convolutions on, which (re)writes
    RANGES_FILE; None: the ranges already in RANGES_FILE, else float32 convolutions.
    """
    out = model_dir / INT8_FILE
    out.write_bytes(quantized_int8(model_dir / ONNX_FILE, model_dir / RANGES_FILE, calibration))
    return out


def quantized_int8(
    onnx_path: Path, ranges: Path | None = None, calibration: Iterable[FloatArray] | None = None
) -> bytes:
    """model.onnx quantized as write_int8 does, as serialized ONNX bytes; ``ranges`` is read, or written
    when ``calibration`` is given."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="piano-ai-int8-") as folder:
        source = onnx_path
        if ranges is not None and (calibration is not None or ranges.is_file()):
            if calibration is not None:
                ranges.unlink(missing_ok=True)
            source = Path(folder) / "conv.onnx"
            _quantize_convolutions(onnx_path, source, ranges, calibration)
            ranges.chmod(0o644)  # ONNX Runtime writes it through mkstemp (0600)
        elif ranges is not None:
            log.warning("%s has no %s: its convolutions stay float32 in int8", onnx_path.parent, ranges.name)
        out = Path(folder) / INT8_FILE
        quantize_dynamic(
            source, out, op_types_to_quantize=list(DYNAMIC_OP_TYPES), weight_type=QuantType.QInt8
        )
        return out.read_bytes()


def _quantize_convolutions(
    onnx_path: Path, out: Path, ranges: Path, calibration: Iterable[FloatArray] | None
) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Windows(CalibrationDataReader):
        def __init__(self, windows: Iterable[FloatArray]) -> None:
            self._windows = iter(windows)
            self._input = onnx.load(str(onnx_path), load_external_data=False).graph.input[0].name

        def get_next(self) -> dict[str, FloatArray] | None:
            window = next(self._windows, None)
            return None if window is None else {self._input: window[None].astype(np.float32)}

    quantize_static(
        onnx_path,
        out,
        Windows(calibration) if calibration is not None else None,
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(STATIC_OP_TYPES),
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=_one_channel_convolutions(onnx_path),
        calibration_cache_path=ranges,
    )


def _one_channel_convolutions(onnx_path: Path) -> list[str]:
    """The names of the Conv nodes whose weights read one input channel (the first, on the log-mel)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    shapes = {tensor.name: numpy_helper.to_array(tensor).shape for tensor in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type == "Conv"
        and len(shapes.get(node.input[1], ())) == 4
        and shapes[node.input[1]][1] == 1
    ]


def calibration_windows(datasets: Sequence[Path], count: int = CALIBRATION_WINDOWS) -> list[FloatArray]:
    """``count`` log-mel windows of CALIBRATION_FRAMES from the clips of rendered datasets (each one's
    train/ folder of .npz clips, as piano_ai.data.build writes them), spread evenly over them in name
    order; [] where the folders hold no clips."""
    clips = sorted({path for folder in datasets for path in (Path(folder) / "train").glob("*.npz")})
    picks = np.linspace(0, len(clips) - 1, min(count, len(clips))).round().astype(int) if clips else ()
    windows = []
    for index in picks:
        with np.load(clips[index]) as clip:
            windows.append(clip["mel"][:CALIBRATION_FRAMES].astype(np.float32))
    return windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write MODEL_DIR/model.int8.onnx from its model.onnx.")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument(
        "--calibrate", default="", help="comma-separated rendered datasets to calibrate the ranges on"
    )
    args = parser.parse_args(argv)
    datasets = [Path(path) for path in args.calibrate.split(",") if path]
    calibration = calibration_windows(datasets) if datasets else None
    if datasets and not calibration:
        parser.error(f"no clips in {args.calibrate} (each dataset's train/*.npz)")
    print(write_int8(args.model_dir, calibration))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
