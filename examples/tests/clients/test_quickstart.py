"""The quickstart server driven by `jsonrpcclient` over `requests`, and by curl."""

import gzip
import json
import subprocess
import zlib

import pytest
import requests
from jsonrpcclient import Error, Ok, notification, parse, request


def call(server, path, method, params=None):
    body = request(method, params=params) if params is not None else request(method)
    response = requests.post(server.url(path), json=body, timeout=10)
    assert response.status_code == 200
    return parse(response.json())


def test_echo_and_its_alias(quickstart):
    assert call(quickstart, "/api", "echo", ["hi"]).result == "hi"
    assert call(quickstart, "/api", "echo", {"data": "named"}).result == "named"
    assert call(quickstart, "/api", "echo").result == "Hello world!"
    assert call(quickstart, "/api", "helloworld", [[1, 2]]).result == [1, 2]


def test_random_on_two_paths(quickstart):
    value = call(quickstart, "/api", "random").result
    assert isinstance(value, int) and 0 <= value < 65536
    value = call(quickstart, "/api2", "random").result
    assert isinstance(value, float) and 0.0 <= value < 1.0 and round(value, 1) == value


def test_myip_is_the_callers(quickstart):
    assert call(quickstart, "/api", "myip").result == "127.0.0.1"


def test_setcookie_sets_a_real_cookie(quickstart):
    response = requests.post(quickstart.url("/api"), json=request("setcookie"), timeout=10)
    assert isinstance(parse(response.json()), Ok)
    assert response.cookies.get("myTestCookie") == "Your IP is 127.0.0.1"
    assert "HttpOnly" in response.headers["Set-Cookie"]


def test_big(quickstart):
    assert len(call(quickstart, "/api", "big").result) == 600_000


def post_raw(server, body, **headers):
    headers.setdefault("Content-Type", "application/json")
    return requests.post(server.url("/api"), data=body, headers=headers, timeout=10)


def test_big_is_compressed_for_requests_by_default(quickstart):
    # requests (urllib3) offers gzip, deflate, br and zstd with brotli and
    # backports.zstd installed, and decodes the answer transparently.
    offered = requests.utils.default_headers()["Accept-Encoding"]
    assert {"gzip", "deflate", "br", "zstd"} <= {c.strip() for c in offered.split(",")}
    response = requests.post(quickstart.url("/api"), json=request("big"), timeout=10)
    assert response.headers["Content-Encoding"] == "zstd"  # the server's first choice
    assert "accept-encoding" in response.headers["Vary"].lower()
    assert int(response.headers["Content-Length"]) < 10_000
    assert parse(response.json()).result == "foobar" * 100_000


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_big_in_each_coding(quickstart, coding):
    response = requests.post(quickstart.url("/api"), json=request("big"), timeout=10,
                             headers={"Accept-Encoding": coding})
    assert response.headers["Content-Encoding"] == coding
    assert len(parse(response.json()).result) == 600_000


def test_q_values_choose(quickstart):
    response = requests.post(quickstart.url("/api"), json=request("big"), timeout=10,
                             headers={"Accept-Encoding": "zstd;q=0, br;q=0.5, gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    response = requests.post(quickstart.url("/api"), json=request("big"), timeout=10,
                             headers={"Accept-Encoding": "*;q=0"})
    assert "Content-Encoding" not in response.headers
    assert len(parse(response.json()).result) == 600_000


def test_only_big_is_compressed(quickstart):
    # echo is not allowed compression, however large its answer.
    response = requests.post(quickstart.url("/api"), json=request("echo", ["x" * 50_000]),
                             timeout=10)
    assert "Content-Encoding" not in response.headers
    assert "accept-encoding" in response.headers["Vary"].lower()
    assert parse(response.json()).result == "x" * 50_000


@pytest.mark.parametrize("coding, compress", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
])
def test_compressed_request_bodies(quickstart, coding, compress):
    body = json.dumps(request("echo", ["squeezed"])).encode()
    response = post_raw(quickstart, compress(body), **{"Content-Encoding": coding})
    assert response.status_code == 200
    assert parse(response.json()).result == "squeezed"


