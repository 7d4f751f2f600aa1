"""Training windows: padding, velocity masking and deterministic sampling."""

import numpy as np
import pytest

from piano_ai.constants import N_KEYS, N_MELS
from piano_ai.training.dataset import (
    MEL_PAD,
    Clip,
    augment,
    batches_random,
    clip_notes,
    fixed_windows,
    load_clips,
    velocity_target,
    window,
)


def _clip(frames: int) -> Clip:
    onset = np.zeros((frames, N_KEYS), np.uint8)
    onset[2, 10] = 1
    velocity = onset * 127
    mel = np.ones((frames, N_MELS), np.float16)
    return Clip(mel, onset, onset.copy(), onset.copy(), velocity.astype(np.uint8))


def test_window_pads_with_silence_and_masks_velocity() -> None:
    mel, targets = window(_clip(5), 0, 8)
    assert mel.shape == (8, N_MELS) and (mel[5:] == MEL_PAD).all() and (mel[:5] == 1).all()
    np.testing.assert_array_equal(targets["velocity"][1:4, 10], [1.0, 1.0, 1.0])  # onset frame 2 +- 1
    assert (targets["velocity"] == -1).sum() == 8 * N_KEYS - 3
    assert targets["onset"].sum() == 1


def test_velocity_target_prefers_the_onset_frame_and_stays_inside() -> None:
    onset = np.zeros((4, N_KEYS), np.uint8)
    velocity = np.zeros((4, N_KEYS), np.uint8)
    onset[[0, 1], 5], velocity[[0, 1], 5] = 1, [127, 0]  # a re-strike one frame later, velocity 0
    onset[3, 7], velocity[3, 7] = 1, 127
    target = velocity_target(onset, velocity, 6)
    np.testing.assert_array_equal(target[:, 5], [1.0, 0.0, 0.0, -1.0, -1.0, -1.0])  # each onset keeps its own
    np.testing.assert_array_equal(target[:, 7], [-1.0, -1.0, 1.0, 1.0, -1.0, -1.0])  # nothing past the clip


def test_random_batches_are_reproducible() -> None:
    clips = [_clip(50), _clip(300)]
    a = batches_random(clips, 64, 4, np.random.default_rng([1, 2]))
    b = batches_random(clips, 64, 4, np.random.default_rng([1, 2]))
    assert a[0].shape == (4, 64, N_MELS)
    np.testing.assert_array_equal(a[0], b[0])


def test_augment_moves_each_window_by_its_own_gain_and_tilt_and_keeps_silence_at_the_floor() -> None:
    mel = np.zeros((3, 4, N_MELS), np.float32)
    mel[:, 2:] = MEL_PAD  # silent frames
    out = augment(mel, np.random.default_rng(0), gain_db=6.0, tilt_db=4.0)
    db = out[:, :2] / (np.log(10.0) / 10.0)  # the sounding frames' change in dB
    assert np.allclose(db[:, 0], db[:, 1])  # one gain and tilt per window, the same in every frame
    steps = np.diff(db[:, 0], axis=-1)
    assert np.allclose(steps, steps[:, :1], atol=1e-4)  # a linear tilt across the bands
    assert (np.abs(db[:, 0].mean(axis=-1)) <= 6.0).all() and (np.abs(db[:, 0, -1] - db[:, 0, 0]) <= 4.0).all()
    assert len({round(float(d), 4) for d in db[:, 0, 0]}) == 3  # each window its own
    assert (out[:, 2:] == MEL_PAD).all()


def test_augment_off_returns_the_windows_unchanged() -> None:
    mel = np.ones((2, 4, N_MELS), np.float32)
    assert augment(mel, np.random.default_rng(0), 0.0, 0.0) is mel


def test_fixed_windows_cover_each_clip() -> None:
    assert len(fixed_windows([_clip(100), _clip(10)], 64)) == 3


def test_pedal_target_is_labelled_where_the_shard_has_a_pedal_and_masked_where_not() -> None:
    unlabelled = _clip(5)
    assert (window(unlabelled, 0, 8)[1]["pedal"] == -1).all()
    pedal = np.array([0, 1, 1, 0, 1], np.uint8)
    labelled = Clip(*(getattr(unlabelled, f) for f in ("mel", "onset", "frame", "offset", "velocity")), pedal)
    target = window(labelled, 1, 8)[1]["pedal"]
    assert target.shape == (8, 1)
    np.testing.assert_array_equal(target[:, 0], [1, 1, 0, 1, 0, 0, 0, 0])  # padding: pedal up


def _dataset(tmp_path, with_key_ends: bool) -> str:
    import json

    frames = 20
    sound = np.zeros((frames, N_KEYS), np.uint8)
    sound[2:15, 10] = 1
    key = np.zeros((frames, N_KEYS), np.uint8)
    key[2:6, 10] = 1
    arrays = {"mel": np.ones((frames, N_MELS), np.float16), "onset": sound * 0, "velocity": sound * 0}
    arrays |= {"frame": sound, "offset": sound}
    if with_key_ends:
        arrays |= {"key_frame": key, "key_offset": key}
    (tmp_path / "train").mkdir()
    np.savez(tmp_path / "train" / "a.npz", **arrays)
    manifest = {"shards": [{"path": "train/a.npz", "split": "train"}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return str(tmp_path)


def test_note_ends_key_trains_frames_to_key_release(tmp_path) -> None:
    location = _dataset(tmp_path, with_key_ends=True)
    assert load_clips(location, "train")[0].frame[:, 10].sum() == 13
    assert load_clips(location, "train", note_ends="key")[0].frame[:, 10].sum() == 4


def test_note_ends_key_refuses_a_dataset_without_key_release_targets(tmp_path) -> None:
    location = _dataset(tmp_path, with_key_ends=False)
    with pytest.raises(ValueError, match="rebuild the dataset"):
        load_clips(location, "train", note_ends="key")
    with pytest.raises(ValueError, match="note_ends"):
        load_clips(location, "train", note_ends="pedal")


def test_clip_notes_reads_the_notes_back_from_the_targets() -> None:
    from piano_ai.data.targets import notes_to_targets
    from piano_ai.types import Note

    notes = [
        Note(60, 0.32, 0.96, 90),
        Note(60, 0.96, 1.6, 40),
        Note(72, 0.64, 0.64, 70),
        Note(40, 1.6, 9.0, 50),
    ]
    t = notes_to_targets(notes, 60)
    clip = Clip(np.zeros((60, N_MELS), np.float16), t["onset"], t["frame"], t["offset"], t["velocity"])
    found = sorted(clip_notes(clip), key=lambda n: (n.start, n.pitch))
    assert [(n.pitch, n.velocity) for n in found] == [(60, 90), (72, 70), (60, 40)]  # 40 ends past the clip
    for note, truth in zip(found, [notes[0], notes[2], notes[1]], strict=True):
        assert abs(note.start - truth.start) <= 0.016 and abs(note.end - truth.end) <= 0.016 + 0.016 * (
            truth.end == truth.start
        )
