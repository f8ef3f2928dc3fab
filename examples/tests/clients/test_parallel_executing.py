"""The `parallel_executing` example with `requests`: CPU-heavy calls run in
worker processes while `echo` keeps answering; a killed worker fails only
its own call and is replaced."""

import os
import signal
import threading
import time

import requests


def rpc(server, method, params=None, session=None, timeout=60):
    body = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        body["params"] = params
    response = (session or requests).post(server.url("/api"), json=body, timeout=timeout)
    assert response.status_code == 200
    return response.json()


def result(server, method, params=None, **kwargs):
    answer = rpc(server, method, params, **kwargs)
    assert "result" in answer, answer
    return answer["result"]


def until(check, what, deadline=20.0):
    """Polls `check` until it returns something true; fails after `deadline`."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"never: {what}")


def test_heavy_work_runs_in_other_processes(parallel_executing):
    workers = result(parallel_executing, "workers")
    pids = {worker["pid"] for worker in workers}
    assert len(pids) == 2
    assert parallel_executing.proc.pid not in pids
    assert result(parallel_executing, "fib", [20]) == 6765
    assert result(parallel_executing, "heavy", [10]) in pids


def test_echo_answers_while_every_worker_computes(parallel_executing):
    heavy_answers = []

    def heavy():
        heavy_answers.append(rpc(parallel_executing, "heavy", [1500]))

    threads = [threading.Thread(target=heavy) for _ in range(2)]
    for thread in threads:
        thread.start()
    # Both workers busy before the echo calls start.
    until(lambda: sum(w["in_flight"] for w in result(parallel_executing, "workers")) == 2,
          "both workers busy")
    sent = answered = 0
    with requests.Session() as session:
        while any(thread.is_alive() for thread in threads):
            sent += 1
            if result(parallel_executing, "echo", [f"e{sent}"], session=session) == f"e{sent}":
                answered += 1
    for thread in threads:
        thread.join()
    assert sent > 0 and answered == sent
    assert len(heavy_answers) == 2
    assert all("result" in answer for answer in heavy_answers), heavy_answers


def test_a_killed_worker_fails_only_its_call_and_is_replaced(parallel_executing):
    before = {w["pid"] for w in result(parallel_executing, "workers")}
    answers = {}

    def long_call():
        answers["long"] = rpc(parallel_executing, "heavy", [30000])

    thread = threading.Thread(target=long_call)
    thread.start()
    busy = until(lambda: [w["pid"] for w in result(parallel_executing, "workers")
                          if w["in_flight"] == 1], "a worker busy")
    victim = busy[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=30)
    assert not thread.is_alive()
    error = answers["long"]["error"]
    assert error["code"] == -32603
    assert "worker process" in error["message"] and str(victim) in error["message"]
    # The server and the other worker never noticed; the next heavy call works.
    assert result(parallel_executing, "echo", ["still here"]) == "still here"
    assert result(parallel_executing, "fib", [15]) == 610
    after = until(lambda: {w["pid"] for w in result(parallel_executing, "workers")}
                  if len(result(parallel_executing, "workers")) == 2 else None,
                  "two workers again")
    assert victim not in after
    assert len(after & before) == 1


def test_restart_workers_starts_a_new_generation(parallel_executing):
    before = {w["pid"] for w in result(parallel_executing, "workers")}
    assert result(parallel_executing, "restart_workers") == 1
    after = result(parallel_executing, "workers")
    assert {w["generation"] for w in after} == {1}
    assert not ({w["pid"] for w in after} & before)
    assert result(parallel_executing, "heavy", [5]) in {w["pid"] for w in after}
