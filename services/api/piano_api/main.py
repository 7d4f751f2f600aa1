"""The FastAPI app: `uvicorn piano_api.main:app`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from piano_ai.collector import freeze_startup
from piano_ai.settings import get_settings
from piano_api.auth import AuthMiddleware, protected_paths
from piano_api.content_types import ContentTypeMiddleware
from piano_api.limits import Limiter, make_counter
from piano_api.metrics import MetricsMiddleware
from piano_api.problems import install_handlers
from piano_api.routes import decoding, jobs, system
from piano_api.uploads import UploadLimitMiddleware

DESCRIPTION = """Convert piano recordings to MIDI asynchronously.

Submit with `POST /v1/jobs`, poll `GET /v1/jobs/{id}` until `status` is `succeeded`, then download
`GET /v1/jobs/{id}/midi`. `POST /v1/jobs/{id}/decode` tries other note parameters on a finished job
without running the model again; `PATCH /v1/jobs/{id}` saves them as the job's own.
Every /v1 request sends an API key: `Authorization: Bearer <key>` (`piano-ai keys create NAME`); a key
sees only its own jobs. Errors are `application/problem+json` with a stable `code`.
Every endpoint, field, error code and setting, with curl examples: `docs/api.md` in the repository.
"""
DOCS_ASSETS_URL = "/docs-assets"  # Swagger UI and ReDoc files, served from the fastapi-offline package


@asynccontextmanager
async def _threads(app: FastAPI) -> AsyncIterator[None]:
    """Run blocking work (sync handlers and dependencies) in settings.api_threads threads; freeze what
    start-up made out of the garbage collector's way."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = get_settings().api_threads
    freeze_startup()  # the app's objects out of the full collections' way (piano_ai.collector)
    yield


def create_app() -> FastAPI:
    """Build the app from settings."""
    settings = get_settings()
    # /docs and /redoc load their scripts from this server, not from a CDN: they work offline.
    app = FastAPIOffline(
        title="piano-ai",
        version="0.1.0",
        description=DESCRIPTION,
        static_url=DOCS_ASSETS_URL,
        lifespan=_threads,
    )
    install_handlers(app)
    app.include_router(jobs.router)
    app.include_router(decoding.router)
    app.include_router(system.router)
    app.state.limiter = Limiter(settings, make_counter(settings))
    # The last added runs first: CORS, metrics, the key, the body's type, its size, then the routes.
    app.add_middleware(UploadLimitMiddleware, limit=settings.max_upload_bytes)
    app.add_middleware(ContentTypeMiddleware, routes=app.router.routes)
    app.add_middleware(AuthMiddleware, settings=settings, paths=protected_paths(settings))
    app.add_middleware(MetricsMiddleware)
    # Keys travel in a header, never in cookies: no credentials mode, and only the listed origins.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        expose_headers=["Location", "Retry-After", "Idempotent-Replayed"],
        max_age=600,
    )
    return app


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
