"""Whether this host can listen on a TCP port, asked before TensorFlow's server tries.

TensorFlow's gRPC server shares a port with another that allows it (``SO_REUSEPORT``) and reports
other clashes late or not at all, so a worker probes its port first: a socket bound to every address
of the host, as the server's is, allowing only what the server also allows (rebinding a port whose
last connections are still closing, ``SO_REUSEADDR``). The port can still be taken between the
probe and the server's start; the probe catches a port that is already held.
"""

from __future__ import annotations

import errno
import socket


def problem(port: int) -> str | None:
    """None when this host can listen on ``port``; else why not (``in use by another process``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OverflowError:
            return "not a port number (0-65535)"
        except OSError as e:
            return "in use by another process" if e.errno == errno.EADDRINUSE else (e.strerror or str(e)).lower()
    return None
