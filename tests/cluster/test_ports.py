"""``sagan_tf.cluster.ports``: a port held by a listening process is reported, a free one is not."""

import socket

from sagan_tf.cluster import ports


def test_a_listening_port_is_in_use_and_free_again_once_closed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))  # held on one address: the server would bind all of them
        server.listen()
        port = server.getsockname()[1]
        assert ports.problem(port) == "in use by another process"
    assert ports.problem(port) is None


def test_a_port_whose_connection_is_closing_is_free():
    """A port in TIME_WAIT (a worker that just ended) does not block a restart."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    assert ports.problem(port) is None


def test_a_number_that_is_no_port():
    assert ports.problem(70000) == "not a port number (0-65535)"