def test_compressed_request_bodies_br_and_zstd(quickstart):
    import brotli
    try:
        from compression import zstd
    except ImportError:
        from backports import zstd
    body = json.dumps(request("echo", ["squeezed"])).encode()
    for coding, data in [("br", brotli.compress(body)), ("zstd", zstd.compress(body))]:
        response = post_raw(quickstart, data, **{"Content-Encoding": coding})
        assert response.status_code == 200, coding
        assert parse(response.json()).result == "squeezed"


def test_request_decompression_is_capped_and_checked(quickstart):
    # 11 MiB of zeros, 11 kB gzipped: over the 10 MiB decompressed cap.
    bomb = gzip.compress(b"\0" * (11 << 20))
    assert len(bomb) < 100_000
    assert post_raw(quickstart, bomb, **{"Content-Encoding": "gzip"}).status_code == 413
    assert post_raw(quickstart, b"not gzip", **{"Content-Encoding": "gzip"}).status_code == 400
    response = post_raw(quickstart, b"{}", **{"Content-Encoding": "compress"})
    assert response.status_code == 415
    assert "gzip" in response.headers["Accept-Encoding"]


def test_unknown_method_is_an_error(quickstart):
    result = call(quickstart, "/api", "nope")
    assert isinstance(result, Error) and result.code == -32601


def test_notification_gets_an_empty_success(quickstart):
    response = requests.post(quickstart.url("/api"), json=notification("echo"), timeout=10)
    assert response.ok and response.content == b""


def test_curl(quickstart):
    out = subprocess.run(
        ["curl", "-sS", "-i", quickstart.url("/api"), "-H", "Content-Type: application/json",
         "-d", '{"jsonrpc":"2.0","method":"echo","params":["curl"],"id":7}'],
        check=True, capture_output=True, timeout=30,
    ).stdout.decode()
    head, body = out.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 200")
    assert "content-type: application/json" in head.lower()
    assert json.loads(body) == {"jsonrpc": "2.0", "result": "curl", "id": 7}
    # HTTP/2 with prior knowledge on the same port.
    out = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version}",
         quickstart.url("/api"), "-H", "Content-Type: application/json",
         "-d", '{"jsonrpc":"2.0","method":"echo","id":1}'],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout
    assert out == "2"


# CORS (permissive) and JSONP, as the quickstart turns them on.

def curl_head_and_body(*args):
    out = subprocess.run(
        ["curl", "-sS", "-i", "--globoff", *args],
        check=True, capture_output=True, timeout=30,
    ).stdout.decode()
    head, body = out.split("\r\n\r\n", 1)
    status = int(head.split(" ", 2)[1])
    headers = {}
    for line in head.split("\r\n")[1:]:
        name, value = line.split(":", 1)
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def test_cors_preflight(quickstart):
    response = requests.options(quickstart.url("/api"), timeout=10, headers={
        "Origin": "http://page.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-token",
    })
    assert response.status_code == 204
    h = response.headers
    assert h["Access-Control-Allow-Origin"] == "*"
    assert h["Access-Control-Allow-Methods"] == "POST, GET, OPTIONS"
    assert "content-type" in h["Access-Control-Allow-Headers"].lower()
    assert "x-token" in h["Access-Control-Allow-Headers"].lower()
    assert int(h["Access-Control-Max-Age"]) > 0
    assert "origin" in h["Vary"].lower()
    assert "Access-Control-Allow-Credentials" not in h


