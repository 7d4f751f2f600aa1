"""Log-mel spectrogram: the model's input representation."""

import numpy as np

from piano_ai.constants import HOP_LENGTH, MEL_FMAX, MEL_FMIN, N_FFT, N_MELS, SAMPLE_RATE
from piano_ai.types import FloatArray

LOG_FLOOR = 1e-5  # power floor before log, ~ -100 dB: keeps silence finite


def log_mel(audio: FloatArray) -> FloatArray:
    """Log-mel power spectrogram of mono audio at SAMPLE_RATE.

    audio: (samples,) float32. Returns (frames, N_MELS) float32 with
    frames = samples // HOP_LENGTH + 1 (centred frames, frame t at t * HOP_LENGTH samples).
    """
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (samples,), got shape {audio.shape}")
    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=SAMPLE_RATE,
        n_fft=N_FFT,
        hop_length=HOP_LENGTH,
        n_mels=N_MELS,
        fmin=MEL_FMIN,
        fmax=MEL_FMAX,
        center=True,
        power=2.0,
    )
    return np.log(np.maximum(mel, LOG_FLOOR)).T.astype(np.float32)


def frame_count(samples: int) -> int:
    """Frames log_mel returns for a signal of ``samples`` samples."""
    return samples // HOP_LENGTH + 1
