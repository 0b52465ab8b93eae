"""Serving the app with uvicorn on a socket bound before the model loads (a busy port fails fast).

``bind`` opens the listening socket (port 0: any free port), ``url`` says where it is, and
``make_server`` returns a uvicorn server for the app on that socket: ``server.run(sockets=[sock])``
serves until Ctrl+C (or ``server.should_exit = True`` from another thread, as the tests do).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from sagan_tf.errors import SaganError


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), IPv4 or IPv6 as ``host`` says."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as e:
        raise SaganError(f"--host {host}: {e.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise SaganError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.set_inheritable(True)
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app, on_started: Callable[[], None] | None = None):
    """A uvicorn server for ``app``; ``on_started()`` runs once it accepts connections."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started and on_started is not None:
                on_started()

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    return Server(config)
