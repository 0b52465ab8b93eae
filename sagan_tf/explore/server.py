"""Serving the app with uvicorn on a socket bound before the model loads (a busy port fails fast).

``bind`` opens the listening socket (port 0: any free port), ``url`` says where it is,
``serving_hosts`` is the ``Host`` rule of an app on that socket (``hosts.host_rule``), and
``make_server`` returns a uvicorn server for the app on that socket: ``server.run(sockets=[sock])``
serves until Ctrl+C (or ``server.should_exit = True`` from another thread, as the tests do).
uvicorn admits at most ``Limits.max_connections`` open connections and running requests
(``limit_concurrency``); it answers a request beyond them 503 itself, before the app sees it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

from sagan_tf.errors import SaganError
from sagan_tf.explore.hosts import HostRule, host_rule
from sagan_tf.explore.limits import Limits


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


def serving_hosts(sock: socket.socket, host: str | None = None, extra: Iterable[str] = (), any_host: bool = False) -> HostRule:
    """The ``Host`` rule of an app on ``sock``: its address and ``host`` (the name it was bound by)
    at its port, the loopback names when it listens on loopback, and ``extra`` (``--allowed-host``)."""
    address, port = sock.getsockname()[:2]
    try:
        return host_rule([address] + ([host] if host else []), port, extra, any_host)
    except ValueError as e:
        raise SaganError(str(e)) from None


def make_server(app, on_started: Callable[[], None] | None = None, limits: Limits | None = None):
    """A uvicorn server for ``app`` within ``limits.max_connections`` (default: the limits the app was
    created with); ``on_started()`` runs once it accepts connections."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started and on_started is not None:
                on_started()

    limits = limits or getattr(getattr(app, "state", None), "limits", None) or Limits()  # create_app's own
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5,
                            limit_concurrency=limits.max_connections)
    return Server(config)
