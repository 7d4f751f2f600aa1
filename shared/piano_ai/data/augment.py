"""Seeded audio augmentation: the ways real recordings differ from a clean render.

Every function takes a numpy Generator so a clip's augmentation is reproducible from its seed.
Audio is mono float32 at SAMPLE_RATE throughout. Tempo scaling happens on the MIDI before rendering
(see sources.py); everything here acts on audio.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from piano_ai.constants import SAMPLE_RATE
from piano_ai.types import FloatArray

CODECS = {  # container -> ffmpeg encoder arguments (bit rates picked per clip)
    "mp3": ["-c:a", "libmp3lame"],
    "ogg": ["-c:a", "libvorbis"],
    "m4a": ["-c:a", "aac"],
}
CODEC_BITRATES_KBPS = (32, 48, 64, 96, 128)
VORBIS_MAX_KBPS = 80  # libvorbis refuses higher nominal rates for 16 kHz mono


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each augmentation (one per field)."""

    p_eq: float = 0.7  # chance of 1-3 random shelving/peaking filters
    eq_gain_db: float = 9.0  # max |gain| of one filter, dB
    p_reverb: float = 0.5  # chance of a synthetic room
    rt60_s: tuple[float, float] = (0.15, 1.8)  # reverberation time range, seconds
    p_noise: float = 0.5  # chance of additive noise
    snr_db: tuple[float, float] = (10.0, 45.0)  # signal-to-noise ratio range, dB
    p_codec: float = 0.2  # chance of an mp3/ogg/m4a round trip (costs an ffmpeg call)
    level_db: tuple[float, float] = (-24.0, 0.0)  # peak level range, dBFS
    p_detune: float = 0.0  # chance of a piano tuned off A440 (render slower/faster, resample back)
    detune_cents: float = 30.0  # max |tuning offset|, cents


LIGHT = AugmentConfig(p_eq=0.5, p_reverb=0.3, p_noise=0.4, p_codec=0.0)
FULL = AugmentConfig(p_detune=0.4)


def _biquad(kind: str, freq: float, gain_db: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """RBJ audio-EQ-cookbook biquad coefficients (b, a) for a peaking or shelving filter."""
    a_gain = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / SAMPLE_RATE
    alpha = np.sin(w0) / (2 * q)
    cos = np.cos(w0)
    if kind == "peak":
        b = [1 + alpha * a_gain, -2 * cos, 1 - alpha * a_gain]
        a = [1 + alpha / a_gain, -2 * cos, 1 - alpha / a_gain]
    else:
        sq = 2 * np.sqrt(a_gain) * alpha
        sign = 1 if kind == "lowshelf" else -1
        b = [
            a_gain * ((a_gain + 1) - sign * (a_gain - 1) * cos + sq),
            sign * 2 * a_gain * ((a_gain - 1) - sign * (a_gain + 1) * cos),
            a_gain * ((a_gain + 1) - sign * (a_gain - 1) * cos - sq),
        ]
        a = [
            (a_gain + 1) + sign * (a_gain - 1) * cos + sq,
            -sign * 2 * ((a_gain - 1) + sign * (a_gain + 1) * cos),
            (a_gain + 1) + sign * (a_gain - 1) * cos - sq,
        ]
    return np.asarray(b) / a[0], np.asarray(a) / a[0]


def random_eq(audio: FloatArray, rng: np.random.Generator, max_gain_db: float = 9.0) -> FloatArray:
    """Apply 1-3 random low-shelf / high-shelf / peaking filters."""
    from scipy.signal import lfilter

    out = audio.astype(np.float64)
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(["lowshelf", "highshelf", "peak"]))
        freq = float(np.exp(rng.uniform(np.log(60.0), np.log(6000.0))))
        b, a = _biquad(
            kind, freq, float(rng.uniform(-max_gain_db, max_gain_db)), float(rng.uniform(0.5, 2.0))
        )
        out = lfilter(b, a, out)
    return out.astype(np.float32)


def room_impulse(rng: np.random.Generator, rt60_s: float) -> FloatArray:
    """Synthetic room impulse response: direct path plus exponentially decaying noise (-60 dB at rt60)."""
    n = int(rt60_s * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)  # ln(1000) = 6.9: -60 dB at rt60
    predelay = int(rng.uniform(0.005, 0.03) * SAMPLE_RATE)
    ir = np.zeros(n + predelay)
    ir[0] = 1.0
    wet = 10 ** (rng.uniform(-18.0, -3.0) / 20)  # reverberant energy relative to the direct path
    ir[predelay:] += tail * wet / np.sqrt(np.sum(tail**2) + 1e-12)
    return ir.astype(np.float32)


def reverb(audio: FloatArray, rng: np.random.Generator, rt60: tuple[float, float]) -> FloatArray:
    """Convolve with a random synthetic room; output keeps the input length."""
    from scipy.signal import fftconvolve

    ir = room_impulse(rng, float(rng.uniform(*rt60)))
    return fftconvolve(audio, ir)[: len(audio)].astype(np.float32)


