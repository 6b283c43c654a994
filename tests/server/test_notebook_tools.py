"""The notebook tools on a real jupyter server: its real kernels and its contents manager."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.asynchronous import AsyncKernelClient

from tests.fakellm import FakeLLM, call, text
from tests.server.conftest import wait_until
from tests.server.test_task_events import ListStream, open_list_stream


class UserKernel:
    """A kernel the 'user' started on the server, driven on its main shell."""

    def __init__(self, serverapp: Any, kernel_id: str) -> None:
        self.manager = serverapp.kernel_manager
        self.id = kernel_id
        kernel = self.manager.get_kernel(kernel_id)
        self.client = AsyncKernelClient()
        self.client.load_connection_info(kernel.get_connection_info())
        self.client.start_channels(hb=False)  # a heartbeat not yet beating looks dead

    async def run(self, code: str) -> dict[str, Any]:
        """Execute on the main shell; the execute_reply (user_expressions: {'out': repr})."""
        reply = await self.client.execute(code, reply=True, timeout=60,
                                          user_expressions={"out": "_oa_out"})
        return reply["content"]

    async def value(self, expression: str) -> str:
        reply = await self.client.execute("", reply=True, timeout=60,
                                          user_expressions={"v": expression})
        return reply["content"]["user_expressions"]["v"]["data"]["text/plain"]

    @property
    def pid(self) -> int:
        return self.manager.get_kernel(self.id).provisioner.pid


@pytest.fixture
async def user_kernel(jp_serverapp: Any) -> AsyncIterator[UserKernel]:
    kernel_id = await jp_serverapp.kernel_manager.start_kernel(kernel_name="python3")
    kernel = UserKernel(jp_serverapp, kernel_id)
    await kernel.client.wait_for_ready(timeout=60)
    yield kernel
    kernel.client.stop_channels()
    if kernel_id in jp_serverapp.kernel_manager:
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)


@pytest.fixture
async def front_end(jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str],
                    extension: Any) -> AsyncIterator[ListStream]:
    """A 'front end' following /api/tasks/stream (subscribed when the test starts)."""
    stream = await open_list_stream(jp_http_port, jp_base_url, jp_auth_header)
    await wait_until(lambda: extension.task_events.subscriber_count == 1)
    yield stream
    await stream.close()


async def run_task(api: Any, extension: Any, body: dict[str, Any]) -> dict[str, Any]:
    status, created = await api("POST", "api/task", body)
    assert status == 201, created
    manager = await extension.ensure_started()
    await asyncio.wait_for(manager.wait(created["id"]), 120)
    status, task = await api("GET", f"api/task/{created['id']}")
    return task


def results(task: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in task["log"] if e["entry_type"] == "tool_result"]


async def test_bad_kernel_or_notebook_is_a_400_naming_the_field(
        api: Any, jp_root_dir: Path, tmp_path: Path) -> None:
    (jp_root_dir / "notes.txt").write_text("x")
    cases = [({"kernel_id": "nope"}, "'kernel_id'"), ({"kernel_id": 3}, "'kernel_id'"),
             ({"notebook": "missing.ipynb"}, "'notebook'"),
             ({"notebook": "notes.txt"}, "'notebook'"),
             ({"notebook": str(tmp_path / "outside.ipynb")}, "'notebook'"),
             ({"notebook": "../x.ipynb"}, "'notebook'"), ({"notebook": ""}, "'notebook'"),
             ({"notebook": "a\x00.ipynb"}, "'notebook'")]
    for extra, field in cases:
        status, body = await api("POST", "api/task", {"task": "t", **extra})
        assert status == 400, (extra, body)
        assert body["error"].startswith(field), body


async def test_attached_task_shares_the_users_variables_both_ways(
        api: Any, extension: Any, fake_llm: FakeLLM, user_kernel: UserKernel) -> None:
    await user_kernel.run("sales = [120, 80, 200]")
    fake_llm.script(
        call("list_variables", {}),
        call("python", {"code": "import sys, time\nbest = max(sales)\nprint('best', best)\n"
                                "sys.stdout.flush()\ntime.sleep(0.3)\nbest / 2"}),
        text("The best sale was 200."))
    task = await run_task(api, extension, {"task": "Find the best sale",
                                           "kernel_id": user_kernel.id})
    assert task["status"] == "completed" and task["kernel_id"] == user_kernel.id
    listed, ran = results(task)
    assert "sales: list (len=3) = [120, 80, 200]" in listed["content"]
    assert ran["ok"] and "stdout:\nbest 200" in ran["content"] and "result:\n100.0" in \
        ran["content"]
    assert await user_kernel.value("best") == "200"
    live = [e for e in task["log"] if e["entry_type"] == "tool_output"]
    assert [(e["stream"], e["content"]) for e in live] == [("stdout", "best 200\n")]
    assert live[0]["seq"] < ran["seq"] and live[0]["call_id"] == ran["call_id"]
    system = fake_llm.chat_requests()[0]["messages"][0]["content"]
    assert "the user's notebook kernel" in system


async def test_python_runs_while_the_main_shell_is_busy(
        api: Any, extension: Any, fake_llm: FakeLLM, user_kernel: UserKernel) -> None:
    fake_llm.script(call("python", {"code": "import time\nfrom_agent = 7\n"
                                              "while not globals().get('cell_started'):\n"
                                              "    time.sleep(0.05)\n'seen'"}),
                    text("done"))
    # The 'waiting cell': it runs on the main shell until the agent's variable exists.
    cell = asyncio.ensure_future(user_kernel.run(
        "import time\ncell_started = True\n"
        "while 'from_agent' not in globals():\n    time.sleep(0.05)\n_oa_out = from_agent"))
    task = await run_task(api, extension, {"task": "t", "kernel_id": user_kernel.id})
    reply = await asyncio.wait_for(cell, 60)
    assert reply["status"] == "ok" and reply["user_expressions"]["out"]["data"][
        "text/plain"] == "7"
    (ran,) = results(task)
    assert ran["ok"] and "'seen'" in ran["content"]


async def test_runaway_code_is_interrupted_and_the_kernel_survives(
        api: Any, extension: Any, fake_llm: FakeLLM, user_kernel: UserKernel) -> None:
    await user_kernel.run("kept = 'yes'")
    pid = user_kernel.pid
    fake_llm.script(call("python", {"code": "while True: pass", "timeout_secs": 1}),
                    call("python", {"code": "kept"}), text("done"))
    task = await run_task(api, extension, {"task": "t", "kernel_id": user_kernel.id})
    runaway, after = results(task)
    assert not runaway["ok"]
    assert "Timed out after 1 s: the code was interrupted" in runaway["content"]
    assert "KeyboardInterrupt" in runaway["content"]
    assert after["ok"] and "'yes'" in after["content"]
    assert user_kernel.pid == pid and await user_kernel.value("kept") == "'yes'"


async def test_stop_interrupts_the_code_not_the_kernel(
        api: Any, extension: Any, fake_llm: FakeLLM, user_kernel: UserKernel) -> None:
    fake_llm.script(call("python", {"code": "started = True\nwhile True: pass"}))
    status, created = await api("POST", "api/task", {"task": "t", "kernel_id": user_kernel.id})
    for _ in range(600):
        if "True" in await user_kernel.value("globals().get('started')"):
            break
        await asyncio.sleep(0.05)
    status, stopped = await api("POST", f"api/task/{created['id']}/stop")
    assert status == 200 and stopped["status"] == "cancelled"
    assert await user_kernel.value("1 + 1") == "2"  # the subshell is free again too
    assert user_kernel.id in extension.serverapp.kernel_manager


async def test_a_kernel_killed_mid_call_is_a_tool_error(
        api: Any, extension: Any, fake_llm: FakeLLM, user_kernel: UserKernel) -> None:
    pid = user_kernel.pid
    fake_llm.script(call("python", {"code": "import time\ntime.sleep(60)"}),
                    text("The kernel died."))
    status, created = await api("POST", "api/task", {"task": "t", "kernel_id": user_kernel.id})
    manager = await extension.ensure_started()
    for _ in range(200):  # the call is running once the tool_call entry is there
        if any(e["entry_type"] == "tool_call" for e in await manager.get_log(created["id"])):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(manager.wait(created["id"]), 60)
    status, task = await api("GET", f"api/task/{created['id']}")
    (died,) = results(task)
    assert task["status"] == "completed"
    assert not died["ok"] and "the kernel died or was restarted" in died["content"]


async def test_a_task_without_kernel_gets_its_own(api: Any, extension: Any, fake_llm: FakeLLM,
                                                  work_dir: Path) -> None:
    manager = extension.serverapp.kernel_manager
    before = set(manager.list_kernel_ids())
    fake_llm.script(call("python", {"code": "import os\nos.getcwd()"}), text("done"))
    task = await run_task(api, extension, {"task": "where am I?"})
    (ran,) = results(task)
    assert ran["ok"] and str(work_dir) in ran["content"]
    system = fake_llm.chat_requests()[0]["messages"][0]["content"]
    assert "a Python kernel of this task's own" in system
    assert set(manager.list_kernel_ids()) == before  # shut down at the task's end


async def test_read_and_edit_through_the_contents_manager(
        api: Any, extension: Any, fake_llm: FakeLLM, jp_root_dir: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", id="first")]
    nbformat.write(nb, jp_root_dir / "a.ipynb")
    broken = '{"nbformat": 4, "cells": [}'
    (jp_root_dir / "broken.ipynb").write_text(broken)
    fake_llm.script(
        call("read_notebook", {}),
        call("edit_notebook", {"action": "insert", "source": "# Notes", "cell_type": "markdown",
                               "index": 0}),
        call("edit_notebook", {"action": "replace", "path": "broken.ipynb", "index": 0,
                               "source": "y"}),
        call("read_notebook", {"path": "broken.ipynb"}),
        text("done"))
    task = await run_task(api, extension, {"task": "t", "notebook": "a.ipynb"})
    assert task["notebook"] == "a.ipynb"
    read, edit, bad_edit, bad_read = results(task)
    assert "a.ipynb: 1 cells" in read["content"] and "x = 1" in read["content"]
    assert edit["ok"] and "written through the server's contents manager" in edit["content"]
    assert "revert" in edit["content"]
    saved = nbformat.read(jp_root_dir / "a.ipynb", as_version=4)
    nbformat.validate(saved)
    assert [(c.cell_type, c.source) for c in saved.cells] == [("markdown", "# Notes"),
                                                             ("code", "x = 1")]
    assert saved.cells[1].id == "first"
    assert not bad_edit["ok"] and "broken.ipynb is not a valid notebook" in bad_edit["content"]
    assert not bad_read["ok"] and "broken.ipynb" in bad_read["content"]
    assert (jp_root_dir / "broken.ipynb").read_text() == broken


async def test_an_open_front_end_applies_the_edit(
        api: Any, extension: Any, fake_llm: FakeLLM, jp_root_dir: Path, front_end: ListStream) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", id="first")]
    nbformat.write(nb, jp_root_dir / "open.ipynb")
    before = (jp_root_dir / "open.ipynb").read_text()
    fake_llm.script(call("edit_notebook", {"action": "replace", "cell_id": "first",
                                           "source": "x = 2"}),
                    call("edit_notebook", {"action": "delete", "index": 0}), text("done"))
    status, created = await api("POST", "api/task", {"task": "t", "notebook": "open.ipynb"})
    answered: list[str] = []
    for _ in range(400):  # the front end answers the first edit only
        edits = front_end.events("notebook_edit")
        if edits and not answered:
            edit = edits[0]
            assert (edit["task_id"], edit["path"], edit["action"], edit["cell_id"],
                    edit["source"], edit["cell_type"]) == (created["id"], "open.ipynb",
                                                           "replace", "first", "x = 2", "code")
            status, body = await api("POST", f"api/notebook_edits/{edit['edit_id']}",
                                     {"applied": True, "saved": False})
            assert status == 200, body
            status, again = await api("POST", f"api/notebook_edits/{edit['edit_id']}",
                                      {"applied": True})
            assert status in (404, 409)
            answered.append(edit["edit_id"])
        if len(edits) >= 2:
            break
        await asyncio.sleep(0.05)
    manager = await extension.ensure_started()
    await asyncio.wait_for(manager.wait(created["id"]), 60)
    status, task = await api("GET", f"api/task/{created['id']}")
    applied, unanswered = results(task)
    assert applied["ok"] and "done in the notebook open in JupyterLab" in applied["content"]
    assert "not saved" in applied["content"]
    assert unanswered["ok"] and "contents manager" in unanswered["content"]
    saved = nbformat.read(jp_root_dir / "open.ipynb", as_version=4)
    assert saved.cells == [] and before != (jp_root_dir / "open.ipynb").read_text()
    status, body = await api("POST", "api/notebook_edits/nope", {"applied": True})
    assert status == 404
    status, body = await api("POST", "api/notebook_edits/nope", {"applied": "yes"})
    assert status == 400


async def test_read_notebook_adds_the_attached_kernels_last_error(
        api: Any, extension: Any, fake_llm: FakeLLM, user_kernel: UserKernel,
        jp_root_dir: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 / 0", id="boom")]
    nbformat.write(nb, jp_root_dir / "k.ipynb")
    reply = await user_kernel.run("1 / 0")
    assert reply["status"] == "error"
    fake_llm.script(call("read_notebook", {}), text("done"))
    task = await run_task(api, extension, {"task": "t", "kernel_id": user_kernel.id,
                                           "notebook": "k.ipynb"})
    (read,) = results(task)
    assert read["content"].endswith(
        "--- the kernel's last error: ZeroDivisionError: division by zero")
