"""The quickstart's statistics: its `stats` method through `jsonrpcclient`
over `requests`, and `/metrics` read by the Prometheus project's own
parser of the text format (`prometheus_client`)."""

import requests
from jsonrpcclient import Error, parse, request
from prometheus_client.parser import text_string_to_metric_families


def call(server, method, params=None):
    body = request(method, params=params) if params is not None else request(method)
    response = requests.post(server.url("/api"), json=body, timeout=10)
    assert response.status_code == 200
    return parse(response.json())


def stats_of(server, method, in_ms=True):
    snapshot = call(server, "stats", {"inMS": in_ms}).result
    for entry in snapshot["methods"]:
        if entry["name"] == method or method in entry["aliases"]:
            return snapshot, entry
    raise AssertionError(f"{method} not in {snapshot['methods']}")


def test_stats_counts_calls_and_errors_exactly(quickstart):
    _, before = stats_of(quickstart, "echo")
    for i in range(5):
        assert call(quickstart, "echo", [i]).result == i
    assert call(quickstart, "helloworld", ["alias"]).result == "alias"
    # `header` takes a string: a number is a -32602 error.
    _, header_before = stats_of(quickstart, "header")
    assert isinstance(call(quickstart, "header", [1]), Error)
    snapshot, after = stats_of(quickstart, "echo")
    assert after["calls"] - before["calls"] == 6
    assert after["errors"] == before["errors"]
    _, header_after = stats_of(quickstart, "header")
    assert header_after["calls"] - header_before["calls"] == 1
    assert header_after["errors"] - header_before["errors"] == 1

    assert snapshot["unit"] == "ms"
    assert snapshot["path"] == "/api"
    latency = after["latency"]
    assert latency["count"] >= 6
    assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    for stage in ("decode", "wait", "handler", "encode", "compress"):
        assert set(snapshot["stages"][stage]) >= {"count", "min", "mean", "max", "p50", "p90", "p99"}
    assert snapshot["stages"]["decode"]["count"] > 0
    assert snapshot["stages"]["encode"]["total"] > 0
    assert snapshot["connections"]["accepted"] >= 1
    assert snapshot["connections"]["peak_per_second"] >= 1


def test_stats_in_seconds_by_default(quickstart):
    snapshot = call(quickstart, "stats").result
    assert snapshot["unit"] == "s"
    in_s = next(m for m in snapshot["methods"] if m["name"] == "stats")
    # The call reading the stats is in flight while it reads them.
    assert in_s["in_flight"] == 1


def test_compression_is_timed(quickstart):
    snapshot, _ = stats_of(quickstart, "big")
    before = snapshot["stages"]["compress"]["count"]
    response = requests.post(
        quickstart.url("/api"),
        json=request("big"),
        headers={"Accept-Encoding": "gzip"},
        timeout=10,
    )
    assert response.headers["Content-Encoding"] == "gzip"
    snapshot, _ = stats_of(quickstart, "big")
    assert snapshot["stages"]["compress"]["count"] == before + 1
    assert snapshot["stages"]["compress"]["total"] > 0


def scrape(server):
    response = requests.get(server.url("/metrics"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def sample(families, family, name, **labels):
    for s in families[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no {name}{labels}")


def test_metrics_parse_with_the_reference_parser(quickstart):
    before = scrape(quickstart)
    before_calls = sample(before, "rpckit_calls", "rpckit_calls_total", path="/api", method="random")
    for _ in range(3):
        call(quickstart, "random")
    requests.post(quickstart.url("/api2"), json=request("random"), timeout=10)
    families = scrape(quickstart)

    # The parser strips `_total` from counter family names.
    assert families["rpckit_calls"].type == "counter"
    assert families["rpckit_call_duration_seconds"].type == "histogram"
    assert families["rpckit_stage_duration_seconds"].type == "histogram"
    assert families["rpckit_calls_in_flight"].type == "gauge"
    assert families["rpckit_connections_open"].type == "gauge"
    calls = sample(families, "rpckit_calls", "rpckit_calls_total", path="/api", method="random")
    assert calls - before_calls == 3
    assert sample(families, "rpckit_calls", "rpckit_calls_total", path="/api2", method="random") >= 1

    # Every histogram: cumulative buckets, +Inf equal to _count.
    for name in ("rpckit_call_duration_seconds", "rpckit_stage_duration_seconds"):
        series = {}
        for s in families[name].samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {})
            if s.name.endswith("_bucket"):
                series[key].setdefault("buckets", []).append((float(s.labels["le"]), s.value))
            else:
                series[key][s.name[len(name):]] = s.value
        assert series
        for key, parts in series.items():
            buckets = sorted(parts["buckets"])
            assert [v for _, v in buckets] == sorted(v for _, v in buckets), key
            assert buckets[-1][0] == float("inf")
            assert buckets[-1][1] == parts["_count"], key
    count = sample(families, "rpckit_call_duration_seconds", "rpckit_call_duration_seconds_count",
                   path="/api", method="random")
    assert count == calls
    stages = {s.labels["stage"] for s in families["rpckit_stage_duration_seconds"].samples}
    assert stages == {"decode", "wait", "handler", "encode", "compress"}
