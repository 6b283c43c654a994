"""Stop while a ``%agent`` cell waits, in a kernel that a real jupyter server started.

The test plays the front end over the kernel's websocket: it runs a cell whose task
runs a long ``sleep``, clicks the widget's Stop button (the ``comm_msg`` JupyterLab
sends) while the cell still runs, or interrupts the kernel, and checks that the task
is cancelled, the cell ends and the ``sleep`` process is gone.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from open_agent_jupyter.notebook.awaiting import HOOK, await_agent_statements
from tests.fakellm import FakeLLM, call, text
from tests.notebook.conftest import JupyterProcess
from tests.notebook.kernelws import ServerKernel, click_message
from tests.process_utils import processes_running


def long_sleep(llm: FakeLLM) -> str:
    """Script the LLM to run a uniquely marked 30 s sleep; returns the marker."""
    marker = f"sleep 30.{random.randrange(10**6)}"  # unique even when suites run side by side
    llm.reset()
    llm.script(call("run_command", {"command": marker}), text("never reached"))
    return marker


async def wait_for_process(marker: str) -> None:
    while not processes_running(marker):
        await asyncio.sleep(0.05)


def stop_button_id(msg: dict[str, Any]) -> str | None:
    """The comm id when ``msg`` opens the widget's Stop button."""
    if msg.get("msg_type") != "comm_open":
        return None
    state = msg["content"].get("data", {}).get("state", {})
    if state.get("_model_name") == "ButtonModel" and state.get("description") == "Stop":
        return msg["content"]["comm_id"]
    return None


def result_lines(out: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


@pytest.mark.parametrize("where", ["", "--local "], ids=["server", "in-kernel"])
async def test_stop_button_stops_a_waiting_cell(jupyter_server: JupyterProcess,
                                                module_llm: FakeLLM, where: str) -> None:
    marker = long_sleep(module_llm)
    kernel = ServerKernel(jupyter_server.url, jupyter_server.token)
    clicks: list[asyncio.Task[None]] = []

    async def click_when_running(comm_id: str, conn: Any) -> None:
        await wait_for_process(marker)
        conn.write_message(json.dumps(click_message(comm_id, kernel.session)))

    def on_message(msg: dict[str, Any], conn: Any) -> None:
        comm_id = stop_button_id(msg)
        if comm_id and not clicks:
            clicks.append(asyncio.get_running_loop().create_task(
                click_when_running(comm_id, conn)))

    try:
        await kernel.run("%load_ext open_agent_jupyter")  # the cells after it are rewritten
        out, errors = await kernel.run(
            f"r = %agent {where}Run the long command.\n"
            "print('STATUS', r.status)\nprint('CLIENT', type(r.client).__name__)",
            timeout=60, on_message=on_message)
        after, _ = await kernel.run("print('NEXT', r.status)", timeout=30)
    finally:
        kernel.shutdown()
    assert not errors, errors
    assert clicks and clicks[0].done() and clicks[0].exception() is None
    lines = result_lines(out)
    assert lines["STATUS"] == "cancelled"
    assert lines["CLIENT"] == ("LocalRunner" if where else "AgentClient")
    assert result_lines(after)["NEXT"] == "cancelled"
    assert processes_running(marker) == []


async def test_interrupt_stops_a_waiting_cell(jupyter_server: JupyterProcess,
                                              module_llm: FakeLLM) -> None:
    marker = long_sleep(module_llm)
    kernel = ServerKernel(jupyter_server.url, jupyter_server.token)

    async def interrupt_when_running() -> None:
        await wait_for_process(marker)
        async with httpx.AsyncClient() as http:
            await http.post(jupyter_server.url + f"api/kernels/{kernel.id}/interrupt",
                            headers=jupyter_server.headers)

    interrupter = asyncio.create_task(interrupt_when_running())
    try:
        await kernel.run("%load_ext open_agent_jupyter")
        out, errors = await kernel.run(
            "r = %agent Run the long command.\nprint('NOT REACHED')", timeout=60)
        after, _ = await kernel.run("print('STATUS', _agent.status)", timeout=30)
    finally:
        kernel.shutdown()
    await interrupter
    # the interrupt goes on after the stop, as one short line without internal frames
    [error] = errors
    assert error["ename"] == "TaskInterrupted"
    [line] = error["traceback"]
    assert line.startswith("interrupted: task ") and " stopped (cancelled)" in line
    assert "NOT REACHED" not in out
    assert result_lines(after)["STATUS"] == "cancelled"
    assert processes_running(marker) == []


async def test_cells_run_from_a_cell_are_not_rewritten(jupyter_server: JupyterProcess,
                                                       module_llm: FakeLLM, tmp_path: Any) -> None:
    # a running cell cannot await a nested one: these would fail with "loop already running"
    module_llm.reset()
    script = tmp_path / "task.ipy"
    script.write_text("ran = %agent --local Say done\nprint('IPY', ran.status)\n")
    kernel = ServerKernel(jupyter_server.url, jupyter_server.token)
    try:
        await kernel.run("%load_ext open_agent_jupyter")
        out, errors = await kernel.run(
            "inner = get_ipython().run_cell('r = %agent --local Say done')\n"
            "print('NESTED', inner.error_in_exec, r.status)\n"
            f"%run {script}\n", timeout=60)
    finally:
        kernel.shutdown()
    assert not errors, errors
    lines = result_lines(out)
    assert lines["NESTED"] == "None completed"
    assert lines["IPY"] == "completed"


def transformed(cell: str) -> str:
    """The cell as a kernel would run it: IPython's translation, then the hook."""
    lines = TransformerManager().transform_cell(cell).splitlines(keepends=True)
    return "".join(await_agent_statements(lines))


@pytest.mark.filterwarnings("ignore:`make_tokens_by_line`:UserWarning")  # IPython, on \\f
def test_top_level_agent_statements_await(monkeypatch: pytest.MonkeyPatch) -> None:
    from open_agent_jupyter.notebook import awaiting

    monkeypatch.setattr(awaiting, "awaits_on_asyncio", lambda shell=None: True)
    code = transformed("x = 1  # ä\nr = %agent --model m Fix {x}\n%agent Another task\nprint(r)\n")
    assert code.splitlines() == [
        "x = 1  # ä",
        f"r = await {HOOK}('agent', '--model m Fix {{x}}')",
        f"await {HOOK}('agent', 'Another task')",
        "print(r)"]
    odd = transformed("s = 'a\u2028b'  # \f\nr = %agent Task\n")  # not line ends for Python
    assert odd.splitlines()[-1] == f"r = await {HOOK}('agent', 'Task')"
    cell = transformed("%%agent --background\nWrite the tests.\n")
    assert cell.startswith(f"await {HOOK}('agent', '--background', ")
    nested = "def f():\n    return %agent Task in a function\n"
    assert transformed(nested) == TransformerManager().transform_cell(nested)
    other = "%time 1 + 1\n"
    assert transformed(other) == TransformerManager().transform_cell(other)
    monkeypatch.setattr(awaiting, "awaits_on_asyncio", lambda shell=None: False)
    plain = "r = %agent Fix it\n"
    assert transformed(plain) == TransformerManager().transform_cell(plain)


def test_plain_ipython_gets_no_transformer(shell: Any) -> None:
    from open_agent_jupyter.notebook.awaiting import awaits_on_asyncio

    assert await_agent_statements not in shell.input_transformers_post
    assert not awaits_on_asyncio(shell)
