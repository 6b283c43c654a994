"""Two real servers on one database (DESIGN §12.4): each runs only its own tasks, serves the
other's from the store, passes Stop on to the owner, and recovers a dead one's tasks."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakellm import FakeLLM, Reply, call, text
from tests.process_utils import processes_running
from tests.server.liveserver import LiveServer

RUN = re.compile(r"RUN\[(.*?)\]")


def run_what_the_task_says(body: dict[str, Any]) -> Reply:
    """The LLM: run the command between ``RUN[`` and ``]`` in the task once, then finish."""
    messages = body["messages"]
    if any(m.get("role") == "tool" for m in messages):
        return text("done")
    match = RUN.search(json.dumps(messages[:3]))
    return call("run_command", {"command": match.group(1), "timeout_secs": 600}) if match \
        else text("nothing to run")


@pytest.fixture
def pair(fake_llm: FakeLLM, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Server A (one task at a time) and server B on A's database, not started yet."""
    fake_llm.default = run_what_the_task_says
    a = LiveServer(tmp_path / "a", fake_llm.base_url, args=("--OpenAgent.max_running=1",))
    b = LiveServer(tmp_path / "b", fake_llm.base_url, db_path=a.db_path)
    yield a, b
    a.close()
    b.close()


def wait_for(predicate: Any, timeout: float = 60.0) -> Any:
    """Poll ``predicate`` until it gives something true (a deadline, not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"{predicate} stayed false for {timeout} s")


def stream(server: LiveServer, task_id: str) -> list[dict[str, Any]]:
    """The SSE frames of a task's stream, read until it ends."""
    frames: list[dict[str, Any]] = []
    with server.http.stream("GET", f"api/task/{task_id}/stream",
                            timeout=httpx.Timeout(60)) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                frames.append({"event": event, "data": json.loads(line[5:])})
    return frames


def test_a_second_server_leaves_the_first_ones_tasks_alone(pair: tuple[LiveServer, LiveServer],
                                                           tmp_path: Path) -> None:
    a, b = pair
    runs = tmp_path / "runs.txt"
    a.start()
    long = a.submit("RUN[sleep 31.2121]")
    a.wait_status(long, {"running"})
    queued = a.submit(f"RUN[echo once >> {runs}]")  # A runs one task at a time: it waits
    b.start()
    time.sleep(6)  # three of B's ticks: B must not touch A's tasks (an absence, not a speed)
    assert b.http.get(f"api/task/{long}").json()["status"] == "running"
    assert b.http.get(f"api/task/{queued}").json()["status"] == "pending"
    assert processes_running("sleep 31.2121")

    # B follows A's task from the store, and a Stop through B is carried out by A.
    stopped = b.http.post(f"api/task/{long}/stop").json()
    assert stopped["status"] == "cancelled"
    assert not processes_running("sleep 31.2121")
    done = a.wait_status(queued, {"completed"})  # A's queue moves on: it runs it, once
    assert runs.read_text() == "once\n"
    frames = stream(b, queued)
    assert frames[-1] == {"event": "done", "data": {k: done[k] for k in frames[-1]["data"]}}
    logged = [f["data"]["seq"] for f in frames if f["event"] == "log"]
    assert logged == [e["seq"] for e in done["log"]]


def test_a_dead_servers_tasks_are_recovered_by_a_live_one(pair: tuple[LiveServer, LiveServer],
                                                          tmp_path: Path) -> None:
    a, b = pair
    runs = tmp_path / "runs.txt"
    a.start()
    b.start()
    long = a.submit("RUN[setsid sleep 32.3232 & sleep 32.3232]")
    a.wait_status(long, {"running"})
    queued = a.submit(f"RUN[echo once >> {runs}]")
    wait_for(lambda: len(processes_running("sleep 32.3232")) >= 2)
    following = b.http.get(f"api/task/{long}").json()
    assert following["status"] == "running" and following["log"]  # served from the store

    a.kill()  # SIGKILL: A records nothing more; B finds it gone at its next tick
    failed = b.wait_status(long, {"failed"})
    assert failed["error"] == "interrupted: its server stopped"
    assert failed["log"][-1]["content"] == "interrupted: its server stopped"
    wait_for(lambda: not processes_running("sleep 32.3232"), timeout=10)
    b.wait_status(queued, {"completed"})  # claimed by B, run exactly once
    assert runs.read_text() == "once\n"
    seqs = [e["seq"] for e in b.http.get(f"api/task/{queued}").json()["log"]]
    assert seqs == list(range(1, len(seqs) + 1))
