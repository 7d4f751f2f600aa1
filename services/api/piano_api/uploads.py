"""Cheap upload checks in the API: size (streamed, before the body is buffered whole), a header sniff,
the length the header declares, and a file name safe to store and show.

A full decode happens in the worker; a file that passes here but decodes badly fails its job with
``invalid_audio``.
"""

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from piano_ai.constants import SUPPORTED_FORMATS
from piano_ai.errors import AudioTooLongError, InvalidAudioError
from piano_ai.formats import SNIFF_BYTES, declared_duration_s, header_duration_s, sniff_format
from piano_api.problems import ApiError, problem

MAX_FILENAME_CHARS = 255
_SUPPORTED = ", ".join(SUPPORTED_FORMATS)
_LIBSNDFILE_FORMATS = ("wav", "flac", "ogg")  # headers soundfile can check without decoding


@dataclass(frozen=True)
class UploadInfo:
    size_bytes: int
    sha256: str  # of the content: part of the idempotency check
    format: str  # one of SUPPORTED_FORMATS, from the content (not the filename)
    content_type: str


def _too_large(limit: int) -> ApiError:
    mb = limit / (1024 * 1024)
    return ApiError(413, "upload_too_large", f"upload exceeds the {mb:g} MB limit; send a shorter recording")


class UploadLimitMiddleware:
    """Reject job uploads over ``limit`` bytes: at once from Content-Length, else while streaming."""

    def __init__(self, app: ASGIApp, limit: int, path: str = "/v1/jobs") -> None:
        self.app = app
        self.limit = limit
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            error = _too_large(self.limit)
            # Connection: close, so the client stops sending the rest of the body.
            response = problem(error.status, error.code, error.detail, {"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes through FastAPI's body parsing untouched (-> 413 problem).
                    raise HTTPException(413, _too_large(self.limit).detail)
            return message

        await self.app(scope, limited_receive, send)


def clean_filename(raw: str | None) -> str:
    """The client's file name as we store and show it: its last path part, control and format
    characters (NUL, escapes, bidi overrides: Postgres refuses NUL, terminals and logs obey the rest)
    replaced by "_", at most MAX_FILENAME_CHARS; "upload" when nothing is left.
    """
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    name = "".join("_" if unicodedata.category(ch) in ("Cc", "Cf", "Cs") else ch for ch in name).strip()
    return name[:MAX_FILENAME_CHARS] if name not in ("", ".", "..") else "upload"


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text[:4096])


def _check_header(stream: BinaryIO, fmt: str, name: str) -> float | None:
    """For libsndfile formats, read the header (cheap) so a broken one is refused now; returns the seconds
    it declares (None: it does not say)."""
    import soundfile

    stream.seek(0)
    try:
        info = soundfile.info(stream)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise InvalidAudioError(name, f"broken {fmt} header: {exc}") from exc
    finally:
        stream.seek(0)
    if info.frames == 0:
        raise InvalidAudioError(name, f"the {fmt} file holds no samples")
    return header_duration_s(info.frames, info.samplerate)


def inspect_upload(stream: BinaryIO, name: str, limit: int, max_audio_s: float | None = None) -> UploadInfo:
    """Size, hash and format of an upload, or ApiError 422 (empty) / 413 (too large) / 415 (not audio).

    With ``max_audio_s``, a header that declares a longer recording raises AudioTooLongError (413).
    """
    stream.seek(0)
    digest = hashlib.sha256()
    size = 0
    head = b""
    while chunk := stream.read(1 << 20):
        if not head:
            head = chunk[:SNIFF_BYTES]
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    if size == 0:
        raise ApiError(422, "empty_upload", f"{name}: the uploaded file is empty (0 bytes)")
    if size > limit:
        raise _too_large(limit)
    fmt = sniff_format(head)
    if fmt is None:
        reason = "it looks like text" if _looks_like_text(head) else "unknown file signature"
        error = InvalidAudioError(name, reason)
        raise ApiError(415, "unsupported_media_type", str(error))
    # One header read per upload: libsndfile's check gives the declared length too.
    declared = None
    if fmt in _LIBSNDFILE_FORMATS:
        try:
            declared = _check_header(stream, fmt, name)
        except InvalidAudioError as exc:
            raise ApiError(415, "unsupported_media_type", str(exc)) from exc
    elif max_audio_s is not None:
        declared = declared_duration_s(stream, fmt)
    if max_audio_s is not None and declared is not None and declared > max_audio_s:
        raise AudioTooLongError(name, max_audio_s, declared)
    content_type = {"mp3": "audio/mpeg", "m4a": "audio/mp4"}.get(fmt, f"audio/{fmt}")
    return UploadInfo(size, digest.hexdigest(), fmt, content_type)
