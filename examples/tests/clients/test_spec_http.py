"""The specification's examples over HTTP with Python's `requests`, in JSON,
CBOR (cbor2) and MessagePack (msgpack), on both JSON decoders."""

import json

import cbor2
import msgpack
import pytest
import requests

from spec_cases import cases, strip_messages

CASES = list(cases())


def post(url, body, content_type):
    return requests.post(url, data=body, headers={"Content-Type": content_type}, timeout=10)


def check(response, expected, decode):
    assert response.status_code in (200, 204)
    if not expected:
        assert response.status_code == 204 and response.content == b""
        return
    assert response.status_code == 200
    assert strip_messages(decode(response.content)) == strip_messages(expected[0])


@pytest.mark.parametrize("path", ["/rpc", "/rpc/simd"])
@pytest.mark.parametrize("request_text,expected,raw", CASES)
def test_json(spec_server, path, request_text, expected, raw):
    response = post(spec_server.url(path), request_text.encode(), "application/json")
    assert response.headers.get("Content-Type", "").startswith("application/json") or not expected
    check(response, expected, json.loads)


@pytest.mark.parametrize("request_text,expected,raw", [c for c in CASES if not c[2]])
def test_cbor(spec_server, request_text, expected, raw):
    body = cbor2.dumps(json.loads(request_text))
    response = post(spec_server.url("/rpc"), body, "application/cbor")
    if expected:
        assert response.headers["Content-Type"] == "application/cbor"
    check(response, expected, cbor2.loads)


@pytest.mark.parametrize("request_text,expected,raw", [c for c in CASES if not c[2]])
def test_msgpack(spec_server, request_text, expected, raw):
    body = msgpack.packb(json.loads(request_text))
    response = post(spec_server.url("/rpc"), body, "application/msgpack")
    if expected:
        assert response.headers["Content-Type"] == "application/msgpack"
    check(response, expected, lambda b: msgpack.unpackb(b, raw=False))


def test_malformed_binary_is_a_parse_error(spec_server):
    for body, ctype in [(b"\xa1\x63jso", "application/cbor"), (b"\xc1", "application/msgpack")]:
        response = post(spec_server.url("/rpc"), body, ctype)
        assert response.status_code == 200
        decode = cbor2.loads if ctype == "application/cbor" else msgpack.unpackb
        assert decode(response.content)["error"]["code"] == -32700


def test_unsupported_content_type_is_415(spec_server):
    response = post(spec_server.url("/rpc"), b"{}", "text/plain")
    assert response.status_code == 415


def test_http_errors(spec_server):
    assert requests.post(spec_server.url("/nope"), data=b"{}", timeout=10).status_code == 404
    response = requests.put(spec_server.url("/rpc"), data=b"{}", timeout=10)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_413_before_it_is_sent(spec_server):
    """Only the headers go out: the server refuses on Content-Length alone."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(spec_server.url("/rpc"))
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        status = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 413")
