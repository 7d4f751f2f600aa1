"""The decoding networks' trainers cache a model's outputs under its name and a digest of its weights."""

from piano_ai.training.maps_fit import cache_name


def test_new_weights_in_the_same_place_get_a_new_cache(tmp_path):
    model = tmp_path / "run" / "model"
    model.mkdir(parents=True)
    (model / "model.onnx").write_bytes(b"first weights")
    first = cache_name(str(model))
    cache_name.cache_clear()
    (model / "model.onnx").write_bytes(b"second weights")
    second = cache_name(str(model))
    assert first.startswith("model-") and second.startswith("model-") and first != second


def test_the_shipped_model_is_named_as_such():
    name = cache_name(None)
    assert name.startswith("shipped-") and len(name) == len("shipped-") + 12
