"""Approvals from the notebook: the widget's Allow / Deny in a real kernel, the clients and
``AgentResult.approve()`` / ``.deny()`` against a real jupyter server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from open_agent_jupyter.exceptions import ApprovalAnsweredError, ApprovalNotFoundError
from open_agent_jupyter.notebook.client import AgentClient, AsyncAgentClient
from open_agent_jupyter.notebook.result import AgentResult
from tests.fakellm import FakeLLM
from tests.notebook.conftest import ANSWER, JupyterProcess, hello_world
from tests.notebook.kernelws import ServerKernel, click_message


def button_id(msg: dict[str, Any], label: str) -> str | None:
    """The comm id when ``msg`` opens a widget Button labelled ``label``."""
    if msg.get("msg_type") != "comm_open":
        return None
    state = msg["content"].get("data", {}).get("state", {})
    if state.get("_model_name") == "ButtonModel" and state.get("description") == label:
        return msg["content"]["comm_id"]
    return None


def lines_of(out: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


@pytest.mark.parametrize("where", ["", "--local "], ids=["server", "in-kernel"])
async def test_allow_and_deny_buttons_in_a_real_kernel(jupyter_server: JupyterProcess,
                                                       module_llm: FakeLLM, where: str) -> None:
    module_llm.reset()
    module_llm.default = hello_world  # write hello.py, run it, answer
    kernel = ServerKernel(jupyter_server.url, jupyter_server.token)
    allows: list[str] = []
    denies: list[str] = []

    def on_message(msg: dict[str, Any], conn: Any) -> None:
        for label, seen in (("Allow", allows), ("Deny", denies)):
            comm_id = button_id(msg, label)
            if comm_id:
                seen.append(comm_id)
        # first approval (write_file): Deny; second (run_command): Allow
        if len(denies) == 1 and len(allows) == 1:
            conn.write_message(json.dumps(click_message(denies[0], kernel.session)))
            denies.append("clicked")
        if len(allows) == 2 and len(denies) == 2:
            conn.write_message(json.dumps(click_message(allows[1], kernel.session)))
            allows.append("clicked")

    try:
        await kernel.run("%load_ext open_agent_jupyter")
        out, errors = await kernel.run(
            f"r = %agent {where}--approvals ask Create hello.py that prints Hello World, "
            "then run it.\n"
            "print('STATUS', r.status)\n"
            "print('APPROVALS', ','.join(a['status'] + ':' + a['tool'] for a in r.approvals))\n"
            "print('HOW', ','.join(a['how'] for a in r.approvals))\n"
            "print('RESULT', r.result)", timeout=90, on_message=on_message)
    finally:
        kernel.shutdown()
    assert not errors, errors
    lines = lines_of(out)
    assert lines["STATUS"] == "completed" and lines["RESULT"] == ANSWER
    assert lines["APPROVALS"] == "denied:write_file,allowed:run_command"
    assert lines["HOW"] == "person,person"


def wait_pending(result: AgentResult, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result._take_figures()
        if result.pending_approvals:
            return result.pending_approvals[0]
        time.sleep(0.05)
    raise AssertionError("no approval became pending")


def test_agent_result_and_clients_answer(jupyter_server: JupyterProcess,
                                         module_llm: FakeLLM) -> None:
    module_llm.reset()
    module_llm.default = hello_world
    with AgentClient(jupyter_server.url, jupyter_server.token) as client:
        created = client.submit("Create hello.py that prints Hello World, then run it.",
                                approvals="ask")
        result = AgentResult(client, created["id"], created)
        first = wait_pending(result)
        assert first["tool"] == "write_file"
        record = result.deny(message="not that file")
        assert (record["status"], record["message"]) == ("denied", "not that file")
        with pytest.raises(ApprovalAnsweredError):
            client.approve(result.id, first["id"])
        with pytest.raises(ApprovalNotFoundError):
            client.deny(result.id, "no-such-approval")
        second = wait_pending(result)
        assert second["tool"] == "run_command"

        async def allow() -> dict[str, Any]:
            async with AsyncAgentClient(jupyter_server.url, jupyter_server.token) as aclient:
                return await aclient.approve(result.id, second["id"], remember=True)

        assert asyncio.run(allow())["status"] == "allowed"
        result.wait(timeout=60)
        assert result.status == "completed"
        with pytest.raises(ValueError, match="no approval waiting"):
            result.approve()  # nothing is pending any more
    assert [a["status"] for a in result.approvals] == ["denied", "allowed"]
