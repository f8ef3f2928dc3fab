"""The `notify` example with `requests`: an inline notification makes the
client wait for its handler; a queued one is answered at once; a graceful
stop runs every queued notification first."""

import signal

import requests


def notify(base, ms):
    body = {"jsonrpc": "2.0", "method": "block", "params": [ms]}
    response = requests.post(base + "/api", json=body, timeout=30)
    # A notification gets no JSON-RPC answer: HTTP 204, empty.
    assert response.status_code == 204 and response.content == b""


def result(base, method):
    body = {"jsonrpc": "2.0", "method": method, "id": 1}
    return requests.post(base + "/api", json=body, timeout=30).json()["result"]


def test_an_inline_notification_has_run_when_its_client_is_answered(notify_server):
    inline = notify_server.bases[0]
    for expected in range(1, 4):
        notify(inline, 50)
        assert result(inline, "done_count") == expected


def test_queued_notifications_are_answered_before_they_run_and_drained_at_stop(notify_server):
    queued = notify_server.bases[1]
    sent = 8
    for _ in range(sent):
        # Each sleeps 1.5 s; four workers: the last ones are still waiting.
        notify(queued, 1500)
    assert result(queued, "accepted_count") == sent
    assert result(queued, "done_count") < sent
    notify_server.proc.send_signal(signal.SIGTERM)
    out, _ = notify_server.proc.communicate(timeout=60)
    assert notify_server.proc.returncode == 0
    last = out.strip().splitlines()[-1]
    assert last == f"stopped: inline done 0, queued done {sent} of {sent} accepted", last
