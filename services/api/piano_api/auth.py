"""Who is calling: the API key in ``Authorization: Bearer <key>``, checked before the body is read.

``AuthMiddleware`` answers 401/403 itself (a stranger's 200 MB upload is refused before it is received)
and leaves the caller in the request's state; handlers name it as ``CallerDep`` (or ``AdminDep``) in their
signature. Every job belongs to the key that submitted it: other keys get 404 for it, admin keys see all.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from piano_ai.db import keys
from piano_ai.db.models import Job
from piano_ai.db.session import session_scope
from piano_ai.settings import Settings
from piano_api.problems import DATABASE_RETRY_AFTER_S, ApiError, problem

logger = logging.getLogger(__name__)
MAKE_KEY = "an operator makes one with `piano-ai keys create NAME`"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


@dataclass(frozen=True)
class Caller:
    """The API key a request came with."""

    key_id: int | None  # None: PIANO_AI_AUTH=off
    name: str
    prefix: str  # the key's plain prefix: names its rate-limit counters, unique across databases
    admin: bool  # sees and manages every key's jobs

    @property
    def owner_filter(self) -> int | None:
        """The owner to filter job lists by: this key's id, or None (every job) for an admin."""
        return None if self.admin else self.key_id

    def may_see(self, job: Job) -> bool:
        """Whether this key may read or change ``job``."""
        return self.admin or job.owner_key_id == self.key_id


OPEN_ACCESS = Caller(key_id=None, name="anonymous", prefix="open", admin=True)  # PIANO_AI_AUTH=off


class KeyCache:
    """Callers of keys checked in the last ``ttl_s`` seconds, so a client's next requests skip the job
    store (a lookup and a commit each); a revoked key keeps working here for at most ``ttl_s``."""

    MAX_KEYS = 10_000  # forgotten all at once beyond this (a flood of distinct keys cannot grow it)

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._callers: dict[str, tuple[Caller, float]] = {}  # sha256 of the key -> (caller, expiry)

    @staticmethod
    def _name(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> Caller | None:
        """The caller of ``token`` if it was checked less than ``ttl_s`` ago."""
        with self._lock:
            found = self._callers.get(self._name(token))
        return found[0] if found is not None and found[1] > self.clock() else None

    def put(self, token: str, caller: Caller) -> None:
        """Remember that ``token`` is ``caller``'s live key (no-op when ttl_s is 0)."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._callers) >= self.MAX_KEYS:
                self._callers.clear()
            self._callers[self._name(token)] = (caller, self.clock() + self.ttl_s)


def _unauthorized(code: str, detail: str) -> ApiError:
    return ApiError(401, code, detail, {"WWW-Authenticate": "Bearer"})


def bearer_token(authorization: str | None) -> str:
    """The key in an ``Authorization: Bearer <key>`` value; "" for anything else."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authenticate(settings: Settings, authorization: str | None, cache: KeyCache | None = None) -> Caller:
    """The caller for an Authorization header value; ApiError 401 when it is missing or not a live key.
    Keys found in ``cache`` are not looked up again; live keys looked up are added to it."""
    if settings.auth == "off":
        return OPEN_ACCESS
    token = bearer_token(authorization)
    if not token:
        raise _unauthorized("missing_api_key", f"send `Authorization: Bearer <API key>`; {MAKE_KEY}")
    if cache is not None and (known := cache.get(token)) is not None:
        return known
    with session_scope() as session:
        row = keys.authenticate(session, token)
    if row is None:
        raise _unauthorized("invalid_api_key", f"the API key is unknown or revoked; {MAKE_KEY}")
    caller = Caller(key_id=row.id, name=row.name, prefix=row.prefix, admin=row.admin)
    if cache is not None:
        cache.put(token, caller)
    return caller


def protected_paths(settings: Settings) -> dict[str, bool]:
    """Exact paths outside /v1 that need a key, each with whether it needs an admin key."""
    paths = {"/metrics": True} if settings.metrics_access == "key" else {}
    if settings.docs_access == "key":
        paths |= dict.fromkeys(DOCS_PATHS, False)
    return paths


class AuthMiddleware:
    """Authenticate every /v1 request (and ``paths``) before its body is read; the caller goes to
    ``request.state.caller``. /healthz and /readyz stay open (probes carry no keys)."""

    def __init__(self, app: ASGIApp, settings: Settings, paths: dict[str, bool]) -> None:
        self.app = app
        self.settings = settings
        self.paths = paths
        self.cache = KeyCache(settings.api_key_cache_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith("/v1/") or path == "/v1" or path in self.paths):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":  # a CORS preflight carries no credentials; CORSMiddleware answers
            await self.app(scope, receive, send)
            return
        try:
            header = Headers(scope=scope).get("authorization")
            caller = self.cache.get(token) if (token := bearer_token(header)) else None
            if caller is None:  # a lookup in the job store: off the event loop
                caller = await run_in_threadpool(authenticate, self.settings, header, self.cache)
            if self.paths.get(path) and not caller.admin:
                raise ApiError(403, "admin_required", f"{path} needs an admin key")
        except ApiError as exc:
            await problem(exc.status, exc.code, exc.detail, exc.headers)(scope, receive, send)
            return
        except SQLAlchemyError as exc:
            logger.warning("database unavailable checking an API key: %s", exc)
            retry = {"Retry-After": str(DATABASE_RETRY_AFTER_S)}
            response = problem(503, "database_unavailable", "the job store is unreachable; try again", retry)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


# Declared for the OpenAPI document (the "Authorize" button in /docs); the middleware did the checking.
_bearer = HTTPBearer(auto_error=False, description="an API key from `piano-ai keys create NAME`")


async def get_caller(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """The API key of this request (AuthMiddleware checked it)."""
    caller = getattr(request.state, "caller", None)
    if caller is None:  # a route outside the middleware's paths asked for a caller: a wiring bug
        raise RuntimeError(f"{request.url.path} is not behind AuthMiddleware")
    return caller  # type: ignore[no-any-return]


async def get_admin(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    """The caller, when it holds an admin key; 403 otherwise."""
    if not caller.admin:
        raise ApiError(403, "admin_required", "this needs an admin key (`piano-ai keys create NAME --admin`)")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]
AdminDep = Annotated[Caller, Depends(get_admin)]
