"""%agent in a kernel of a real jupyter server: the agent's python runs in that kernel while
the cell waits, and the variables go both ways."""

from __future__ import annotations

import httpx

from tests.fakellm import FakeLLM, call, text
from tests.notebook.conftest import JupyterProcess
from tests.notebook.kernelws import ServerKernel

CODE = """
%load_ext open_agent_jupyter
data = [5, 3, 8]
r = %agent --max-iterations 5 Double the data
print("STATUS", r.status, r.id)
print("DOUBLED", doubled)
"""


async def test_python_runs_in_the_waiting_kernel(jupyter_server: JupyterProcess,
                                                 module_llm: FakeLLM) -> None:
    module_llm.script(call("python", {"code": "doubled = [x * 2 for x in data]\n"
                                                "print('doubled', doubled)"}),
                      text("Doubled."))
    kernel = ServerKernel(jupyter_server.url, jupyter_server.token)
    try:
        out, errors = await kernel.run(CODE)
    finally:
        kernel.shutdown()
    assert not errors, errors
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    status, task_id = lines["STATUS"].split()
    assert status == "completed"
    assert lines["DOUBLED"] == "[10, 6, 16]"  # the agent's variable, in the user's cell
    task = httpx.get(jupyter_server.url + f"api/task/{task_id}",
                     headers=jupyter_server.headers).json()
    assert task["kernel_id"] == kernel.id
    (ran,) = [e for e in task["log"] if e["entry_type"] == "tool_result"]
    assert ran["ok"] and "doubled [10, 6, 16]" in ran["content"]
