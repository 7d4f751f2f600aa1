"""`python -m piano_api.serve`: the listening socket uvicorn binds for --workers N gives its connections
TCP_NODELAY (uvicorn 0.54 leaves Nagle's algorithm on there: ~40 ms per kept-alive response)."""

import socket
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest
import uvicorn.config

from piano_api import serve


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _nodelay_of_a_connection(bind: Callable[[uvicorn.config.Config], socket.socket]) -> int:
    """TCP_NODELAY of a connection accepted from the socket ``bind`` makes for uvicorn's config."""
    config = uvicorn.config.Config("piano_api.main:app", host="127.0.0.1", port=0)
    with bind(config) as listener:
        listener.listen()
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                return accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_connections_accepted_from_the_bound_socket_have_nagle_off() -> None:
    assert _nodelay_of_a_connection(serve.bind_socket) == 1


def test_uvicorns_own_bind_leaves_it_on() -> None:
    """The bug worked around: if uvicorn fixes it, this fails and the launcher can go."""
    assert _nodelay_of_a_connection(serve._bind_socket) == 0


@pytest.mark.timeout(60)
def test_the_launcher_serves_with_two_processes() -> None:
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "piano_api.serve",
        "piano_api.main:app",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 45
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
