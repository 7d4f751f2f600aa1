"""/v1/jobs/{id}/decode and PATCH /v1/jobs/{id}: other note parameters, from the stored model outputs."""

import logging
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body

from piano_ai.db import jobs as job_store
from piano_ai.midi_io import note_to_dict
from piano_api import decoding
from piano_api.auth import CallerDep
from piano_api.deps import SessionDep, StorageDep
from piano_api.problems import ApiError
from piano_api.responses import V1_ERRORS, errors
from piano_api.routes.jobs import job_or_404, succeeded_or_409
from piano_api.schemas import DecodedLinks, DecodedNotes, JobParams, JobPublic, JobUpdate, ParamsChange

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=V1_ERRORS)


@router.post("/{job_id}/decode", response_model=DecodedNotes, responses=errors(400, 404, 409, 410, 415, 422))
def decode_job(
    caller: CallerDep,
    session: SessionDep,
    storage: StorageDep,
    job_id: str,
    change: Annotated[ParamsChange | None, Body()] = None,
) -> DecodedNotes:
    """Notes with other parameters, decoded from the job's stored model outputs in milliseconds (no model
    run); the job itself is unchanged. Parameters left out keep the job's values."""
    job = job_or_404(session, caller, job_id)
    succeeded_or_409(job)
    params = decoding.merged(job, change)
    decoded = decoding.decode(storage, job, params)
    path, query = f"/v1/jobs/{job.id}", decoding.query(params)
    return DecodedNotes(
        job_id=job.id,
        params=JobParams(**asdict(params)),
        note_count=len(decoded.notes),
        notes=[note_to_dict(n) for n in decoded.notes],  # type: ignore[misc]
        sustain=[{"down": round(d, 4), "up": round(u, 4)} for d, u in decoded.sustain],  # type: ignore[misc]
        links=DecodedLinks(midi=f"{path}/midi?{query}", notes_csv=f"{path}/notes.csv?{query}"),
    )


@router.patch("/{job_id}", response_model=JobPublic, responses=errors(400, 404, 409, 410, 415, 422))
def update_job(
    caller: CallerDep, session: SessionDep, storage: StorageDep, job_id: str, update: JobUpdate
) -> JobPublic:
    """Save note parameters as the job's own: its notes and MIDI are re-written from the stored model
    outputs, and its params and note_count follow (the last save wins)."""
    job = job_or_404(session, caller, job_id)
    succeeded_or_409(job)
    params = decoding.merged(job, update.note_params)
    decoded = decoding.decode(storage, job, params)
    decoding.save_as_own(storage, job, decoded, params)
    if not job_store.save_params(session, job_id, asdict(params), len(decoded.notes)):
        raise ApiError(409, "job_not_succeeded", f"job {job_id} changed while saving; read it and retry")
    logger.info("job %s: note parameters saved (%d notes)", job_id, len(decoded.notes))
    return JobPublic.from_job(job_or_404(session, caller, job_id))
