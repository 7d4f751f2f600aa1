"""Every error leaves the API as application/problem+json with a stable ``code``; mapped here, once."""

import logging
from collections.abc import Sequence
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from piano_ai.errors import AudioTooLongError, InvalidAudioError, InvalidParametersError, PianoAIError
from piano_ai.storage import StorageError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
DOCS = "https://github.com/piano-ai/piano-ai/blob/main/docs/api.md#errors"

# Domain errors -> HTTP status.
_DOMAIN_STATUS: dict[type[PianoAIError], int] = {
    InvalidParametersError: 422,
    InvalidAudioError: 415,
    AudioTooLongError: 413,
}
DATABASE_RETRY_AFTER_S = 5  # Retry-After of a 503 database_unavailable, seconds
STORAGE_RETRY_AFTER_S = 5  # Retry-After of a 503 storage_unavailable, seconds
# Plain HTTP errors (routing, methods) -> code.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # those a 405's Allow may list
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "upload_too_large", 400: "bad_request"}


class ApiError(Exception):
    """An error a handler raises on purpose: status, stable code, and a message saying what to do."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": f"{DOCS}-{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_handlers(app: FastAPI) -> None:
    """Register the exception -> problem+json mappings on ``app``."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(PianoAIError)
    async def _domain_error(request: Request, exc: PianoAIError) -> JSONResponse:
        return problem(_DOMAIN_STATUS.get(type(exc), 400), exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
            parts.append(f"{where}: {error.get('msg')}")
        return problem(422, "invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette names the methods of the first route on the path only
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return problem(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeoutError)
    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        if not _connection_lost(exc):  # a statement the database rejected: a bug, not an outage
            return _internal_error(request, exc)
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        detail = (
            "the job store is unreachable; try again shortly (a submission with the same Idempotency-Key)"
        )
        return problem(503, "database_unavailable", detail, {"Retry-After": str(DATABASE_RETRY_AFTER_S)})

    @app.exception_handler(StorageError)
    async def _storage_error(request: Request, exc: StorageError) -> JSONResponse:
        logger.warning("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
        detail = "the file store cannot be written or read right now; nothing was changed, try again shortly"
        return problem(503, "storage_unavailable", detail, {"Retry-After": str(STORAGE_RETRY_AFTER_S)})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request, exc)


def _connection_lost(exc: Exception) -> bool:
    """No connection to the database (refused, timed out, dropped, pool exhausted), not a bad statement."""
    return isinstance(exc, (OperationalError, PoolTimeoutError)) or bool(
        getattr(exc, "connection_invalidated", False)
    )


def serves(routes: Sequence[BaseRoute], scope: Scope) -> bool:
    """Whether some route serves the request in ``scope`` (its path and method)."""
    return any(route.matches(scope)[0] == Match.FULL for route in routes)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on the request's path (a 405's Allow header)."""
    routes = request.app.router.routes
    return ", ".join(m for m in _METHODS if serves(routes, {**request.scope, "method": m}))


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "unexpected server error; it has been logged")
