"""Notes decoded again from a job's stored model outputs with other parameters: pure numpy, no model.

The worker keeps every succeeded job's activations (piano_ai.activations) at job_keys(id).activations;
POST /v1/jobs/{id}/decode, the downloads with parameters and PATCH /v1/jobs/{id} read them here.
"""

from dataclasses import asdict, replace
from urllib.parse import urlencode

from piano_ai import activations
from piano_ai.db.models import Job
from piano_ai.errors import InvalidActivationsError
from piano_ai.midi_io import midi_bytes, notes_to_json
from piano_ai.storage import ObjectNotFoundError, Storage, job_keys
from piano_ai.transcribe import Transcript, decode_activations
from piano_ai.types import NoteParams
from piano_api.problems import ApiError
from piano_api.schemas import ParamsChange


def merged(job: Job, change: ParamsChange | None) -> NoteParams:
    """The job's own parameters with those in ``change`` replaced, validated (422 when out of range)."""
    return replace(NoteParams(**job.params), **(change.given() if change else {})).validate()


def is_own(job: Job, params: NoteParams) -> bool:
    """Whether ``params`` are the job's own (its stored notes and MIDI already are these)."""
    return params == NoteParams(**job.params)


def decode(storage: Storage, job: Job, params: NoteParams) -> Transcript:
    """The job's notes and pedal with ``params``, from its stored model outputs; 409 when it has none."""
    key = job_keys(job.id).activations
    try:
        outputs = activations.loads(storage.get_bytes(key))
    except ObjectNotFoundError as exc:
        raise ApiError(
            409,
            "activations_missing",
            f"job {job.id} has no stored model outputs (it ran before they were kept); submit it again",
        ) from exc
    except InvalidActivationsError as exc:
        raise ApiError(410, "result_missing", f"the stored model outputs are unreadable: {exc}") from exc
    return decode_activations(outputs, params)


def query(params: NoteParams) -> str:
    """``params`` as a query string, for links that follow them (?onset_threshold=...&...)."""
    return urlencode({k: f"{v:g}" if isinstance(v, float) else v for k, v in asdict(params).items()})


def save_as_own(storage: Storage, job: Job, decoded: Transcript, params: NoteParams) -> None:
    """Replace the job's stored notes and MIDI with ``decoded`` (PATCH); the row is updated by the caller."""
    assert job.notes_key is not None and job.midi_key is not None
    notes, sustain = decoded.notes, decoded.sustain
    storage.put_bytes(job.notes_key, notes_to_json(notes, sustain, params.pedal).encode(), "application/json")
    storage.put_bytes(job.midi_key, midi_bytes(notes, sustain=sustain), "audio/midi")
