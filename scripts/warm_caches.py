"""Compile librosa's numba caches once at install time (the first call otherwise costs ~13 s)."""

import numpy as np

from piano_ai.features import log_mel

if __name__ == "__main__":
    log_mel(np.zeros(16_000, np.float32))
    print("librosa caches warm")
