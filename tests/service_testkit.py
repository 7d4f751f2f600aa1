"""Helpers for the job-service tests: synthetic piano-like audio and throwaway Postgres databases."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import create_engine, text

PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
REDIS_BASE_URL = "redis://127.0.0.1:6379/5"  # a DB number of our own on the shared Redis


def piano_clip(
    path: Path, pitches: tuple[int, ...] = (60, 64, 67), seconds: float = 2.0, sr: int = 16000
) -> Path:
    """Write a short piano-like wav: each pitch a sum of decaying harmonics, struck one after another."""
    t = np.arange(int(seconds * sr)) / sr
    audio = np.zeros_like(t)
    step = seconds / (len(pitches) + 1)
    for i, pitch in enumerate(pitches):
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        start = i * step
        local = np.clip(t - start, 0, None)
        envelope = np.where(t >= start, np.exp(-3.0 * local), 0.0)
        for harmonic in range(1, 6):
            audio += envelope * np.sin(2 * np.pi * f0 * harmonic * local) / harmonic**1.5
    audio = 0.3 * audio / np.max(np.abs(audio))
    sf.write(path, audio.astype(np.float32), sr)
    return path


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Create a fresh Postgres database for one test session; yields its URL; drops it afterwards."""
    name = f"piano_svc_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def long_clip(path: Path, seconds: float, sr: int = 16000) -> Path:
    """A long recording (cheap to make): a 4 s phrase repeated."""
    phrase = piano_clip(path, pitches=(48, 55, 60, 64, 67, 72), seconds=4.0, sr=sr)
    audio, _ = sf.read(phrase, dtype="float32")
    sf.write(path, np.tile(audio, int(np.ceil(seconds / 4.0)))[: int(seconds * sr)], sr)
    return path
