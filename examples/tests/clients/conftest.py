"""Starts the example servers, built by cargo beforehand, on free ports."""

import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


class Server:
    def __init__(self, binary, *args, scheme="http"):
        exe = TARGET / "debug" / binary
        if not exe.exists():
            raise RuntimeError(f"{exe} is missing: run `cargo build -p rpckit-examples` first")
        self.proc = subprocess.Popen(
            [str(exe), "--addr", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        match = re.search(scheme + r"://([0-9.]+):([0-9]+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"{binary} did not say where it listens: {line!r}")
        self.base = f"{scheme}://{match.group(1)}:{match.group(2)}"
        self.host, self.port = match.group(1), int(match.group(2))
        # Every address the first line names (`multiple` names three).
        self.bases = [f"http://{addr}" for addr in re.findall(r"http://([0-9.]+:[0-9]+)", line)]

    def url(self, path):
        return self.base + path

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def spec_server():
    # Its TCP listener on a free port too, not the fixed default.
    server = Server("spec_server", "--tcp-addr", "127.0.0.1:0")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def quickstart():
    server = Server("quickstart")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def multiple():
    server = Server("multiple")
    yield server
    server.stop()


@pytest.fixture()
def restart_server():
    server = Server("restart")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth():
    """The auth example with its default policy: a token, no trusted localhost."""
    server = Server("auth", "--token", "s3cret-for-tests")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_trusting_localhost():
    server = Server("auth", "--token", "s3cret-for-tests", "--trust-localhost")
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["axum-outside", "rpckit-outside"])
def merge_axum(request):
    """merge_axum in both arrangements: each test runs against both."""
    server = Server("merge_axum", "--mode", request.param)
    server.mode = request.param
    yield server
    server.stop()


@pytest.fixture
def tcp_server():
    """Starts `tcp_server` with the given flags; stopped after the test."""
    started = []

    def start(*args):
        server = Server("tcp_server", *args, scheme="tcp")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture()
def parallel_executing():
    server = Server("parallel_executing", "--workers", "2")
    yield server
    server.stop()


@pytest.fixture()
def notify_server():
    """Both servers of `notify` on free ports: `bases[0]` inline, `bases[1]` queued."""
    server = Server("notify", "--queued-addr", "127.0.0.1:0")
    yield server
    if server.proc.poll() is None:
        server.stop()
