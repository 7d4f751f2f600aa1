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


def test_render_samples_describe_each_training_clip_against_its_marked_notes(tmp_path):
    import json
    from pathlib import Path

    import numpy as np

    from piano_ai.audio import decode
    from piano_ai.data.targets import notes_to_targets
    from piano_ai.evaluation.evaluate import reference_notes
    from piano_ai.features import log_mel
    from piano_ai.training.maps_fit import render_samples

    golden = Path(__file__).parents[2] / "data" / "golden"
    mel = log_mel(decode(golden / "clip.flac"))
    truth = reference_notes(golden / "clip.mid")
    (tmp_path / "train").mkdir()
    np.savez(
        tmp_path / "train" / "000000.npz", mel=mel.astype(np.float16), **notes_to_targets(truth, len(mel))
    )
    shards = [{"path": "train/000000.npz", "split": "train"}, {"path": "train/000000.npz", "split": "val"}]
    (tmp_path / "manifest.json").write_text(json.dumps({"shards": shards}))
    seen = []

    def samples(act, reference):
        seen.append((act, reference))
        return np.zeros((len(reference), 1), np.float32), np.ones(len(reference), np.int8)

    out = render_samples(str(tmp_path), None, samples)
    assert len(out) == 1 and len(seen) == 1  # the training clip only
    act, reference = seen[0]
    assert act.onset.shape[0] == len(mel) and act.level is not None
    inside = [n for n in truth if n.end < len(mel) * 0.032 - 0.016]
    assert len(reference) == len(inside) > 10
