"""Where uploads and results are kept: local disk (default) or Google Cloud Storage.

Keys for one job are derived from its id (``job_keys``); user filenames are metadata only.
"""

from dataclasses import dataclass
from functools import lru_cache

from piano_ai.settings import Settings, get_settings
from piano_ai.storage.base import ObjectNotFoundError, Storage, StorageError, check_key
from piano_ai.storage.local import LocalStorage

__all__ = [
    "JobKeys",
    "LocalStorage",
    "ObjectNotFoundError",
    "Storage",
    "StorageError",
    "check_key",
    "get_storage",
    "job_keys",
    "make_storage",
]


@dataclass(frozen=True)
class JobKeys:
    """The storage keys of one job's files."""

    prefix: str  # "jobs/<id>/": everything the job owns
    input: str  # the upload, as received
    midi: str  # the transcription as a standard MIDI file
    notes: str  # the notes as JSON (piano rolls)
    activations: str  # the model's outputs (piano_ai.activations), to decode again with other parameters
    score: str  # the sheet music as MusicXML
    score_midi: str  # the sheet music's quantized notes as MIDI, at one tempo

    @property
    def results(self) -> tuple[str, ...]:
        """The keys a worker's run writes (a failed or superseded run removes them)."""
        return (self.midi, self.notes, self.activations, self.score, self.score_midi)


def job_keys(job_id: str, input_ext: str = "bin") -> JobKeys:
    """Keys for job ``job_id``; ``input_ext`` is the upload's (sanitised) extension, e.g. "wav"."""
    prefix = check_key(f"jobs/{job_id}") + "/"
    return JobKeys(
        prefix=prefix,
        input=check_key(f"{prefix}input.{input_ext}"),
        midi=f"{prefix}output.mid",
        notes=f"{prefix}notes.json",
        activations=f"{prefix}activations.npz",
        score=f"{prefix}score.musicxml",
        score_midi=f"{prefix}score.mid",
    )


def make_storage(settings: Settings) -> Storage:
    """The backend the settings name."""
    if settings.storage_backend == "gcs":
        if not settings.gcs_bucket:
            raise ValueError("PIANO_AI_GCS_BUCKET must be set when PIANO_AI_STORAGE_BACKEND=gcs")
        from piano_ai.storage.gcs import GCSStorage

        return GCSStorage(
            settings.gcs_bucket, settings.gcs_prefix, emulator_host=settings.storage_emulator_host
        )
    return LocalStorage(settings.storage_dir)


@lru_cache
def get_storage() -> Storage:
    """The process-wide storage backend."""
    return make_storage(get_settings())
