"""The numpy mel scale and filter bank must equal librosa's, which the training features were built with."""

import subprocess
import sys

import numpy as np
import pytest

from piano_ai.constants import MEL_FMAX, MEL_FMIN, N_FFT, N_MELS, SAMPLE_RATE
from piano_ai.features import mel_basis
from piano_ai.mel import hz_to_mel, mel_filters, mel_frequencies, mel_to_hz

librosa = pytest.importorskip("librosa")


@pytest.mark.parametrize(
    ("sample_rate", "n_fft", "n_mels", "fmin", "fmax"),
    [
        (SAMPLE_RATE, N_FFT, N_MELS, MEL_FMIN, MEL_FMAX),  # the model's
        (22_050, 2048, 128, 0.0, 11_025.0),  # librosa's defaults
        (44_100, 4096, 256, 20.0, 16_000.0),
        (16_000, 512, 40, 300.0, 3_000.0),  # every band in the linear or the log part only
    ],
)
def test_filter_bank_equals_librosa(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> None:
    want = librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64
    )
    got = mel_filters(sample_rate, n_fft, n_mels, fmin, fmax)
    assert got.shape == want.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_model_basis_equals_librosa_in_float32() -> None:
    want = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=MEL_FMIN, fmax=MEL_FMAX)
    assert mel_basis().dtype == np.float32 and mel_basis().shape == (N_FFT // 2 + 1, N_MELS)
    np.testing.assert_array_equal(mel_basis(), want.T)


@pytest.mark.parametrize("hz", [0.0, 27.5, 440.0, 999.9, 1000.0, 1000.1, 4186.0, 8000.0])
def test_scale_equals_librosa_and_inverts(hz: float) -> None:
    assert hz_to_mel(hz) == pytest.approx(librosa.hz_to_mel(hz), rel=1e-12, abs=1e-12)
    assert mel_to_hz(hz_to_mel(hz)) == pytest.approx(hz, rel=1e-12, abs=1e-9)


def test_centre_frequencies_equal_librosa() -> None:
    want = librosa.mel_frequencies(n_mels=N_MELS, fmin=MEL_FMIN, fmax=MEL_FMAX)
    np.testing.assert_allclose(mel_frequencies(N_MELS, MEL_FMIN, MEL_FMAX), want, rtol=1e-12)


def test_features_do_not_import_librosa() -> None:
    code = (
        "import sys, numpy as np; from piano_ai.features import log_mel\n"
        "log_mel(np.zeros(16000, np.float32)); print('librosa' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