def test_cors_on_actual_answers(quickstart):
    origin = {"Origin": "http://page.example"}
    response = requests.post(quickstart.url("/api"), json=request("echo", ["x"]), headers=origin,
                             timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "origin" in response.headers["Vary"].lower()
    response = requests.post(quickstart.url("/api"), json=notification("echo"), headers=origin,
                             timeout=10)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    response = requests.get(quickstart.url("/api/echo"), params={"jsonp": "cb"}, headers=origin,
                            timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    # Not a CORS request: no Access-Control-* header.
    response = requests.post(quickstart.url("/api"), json=request("echo", ["x"]), timeout=10)
    assert not [k for k in response.headers if k.lower().startswith("access-control-")]


def test_jsonp_with_requests(quickstart):
    response = requests.get(quickstart.url("/api/echo"),
                            params={"data": "a b&c", "jsonp": "cb"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.text == '/**/cb("a b&c");'
    # `callback` works too; the alias and the default param.
    response = requests.get(quickstart.url("/api/helloworld"), params={"callback": "f.g[0]"},
                            timeout=10)
    assert response.text == '/**/f.g[0]("Hello world!");'
    # No callback: plain JSON.
    response = requests.get(quickstart.url("/api/echo"), params={"data": "plain"}, timeout=10)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == "plain"
    # U+2028 escaped inside the callback.
    response = requests.get(quickstart.url("/api/echo"),
                            params={"data": "a\u2028b", "jsonp": "cb"}, timeout=10)
    assert response.content == b'/**/cb("a\\u2028b");'


def test_jsonp_errors_inside_the_callback(quickstart):
    response = requests.get(quickstart.url("/api/nope"), params={"jsonp": "cb"}, timeout=10)
    assert response.status_code == 200
    assert response.text.startswith("/**/cb(") and response.text.endswith(");")
    inner = json.loads(response.text[len("/**/cb("):-2])
    assert inner["error"]["code"] == -32601
    # setcookie refuses JSONP: 403, and no cookie.
    response = requests.get(quickstart.url("/api/setcookie"), params={"jsonp": "cb"}, timeout=10)
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers
    assert json.loads(response.text[len("/**/cb("):-2])["error"]["code"] == -32000


def test_jsonp_and_cors_with_curl(quickstart):
    status, headers, body = curl_head_and_body(quickstart.url("/api/echo?data=test&jsonp=cb"),
                                               "-H", "Origin: http://page.example")
    assert status == 200
    assert body == '/**/cb("test");'
    assert headers["content-type"] == ["application/javascript; charset=utf-8"]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert headers["access-control-allow-origin"] == ["*"]
    assert any("origin" in v.lower() for v in headers["vary"])

    status, headers, body = curl_head_and_body(
        "-X", "OPTIONS", quickstart.url("/api"), "-H", "Origin: http://page.example",
        "-H", "Access-Control-Request-Method: POST")
    assert status == 204 and body == ""
    assert headers["access-control-allow-methods"] == ["POST, GET, OPTIONS"]
    assert headers["allow"] == ["POST, GET, OPTIONS"]

    for query, says in [
        ("jsonp=cb);alert(1)//", "character `)`"),
        ("jsonp=" + "a" * 129, "limit is 128"),
        ("data=%ZZ&jsonp=cb", "invalid query string"),
    ]:
        status, headers, body = curl_head_and_body(quickstart.url("/api/echo?" + query))
        assert status == 400, query
        assert headers["content-type"] == ["text/plain; charset=utf-8"], query
        assert says in body, (query, body)


def curl_big(server, *options):
    out = subprocess.run(
        ["curl", "-sS", "-D", "-", *options, server.url("/api"),
         "-H", "Content-Type: application/json",
         "-d", '{"jsonrpc":"2.0","method":"big","id":3}'],
        check=True, capture_output=True, timeout=30,
    ).stdout
    head, body = out.split(b"\r\n\r\n", 1)
    headers = dict(
        line.split(": ", 1) for line in head.decode().lower().split("\r\n")[1:]
    )
    return headers, body


def test_curl_compressed(quickstart):
    headers, body = curl_big(quickstart, "--compressed")
    # curl offers what its libcurl was built with; the server picks one.
    assert headers["content-encoding"] in {"gzip", "deflate", "br", "zstd"}
    assert int(headers["content-length"]) < 10_000
    assert json.loads(body) == {"jsonrpc": "2.0", "result": "foobar" * 100_000, "id": 3}
    # Without --compressed curl sends no Accept-Encoding: plain JSON.
    headers, body = curl_big(quickstart)
    assert "content-encoding" not in headers
    assert len(body) > 600_000 and json.loads(body)["id"] == 3
