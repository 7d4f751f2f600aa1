"""Signal constants tied to the trained weights.

These are not settings: changing any of them invalidates every shipped model.
Derived values are computed from the base ones, never repeated.
"""

SAMPLE_RATE = 16_000  # Hz; audio is resampled to this before features
HOP_LENGTH = 512  # samples between frames (32 ms): the cost/accuracy trade-off is in docs/model.md
N_FFT = 2048  # samples per STFT window (128 ms)
N_MELS = 229  # mel bins, as in Onsets and Frames
MEL_FMIN = 30.0  # Hz, just under A0 (27.5 Hz) so the lowest key's fundamental is kept
MEL_FMAX = SAMPLE_RATE / 2  # Hz

LOWEST_KEY = 21  # MIDI pitch of A0
N_KEYS = 88  # piano keys A0..C8
HIGHEST_KEY = LOWEST_KEY + N_KEYS - 1  # MIDI pitch of C8

FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH  # 31.25 frames per second
SECONDS_PER_FRAME = HOP_LENGTH / SAMPLE_RATE  # 0.032 s

SUPPORTED_FORMATS = ("wav", "flac", "mp3", "ogg", "m4a", "aac")  # aac: raw AAC (ADTS)
