"""A real ``jupyter server`` killed with SIGKILL mid-task and started again on its database."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.fakellm import FakeLLM, call, text
from tests.process_utils import processes_running
from tests.server.liveserver import LiveServer


def test_the_extension_is_enabled_on_install() -> None:
    out = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"],
                         capture_output=True, text=True, timeout=60)
    listing = out.stdout + out.stderr
    assert "open_agent_jupyter" in listing and "enabled" in listing
    assert "open_agent_jupyter 0" in listing and "OK" in listing


def test_sigkill_mid_task_then_restart(live_server: LiveServer, fake_llm: FakeLLM) -> None:
    live_server.start()
    fake_llm.script(text("first answer"))
    finished = live_server.submit("finish quickly")
    done = live_server.wait_status(finished, {"completed"})
    # setsid and a double fork: both leave the command's process group and session.
    command = "setsid sleep 30.5151 & (sh -c 'sleep 30.5151 &' &); sleep 30.5151"
    fake_llm.script(call("run_command", {"command": command}), text("unreachable"))
    interrupted = live_server.submit("sleep for a while")
    live_server.wait_status(interrupted, {"running"})
    while len(processes_running("sleep 30.5151")) < 3:
        time.sleep(0.02)
    live_server.kill()
    assert processes_running("sleep 30.5151")  # orphaned by the SIGKILL

    live_server.start()  # recovery kills what the dead server's task started
    for _ in range(200):  # SIGKILLed processes vanish asynchronously
        if not processes_running("sleep 30.5151"):
            break
        time.sleep(0.05)
    assert not processes_running("sleep 30.5151")
    again = live_server.http.get(f"api/task/{finished}").json()
    assert again == done  # finished tasks are intact, log included
    lost = live_server.http.get(f"api/task/{interrupted}").json()
    assert lost["status"] == "failed"
    assert lost["error"] == "interrupted: its server stopped"
    assert lost["log"][-1]["entry_type"] == "error"
    assert lost["log"][-1]["content"] == "interrupted: its server stopped"
    page = live_server.http.get("api/tasks").json()
    assert [t["id"] for t in page["tasks"]] == [interrupted, finished]


def test_a_clean_shutdown_cancels_the_running_task(live_server: LiveServer,
                                                   fake_llm: FakeLLM) -> None:
    live_server.start()
    fake_llm.script(call("run_command", {"command": "sleep 30.6161"}), text("unreachable"))
    task_id = live_server.submit("sleep for a while")
    live_server.wait_status(task_id, {"running"})
    while not processes_running("sleep 30.6161"):
        time.sleep(0.02)  # the command has started
    live_server.stop()  # SIGTERM: Jupyter stops its extensions
    assert not processes_running("sleep 30.6161")  # its process tree went with it

    live_server.start()
    task = live_server.http.get(f"api/task/{task_id}").json()
    assert task["status"] == "cancelled" and task["finished_at"]
    assert task["log"][-1]["entry_type"] == "error"
    assert task["log"][-1]["content"] == "server shutting down"  # why it ended, before it did
    assert not any(e["content"].startswith("interrupted") for e in task["log"])
