"""`python -m piano_api.serve piano_api.main:app [uvicorn's options]`: uvicorn, with Nagle's algorithm off
on every connection however many processes serve.

With ``--workers N`` (or ``WEB_CONCURRENCY``) uvicorn 0.54 binds the listening socket itself with ``proto``
0; accepted connections inherit it, and asyncio turns on TCP_NODELAY only for sockets that say
IPPROTO_TCP, so every response on a kept-alive connection after the first waited for the client's delayed
ACK: 48 ms a request here against 3-6 ms with one process (uvicorn issue #3149). On Linux an accepted
socket inherits TCP_NODELAY from the listener, so the listener gets it when it is bound.
"""

import socket

import uvicorn.config
import uvicorn.main

_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_bind_socket = uvicorn.config.Config.bind_socket


def bind_socket(self: uvicorn.config.Config) -> socket.socket:
    """uvicorn's listening socket, with TCP_NODELAY set on a TCP one (its connections inherit it)."""
    sock = _bind_socket(self)
    if sock.family in _TCP_FAMILIES:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def main() -> None:
    uvicorn.config.Config.bind_socket = bind_socket  # type: ignore[method-assign]
    uvicorn.main.main()


if __name__ == "__main__":
    main()
