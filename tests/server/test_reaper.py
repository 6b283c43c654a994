"""The server is its commands' child subreaper (DESIGN §12.10): what a command leaves
behind is adopted by the server, reaped when it exits, and the command's own exit
status still reaches the tool (the reaper never waits for the server's own children)."""

from __future__ import annotations

from pathlib import Path

from tests.fakellm import FakeLLM
from tests.process_utils import processes_running
from tests.server.liveserver import LiveServer
from tests.server.test_many_servers import run_what_the_task_says, wait_for


def parent_and_state(pid: int) -> tuple[int, str] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0]


def test_orphans_are_adopted_and_reaped_and_exit_codes_kept(live_server: LiveServer,
                                                            fake_llm: FakeLLM) -> None:
    fake_llm.default = run_what_the_task_says
    live_server.start()
    assert live_server.proc is not None
    server_pid = live_server.proc.pid
    task_id = live_server.submit(
        "RUN[setsid sleep 24.2626 >/dev/null 2>&1 & sleep 2.5; exit 7]")
    orphan = wait_for(lambda: [p for p in processes_running("sleep 24.2626")
                               if Path(f"/proc/{p}/cmdline").read_bytes().startswith(b"sleep")])[0]
    task = live_server.wait_status(task_id, {"completed", "failed"})
    result = next(e for e in task["log"] if e["entry_type"] == "tool_result")
    assert "Exit code: 7" in result["content"]  # asyncio got its child's status
    # Its shell has exited: the server adopted it (not PID 1), then reaps it when it ends.
    assert parent_and_state(orphan) == (server_pid, "S")
    wait_for(lambda: parent_and_state(orphan) is None, timeout=60)
