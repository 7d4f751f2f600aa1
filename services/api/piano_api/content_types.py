"""Refuse request bodies of the wrong media type (415) before they are parsed.

A web page on another origin can send text/plain or form-urlencoded bodies without a CORS preflight;
refusing every type but the one an endpoint reads closes that door (bearer keys close the rest).
"""

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from piano_api.problems import problem, serves

UPLOAD_PATH = "/v1/jobs"  # POST: multipart/form-data
JSON = "application/json"
MULTIPART = "multipart/form-data"
_WITH_BODY = ("POST", "PUT", "PATCH")


def expected_type(method: str, path: str) -> str:
    """The one media type a body sent to ``method path`` may have."""
    return MULTIPART if method == "POST" and path.rstrip("/") == UPLOAD_PATH else JSON


class ContentTypeMiddleware:
    """415 ``unsupported_content_type`` for a /v1 body that is neither the expected type nor empty.

    ``routes`` are the app's: a method the path does not serve passes through, to be answered 405.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WITH_BODY
            or not scope["path"].startswith("/v1")
            or not serves(self.routes, scope)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        expected = expected_type(scope["method"], scope["path"])
        if (has_body or media_type) and media_type != expected:
            sent = media_type or "no Content-Type"
            detail = f"{scope['method']} {scope['path']} reads {expected} bodies, not {sent}"
            await problem(415, "unsupported_content_type", detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)
