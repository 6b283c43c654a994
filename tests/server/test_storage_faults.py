"""A real server whose database cannot be written: a full disk (a small tmpfs) and a
read-only file (``chattr +i``). It says so, refuses submissions with the reason, never
leaves a finished task ``running``, keeps every entry, and heals once the fault is gone."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakellm import FakeLLM
from tests.server.liveserver import LiveServer
from tests.server.test_many_servers import run_what_the_task_says, wait_for


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs (needs root: skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Fill the file system of ``disk`` to the last byte; the filler file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)
    return filler


def health(server: LiveServer) -> str:
    return server.http.get("api/health").json()["status"]


def test_a_full_disk_is_reported_and_heals(small_disk: Path, fake_llm: FakeLLM,
                                           tmp_path: Path) -> None:
    fake_llm.default = run_what_the_task_says
    server = LiveServer(tmp_path / "live", fake_llm.base_url, db_path=small_disk / "tasks.db")
    try:
        server.start()
        running = server.submit("RUN[sleep 2; echo slept]")
        server.wait_status(running, {"running"})
        filler = fill(small_disk)

        refused = server.http.post("api/task", json={"task": "more"})
        assert refused.status_code == 503
        assert "disk is full" in refused.json()["error"]
        assert str(small_disk / "tasks.db") in refused.json()["error"]
        assert health(server) == "error"
        ended = server.wait_status(running, {"failed", "completed", "cancelled"})
        assert ended["status"] == "failed" and "could not be stored" in ended["error"]
        kept = [e["seq"] for e in ended["log"]]  # from memory: nothing lost
        assert kept == list(range(1, len(kept) + 1))

        filler.unlink()  # freeing the space heals it, without a restart
        wait_for(lambda: health(server) == "ok", timeout=30)
        assert server.wait_status(server.submit("RUN[echo healed]"), {"completed"})
        wait_for(lambda: server.http.get(f"api/task/{running}").json() == ended, timeout=30)
        server.stop()
        server.start()  # what was kept in memory reached the file
        stored = server.http.get(f"api/task/{running}").json()
        assert (stored["status"], stored["error"]) == ("failed", ended["error"])
        assert [e["seq"] for e in stored["log"]] == kept
    finally:
        server.close()


def chattr(flag: str, path: Path) -> bool:
    found = shutil.which("chattr")
    return bool(found) and subprocess.run([found, flag, str(path)],
                                          capture_output=True).returncode == 0


def test_a_read_only_database_is_reported_and_heals(live_server: LiveServer,
                                                    fake_llm: FakeLLM) -> None:
    fake_llm.default = run_what_the_task_says
    live_server.start()
    done = live_server.wait_status(live_server.submit("RUN[echo before]"), {"completed"})
    live_server.stop()
    if not chattr("+i", live_server.db_path):
        pytest.skip("chattr +i does not work here (needs root and a file system that has it)")
    try:
        live_server.start()
        assert health(live_server) == "error"
        refused: Any = live_server.http.post("api/task", json={"task": "more"})
        assert refused.status_code == 503
        assert "readonly" in refused.json()["error"]
        assert live_server.http.get(f"api/task/{done['id']}").json() == done  # reads work
    finally:
        chattr("-i", live_server.db_path)
    wait_for(lambda: health(live_server) == "ok", timeout=30)
    assert live_server.wait_status(live_server.submit("RUN[echo after]"), {"completed"})
    time.sleep(0)  # the same server, no restart
