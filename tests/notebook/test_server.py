"""The magic inside a kernel started by a real jupyter server with the extension."""

from __future__ import annotations

import httpx

from tests.notebook.conftest import ANSWER, JupyterProcess
from tests.notebook.kernelws import ServerKernel

CODE = """
%load_ext open_agent_jupyter
import os
r = %agent --max-iterations 6 Create hello.py that prints Hello World, then run it.
print("URL", os.environ.get("OPEN_AGENT_URL"))
print("CLIENT", type(r.client).__name__)
print("STATUS", r.status, r.id)
print("RESULT", r.result)
"""


async def test_magic_talks_to_the_server_that_started_the_kernel(
        jupyter_server: JupyterProcess) -> None:
    kernel = ServerKernel(jupyter_server.url, jupyter_server.token)
    try:
        out, errors = await kernel.run(CODE)
    finally:
        kernel.shutdown()
    assert not errors, errors
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert lines["URL"] == jupyter_server.url
    assert lines["CLIENT"] == "AgentClient"
    status, task_id = lines["STATUS"].split()
    assert status == "completed"
    assert lines["RESULT"] == ANSWER
    task = httpx.get(jupyter_server.url + f"api/task/{task_id}",
                     headers=jupyter_server.headers).json()
    assert task["status"] == "completed"
    assert [e["tool"] for e in task["log"] if e["entry_type"] == "tool_call"] == [
        "write_file", "run_command"]
    assert (jupyter_server.root / "hello.py").exists()
    from open_agent_jupyter import AgentClient

    with AgentClient(jupyter_server.url, jupyter_server.token) as client:
        figures = client.get(task_id, log=False)
        assert "log" not in figures and figures["status"] == "completed"
        assert client.get(task_id)["log"] == task["log"]
