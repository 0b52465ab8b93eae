"""Which ``Host`` headers the app answers: protection against DNS rebinding.

A web page from anywhere can make the browser resolve its own domain name to 127.0.0.1 and then
read the answers of a local server under that name; the request then carries the page's name in
its ``Host`` header. ``HostCheck`` (an ASGI middleware) answers such requests 403 with one sentence
and passes the others to the app.

Allowed (``host_rule``): the address the app is bound to and the name it was given (``--host``),
each with the port it serves; when that address is a loopback or wildcard one (127.0.0.1, ::1,
0.0.0.0, ::), also ``localhost``, ``127.0.0.1`` and ``[::1]`` with that port. ``--allowed-host
NAME`` adds a name at any port (a reverse proxy's public name) or ``NAME:PORT`` at that port;
``--allow-any-host`` switches the check off. A Host without a port means port 80; names compare
case-insensitively, without a trailing dot.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY_PORT = None
_HOST = re.compile(r"(?P<name>\[[0-9a-fA-F:.]+\]|[^\[\]:/@\s]+)(?::(?P<port>[0-9]{1,5}))?")


def split_host(value: str) -> tuple[str, int | None] | None:
    """``"Example.org:8080"`` -> ("example.org", 8080), ``"[::1]"`` -> ("[::1]", None); None when
    ``value`` is not a host with an optional port."""
    match = _HOST.fullmatch(value.strip())
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    name = match["name"].lower()
    name = name[:-1] if name.endswith(".") and not name.startswith("[") else name
    return (name, port) if name and (port is None or port <= 65535) else None


def parse_host(value: str) -> tuple[str, int] | None:
    """A ``Host`` header as (name, port), port 80 when it names none; None when it is malformed."""
    parts = split_host(value)
    return None if parts is None else (parts[0], 80 if parts[1] is None else parts[1])


def address_name(host: str) -> str:
    """A host as it appears in a URL: IPv6 addresses in brackets, names lower case."""
    host = host.strip().lower().rstrip(".")
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_local(host: str) -> bool:
    """A loopback address or name, or the wildcard address (which also listens on loopback)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@dataclass(frozen=True)
class HostRule:
    """Allowed (name, port) pairs; a port of ``ANY_PORT`` matches every port. ``any_host``: no check."""

    allowed: frozenset[tuple[str, int | None]] = field(default_factory=frozenset)
    any_host: bool = False

    def allows(self, header: str | None) -> bool:
        if self.any_host:
            return True
        parsed = parse_host(header) if header else None
        if parsed is None:
            return False
        name, port = parsed
        return (name, port) in self.allowed or (name, ANY_PORT) in self.allowed

    def names(self) -> list[str]:
        """The allowed hosts as a client writes them, sorted: ``localhost:8080``, ``proxy.example``."""
        return sorted(name if port is ANY_PORT else f"{name}:{port}" for name, port in self.allowed)


def host_rule(bound: Iterable[str], port: int, extra: Iterable[str] = (), any_host: bool = False) -> HostRule:
    """The rule of an app bound to ``port`` on the addresses or names ``bound`` (the ``--host`` as
    given and the socket's address), plus ``extra`` (``NAME`` or ``NAME:PORT``, ``--allowed-host``)."""
    bound = [address_name(host) for host in bound]
    names = set(bound) | (set(LOOPBACK_NAMES) if any(is_local(host) for host in bound) else set())
    allowed: set[tuple[str, int | None]] = {(name, port) for name in names}
    for item in extra:
        parts = split_host(item)
        if parts is None:
            raise ValueError(f"--allowed-host takes NAME or NAME:PORT, got {item!r}")
        allowed.add(parts)  # no port: ANY_PORT
    return HostRule(frozenset(allowed), any_host)


def loopback_rule() -> HostRule:
    """Loopback names at any port: the rule of an app whose port is not known to it."""
    return HostRule(frozenset((name, ANY_PORT) for name in LOOPBACK_NAMES))


def refusal(header: str | None, rule: HostRule) -> str:
    names = ", ".join(rule.names())
    if not header:
        return f"the request has no Host header, and this app answers only requests for {names}"
    return f"the Host header {header!r} names no address this app answers to ({names}); sagan-explore --allowed-host NAME adds one"


class HostCheck:
    """ASGI middleware: requests whose ``Host`` the rule does not allow get 403 and ``{"error": ...}``."""

    def __init__(self, app, rule: HostRule):
        self.app = app
        self.rule = rule

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or self.rule.any_host:
            return await self.app(scope, receive, send)
        hosts = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == b"host"]
        header = hosts[0] if len(hosts) == 1 else None  # two Host headers: refused as ambiguous
        if self.rule.allows(header):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        body = json.dumps({"error": refusal(header if len(hosts) < 2 else ", ".join(hosts), self.rule)}).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
