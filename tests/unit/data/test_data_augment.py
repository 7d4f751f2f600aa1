"""Audio augmentation: seeded, length-preserving, doing what each step says."""

import numpy as np
import pytest

from piano_ai.constants import SAMPLE_RATE
from piano_ai.data.augment import (
    FULL,
    AugmentConfig,
    add_noise,
    augment,
    codec_round_trip,
    detune_ratio,
    random_eq,
    room_impulse,
    set_level,
    undo_stretch,
)


def tone(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-t)).astype(np.float32)


def test_augment_is_reproducible_and_keeps_length():
    always = AugmentConfig(p_eq=1, p_reverb=1, p_noise=1, p_codec=0)
    a, applied_a = augment(tone(), np.random.default_rng(1), always)
    b, applied_b = augment(tone(), np.random.default_rng(1), always)
    c, _ = augment(tone(), np.random.default_rng(2), always)
    assert a.dtype == np.float32 and a.shape == tone().shape
    assert np.array_equal(a, b) and applied_a == applied_b
    assert not np.array_equal(a, c)
    assert {"eq", "reverb", "snr_db", "peak_db"} <= set(applied_a)
    assert np.abs(a).max() <= 1.0


def test_set_level_sets_the_peak():
    out = set_level(tone(), -6.0)
    assert np.abs(out).max() == pytest.approx(10 ** (-6 / 20), rel=1e-5)
    assert not set_level(np.zeros(100, np.float32), -6.0).any()


@pytest.mark.parametrize("snr_db", [10.0, 30.0])
def test_noise_lands_at_the_requested_snr(snr_db):
    clean = tone()
    noisy = add_noise(clean, np.random.default_rng(0), snr_db)
    noise = noisy - clean
    measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr_db, abs=0.2)


def test_room_impulse_decays_by_60_db_at_rt60():
    ir = room_impulse(np.random.default_rng(0), rt60_s=0.5)
    assert ir[0] == 1.0
    tail = ir[1:]
    early = np.sqrt(np.mean(tail[: SAMPLE_RATE // 20] ** 2))
    late = np.sqrt(np.mean(tail[-SAMPLE_RATE // 20 :] ** 2))
    assert 20 * np.log10(early / late) > 40


def test_eq_is_finite_and_changes_the_sound():
    out = random_eq(tone(), np.random.default_rng(3), 9.0)
    assert np.isfinite(out).all() and out.shape == tone().shape
    assert not np.allclose(out, tone())


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["mp3", "ogg", "m4a"])
def test_codec_round_trip_keeps_length_and_timing(codec):
    audio = np.zeros(SAMPLE_RATE * 2, np.float32)
    audio[SAMPLE_RATE:] = tone(1.0)  # a note starting exactly at 1 s
    out = codec_round_trip(audio, codec, 64)
    assert out.shape == audio.shape and out.dtype == np.float32
    start = int(np.argmax(np.abs(out) > 0.02))
    assert abs(start - SAMPLE_RATE) < SAMPLE_RATE * 0.01  # within 10 ms: targets stay aligned
    assert np.mean(np.abs(out - audio)) < 0.02


def test_full_config_sometimes_uses_codecs():
    assert 0 < FULL.p_codec < 1


def test_undo_stretch_restores_timing_and_shifts_pitch():
    ratio = 2 ** (30 / 1200)
    t = np.arange(int(2.0 * ratio * SAMPLE_RATE)) / SAMPLE_RATE
    stretched = np.sin(2 * np.pi * 440 * t).astype(np.float32)  # a 440 Hz render, ratio times too long
    out = undo_stretch(stretched, ratio, 2 * SAMPLE_RATE)
    assert out.shape == (2 * SAMPLE_RATE,)
    spectrum = np.abs(np.fft.rfft(out[:SAMPLE_RATE] * np.hanning(SAMPLE_RATE), 1 << 18))
    peak = np.fft.rfftfreq(1 << 18, 1 / SAMPLE_RATE)[np.argmax(spectrum)]
    assert peak == pytest.approx(440 * ratio, abs=0.5)


def test_detune_ratio_respects_its_probability():
    ratios = [detune_ratio(np.random.default_rng(i), FULL) for i in range(200)]
    tuned = sum(r == 1.0 for r in ratios) / len(ratios)
    assert 0.45 < tuned < 0.75
    assert all(2 ** (-31 / 1200) < r < 2 ** (31 / 1200) for r in ratios)
