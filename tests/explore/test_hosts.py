"""sagan-explore answers only the Host names of the address it serves (DNS rebinding): the rule,
the refusal over HTTP on 127.0.0.1, and allowed host names (the command line's flags:
``tests/cli/test_explore.py``)."""

import json
import socket
import urllib.parse

import numpy as np
import pytest

from sagan_tf.explore.hosts import ANY_PORT, HostRule, host_rule, parse_host, split_host
from tests.helpers.explore import decode_png, get_with_headers, serving


def test_host_headers_parse_to_a_lower_case_name_and_a_port():
    assert parse_host("Example.ORG:8080") == ("example.org", 8080)
    assert parse_host("localhost.") == ("localhost", 80)  # no port: http's 80; the root dot dropped
    assert parse_host("[::1]:9000") == ("[::1]", 9000)
    assert split_host("proxy.example") == ("proxy.example", None)
    for bad in ("", "a b", "[::1", "x@evil:80", "host:99999", "host:", "host:8080:1", "http://x"):
        assert parse_host(bad) is None, bad


def test_the_rule_of_a_loopback_bind_is_its_address_and_the_loopback_names_at_its_port():
    rule = host_rule(["127.0.0.1"], 8080)
    assert rule.names() == ["127.0.0.1:8080", "[::1]:8080", "localhost:8080"]
    assert [rule.allows(h) for h in ("localhost:8080", "LOCALHOST:8080", "[::1]:8080", "127.0.0.1:8080")] == [True] * 4
    for refused in ("evil.example:8080", "localhost:8081", "localhost", "127.0.0.1", "", None, "localhost:8080 x"):
        assert not rule.allows(refused), refused
    assert host_rule(["::1"], 80).allows("localhost")  # port 80: a Host without a port


def test_a_network_bind_allows_its_own_address_and_the_names_given_and_nothing_else():
    lan = host_rule(["192.168.1.5", "box.lan"], 8080, ["proxy.example", "tunnel.example:443"])
    assert lan.names() == ["192.168.1.5:8080", "box.lan:8080", "proxy.example", "tunnel.example:443"]
    assert lan.allows("box.lan:8080") and lan.allows("proxy.example") and lan.allows("proxy.example:8443")
    assert lan.allows("tunnel.example:443") and not lan.allows("tunnel.example:8080")
    assert not lan.allows("localhost:8080") and not lan.allows("evil.example:8080")
    everywhere = host_rule(["0.0.0.0"], 8080)  # listens on loopback too
    assert everywhere.names() == ["0.0.0.0:8080", "127.0.0.1:8080", "[::1]:8080", "localhost:8080"]
    assert HostRule(any_host=True).allows("evil.example:1") and ("proxy.example", ANY_PORT) in lan.allowed
    with pytest.raises(ValueError, match="--allowed-host takes NAME or NAME:PORT, got 'a b'"):
        host_rule(["127.0.0.1"], 8080, ["a b"])


def request(url, host=None):
    return get_with_headers(url, headers={"Host": host} if host else None)


def test_a_foreign_host_is_refused_with_403_and_the_addresses_served_are_answered(explore_app_url, explore_reference):
    port = urllib.parse.urlsplit(explore_app_url).port
    expected = explore_reference.generate([3], [4])[0][0]
    for path in ("api/info", "api/image.png?seed=3&label=4", "", "static/explore.js", "api/nothing"):
        for host in (f"evil.example:{port}", f"localhost:{port + 1}", "localhost"):
            status, body, headers = request(explore_app_url + path, host)
            assert status == 403 and headers.get("Content-Type") == "application/json", (path, host, status)
            assert json.loads(body) == {"error": (
                f"the Host header {host!r} names no address this app answers to (127.0.0.1:{port}, [::1]:{port}, "
                f"localhost:{port}); sagan-explore --allowed-host NAME adds one")}
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        status, body, _ = request(explore_app_url + "api/image.png?seed=3&label=4", host)
        assert status == 200
        np.testing.assert_array_equal(decode_png(body), expected)


def raw_response(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_request_without_a_host_or_with_two_is_refused(explore_app_url):
    port = urllib.parse.urlsplit(explore_app_url).port
    answer = raw_response(port, b"GET /api/info HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"error": (
        f"the request has no Host header, and this app answers only requests for 127.0.0.1:{port}, [::1]:{port}, "
        f"localhost:{port}")}
    two = raw_response(port, f"GET /api/info HTTP/1.0\r\nHost: localhost:{port}\r\nHost: evil.example\r\n\r\n".encode())
    assert two.startswith((b"HTTP/1.1 400", b"HTTP/1.1 403"))  # uvicorn's parser refuses it first, or the app does
    ok = raw_response(port, f"GET /api/info HTTP/1.0\r\nHost: localhost:{port}\r\n\r\n".encode())
    assert ok.startswith(b"HTTP/1.1 200")


def test_allowed_hosts_add_names_at_any_port(explore_generator):
    with serving(explore_generator, allowed_hosts=["proxy.example"]) as url:
        assert request(url + "api/info", "proxy.example")[0] == 200
        assert request(url + "api/info", "PROXY.example:8443")[0] == 200
        assert request(url + "api/info", "other.example")[0] == 403
