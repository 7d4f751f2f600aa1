"""The error responses each route declares in the OpenAPI document: problem+json, with their codes.

``errors(404, 409)`` goes in a route's ``responses=``; every /v1 route also names 401 and 503 (the key
check and the job store come before any handler), so ``V1_ERRORS`` is added by the routers themselves.
``json_body`` answers with a model already built, for the hottest routes.
"""

from typing import Any

from fastapi import Response
from pydantic import BaseModel

from piano_api.problems import PROBLEM_JSON
from piano_api.schemas import Problem

_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}
}
_WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
# status -> (what it means, with its codes; headers it carries)
_MEANINGS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("bad_request: the request body cannot be parsed (broken multipart or undecodable JSON)", {}),
    401: ("missing_api_key or invalid_api_key: send `Authorization: Bearer <key>`", _WWW_AUTHENTICATE),
    403: ("admin_required: this needs an admin key", {}),
    404: ("job_not_found (also another key's job), score_not_found, not_found", {}),
    409: (
        "the job is not in a state that allows this: job_not_succeeded, job_not_active, job_active,"
        " job_not_retryable, activations_missing, idempotency_key_reused",
        {},
    ),
    410: ("result_missing or upload_missing: the file is gone from storage", {}),
    413: ("upload_too_large or audio_too_long", {}),
    415: ("unsupported_content_type (the body's type) or unsupported_media_type (the upload's audio)", {}),
    422: ("invalid_request, invalid_parameters or empty_upload: the message names the field", {}),
    429: (
        "rate_limited, too_many_active_jobs or daily_quota_exceeded: this key's limits",
        _RETRY_AFTER,
    ),
    503: (
        "database_unavailable, storage_unavailable or queue_unavailable: nothing was changed, try again",
        _RETRY_AFTER,
    ),
}
_SCHEMA = Problem.model_json_schema()


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for ``statuses``, each a problem+json body."""
    return {
        status: {
            "description": _MEANINGS[status][0],
            "headers": _MEANINGS[status][1],
            "content": {PROBLEM_JSON: {"schema": _SCHEMA}},
        }
        for status in statuses
    }


V1_ERRORS = errors(401, 503)  # every /v1 route: the key check and the job store


def json_body(model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``model`` as the JSON response, serialised here. A route's ``response_model`` still documents it,
    but FastAPI no longer validates the model it was just built as, and a plain ``def`` route saves the
    thread-pool hop that validation takes (a submit and a poll made two hops; now one)."""
    body = model.model_dump_json(by_alias=True)
    return Response(body, status_code, headers, media_type="application/json")