def add_noise(audio: FloatArray, rng: np.random.Generator, snr_db: float) -> FloatArray:
    """Add white, pink or brown noise at ``snr_db`` relative to the clip's power."""
    noise = rng.standard_normal(len(audio))
    colour = int(rng.integers(0, 3))
    if colour:  # shape the spectrum: 1/f (pink) or 1/f^2 (brown) power
        spectrum = np.fft.rfft(noise)
        f = np.maximum(np.fft.rfftfreq(len(noise)), 1.0 / max(len(noise), 1))
        noise = np.fft.irfft(spectrum / f ** (colour / 2), n=len(noise))
    power = float(np.mean(audio.astype(np.float64) ** 2)) + 1e-12
    noise *= np.sqrt(power / (10 ** (snr_db / 10)) / (np.mean(noise**2) + 1e-20))
    return (audio + noise).astype(np.float32)


def set_level(audio: FloatArray, peak_db: float) -> FloatArray:
    """Scale to a peak of ``peak_db`` dBFS (silence stays silent)."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak < 1e-9:
        return audio.astype(np.float32)
    return (audio * (10 ** (peak_db / 20) / peak)).astype(np.float32)


def codec_round_trip(audio: FloatArray, codec: str, bitrate_kbps: int) -> FloatArray:
    """Encode with ffmpeg to ``codec`` (mp3/ogg/m4a) and decode back; same length as the input.

    Encoders add priming delay; ffmpeg's decoders remove it for these containers, and any
    remaining length difference is trimmed or zero-padded at the end.
    """
    import soundfile as sf

    rate = min(bitrate_kbps, VORBIS_MAX_KBPS) if codec == "ogg" else bitrate_kbps
    with tempfile.TemporaryDirectory(prefix="piano-ai-codec-") as tmp:
        src, enc, dec = Path(tmp) / "in.wav", Path(tmp) / f"enc.{codec}", Path(tmp) / "out.wav"
        sf.write(str(src), np.clip(audio, -1, 1), SAMPLE_RATE, subtype="PCM_16")
        base = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-threads", "1"]
        subprocess.run(
            base + ["-i", str(src), *CODECS[codec], "-b:a", f"{rate}k", str(enc)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            base + ["-i", str(enc), "-ac", "1", "-ar", str(SAMPLE_RATE), str(dec)],
            check=True,
            capture_output=True,
        )
        out, _ = sf.read(str(dec), dtype="float32")
    if out.ndim > 1:
        out = out.mean(axis=1)
    out = out[: len(audio)]
    return np.pad(out, (0, len(audio) - len(out))).astype(np.float32)


def detune_ratio(rng: np.random.Generator, config: AugmentConfig) -> float:
    """Frequency ratio of a random tuning offset (1.0 = in tune, the case for 1 - p_detune of clips)."""
    if rng.random() >= config.p_detune:
        return 1.0
    return float(2 ** (rng.uniform(-config.detune_cents, config.detune_cents) / 1200))


def undo_stretch(audio: FloatArray, ratio: float, samples: int) -> FloatArray:
    """Play audio rendered ``ratio`` times slower ``ratio`` times faster: timing restored, pitch x ratio.

    Returns exactly ``samples`` samples.
    """
    import librosa

    if ratio != 1.0:
        audio = librosa.resample(audio, orig_sr=SAMPLE_RATE * ratio, target_sr=SAMPLE_RATE)
    audio = audio[:samples]
    return np.pad(audio, (0, samples - len(audio))).astype(np.float32)


def augment(
    audio: FloatArray, rng: np.random.Generator, config: AugmentConfig = FULL
) -> tuple[FloatArray, dict]:
    """Apply a random chain (EQ -> reverb -> level -> noise -> codec); returns (audio, what was done)."""
    applied: dict = {}
    if rng.random() < config.p_eq:
        audio = random_eq(audio, rng, config.eq_gain_db)
        applied["eq"] = True
    if rng.random() < config.p_reverb:
        audio = reverb(audio, rng, config.rt60_s)
        applied["reverb"] = True
    peak_db = float(rng.uniform(*config.level_db))
    audio = set_level(audio, peak_db)
    applied["peak_db"] = round(peak_db, 1)
    if rng.random() < config.p_noise:
        snr = float(rng.uniform(*config.snr_db))
        audio = add_noise(audio, rng, snr)
        applied["snr_db"] = round(snr, 1)
    if rng.random() < config.p_codec:
        codec = str(rng.choice(list(CODECS)))
        bitrate = int(rng.choice(CODEC_BITRATES_KBPS))
        if codec == "ogg":
            bitrate = min(bitrate, VORBIS_MAX_KBPS)
        audio = codec_round_trip(audio, codec, bitrate)
        applied["codec"] = f"{codec}@{bitrate}k"
    return np.clip(audio, -1.0, 1.0).astype(np.float32), applied
