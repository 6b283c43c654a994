"""No secret (LLM key, Jupyter token) reaches a task, its log, its events or a response."""

from __future__ import annotations

import base64
import ctypes
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fakellm import FakeLLM, call, text
from tests.server.conftest import read_stream
from tests.server.liveserver import TOKEN, LiveServer


async def test_env_of_a_command_does_not_show_the_token(
        api: Any, jp_fetch: Any, jp_serverapp: Any, extension: Any, fake_llm: FakeLLM) -> None:
    fake_llm.script(call("run_command", {"command": "env"}), text("done"))
    _, created = await api("POST", "api/task", {"task": "show the environment"})
    frames = await read_stream(jp_fetch, created["id"])
    _, task = await api("GET", f"api/task/{created['id']}")
    shown = json.dumps(frames) + json.dumps(task)
    assert "PATH=" in shown  # the command did run and print its environment
    assert jp_serverapp.identity_provider.token not in shown
    assert "test-key" not in shown


async def test_responses_carry_no_secret(api: Any, jp_serverapp: Any, extension: Any) -> None:
    _, created = await api("POST", "api/task", {"task": "hello"})
    await (await extension.ensure_started()).wait(created["id"])
    bodies = [await api("GET", path) for path in
              (f"api/task/{created['id']}", "api/tasks", "api/stats", "api/health")]
    shown = json.dumps(bodies)
    assert jp_serverapp.identity_provider.token not in shown and "test-key" not in shown


async def test_secrets_a_tool_meets_are_masked(api: Any, jp_fetch: Any, jp_serverapp: Any,
                                               extension: Any, fake_llm: FakeLLM,
                                               tmp_path: Any) -> None:
    token = jp_serverapp.identity_provider.token
    leaky = tmp_path / "leaky.env"
    leaky.write_text(f"JUPYTER_TOKEN={token}\nOPENROUTER_API_KEY=test-key\n")
    fake_llm.script(call("run_command", {"command": f"cat {leaky}; echo {token}"}),
                    text(f"The token is {token}."))
    _, created = await api("POST", "api/task", {"task": "show the secrets"})
    frames = await read_stream(jp_fetch, created["id"])
    _, task = await api("GET", f"api/task/{created['id']}")
    shown = json.dumps(frames) + json.dumps(task)
    assert "JUPYTER_TOKEN=[redacted]" in shown and "OPENROUTER_API_KEY=[redacted]" in shown
    assert token not in shown and "test-key" not in shown
    assert task["result"] == "The token is [redacted]."


async def test_tool_results_reach_the_model_redacted(api: Any, jp_serverapp: Any, extension: Any,
                                                     fake_llm: FakeLLM, work_dir: Any) -> None:
    token = jp_serverapp.identity_provider.token
    (work_dir / "key.txt").write_text("test-key")
    (work_dir / "token.txt").write_text(token)
    command = ("cat key.txt token.txt; base64 key.txt; base64 token.txt; base64 -w0 token.txt; "
               "echo; xxd -p key.txt; xxd -p token.txt; (printf x; cat token.txt) | base64")
    fake_llm.script(call("run_command", {"command": command}), text("done"))
    _, created = await api("POST", "api/task", {"task": "show the secrets"})
    task = await (await extension.ensure_started()).wait(created["id"])
    assert task.status.value == "completed"
    sent = json.dumps(fake_llm.chat_requests()[-1])
    assert "[redacted]" in sent
    for secret in ("test-key", token):
        for form in (secret, base64.b64encode(secret.encode()).decode().rstrip("="),
                     secret.encode().hex()):
            assert form not in sent, form


async def test_the_task_token_opens_the_task_api_only(jp_fetch: Any, jp_serverapp: Any,
                                                      extension: Any) -> None:
    headers = {"Authorization": f"token {extension.task_token}"}

    async def fetch(method: str, path: str, body: Any = None) -> int:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        response = await jp_fetch(*path.split("/"), method=method, body=data, headers=headers,
                                  raise_error=False)
        return response.code

    assert await fetch("POST", "api/task", {"task": "hello"}) == 201
    _, listed = await _list(jp_fetch, headers)
    task_id = listed["tasks"][0]["id"]
    await (await extension.ensure_started()).wait(task_id)
    assert await fetch("GET", f"api/task/{task_id}") == 200
    assert await fetch("GET", f"api/task/{task_id}/stream") == 200
    assert await fetch("POST", f"api/task/{task_id}/stop") == 200
    for path in ("api/kernels", "api/contents", "api/sessions", "api/stats", "api/me",
                 "api/open_agent/openapi.yaml"):
        assert await fetch("GET", path) == 403, path
    assert await fetch("POST", "api/kernels", {}) == 403
    headers["Authorization"] = "token " + extension.task_token[:-1] + "x"  # near miss
    assert await fetch("GET", "api/tasks") == 403


async def _list(jp_fetch: Any, headers: dict[str, str]) -> tuple[int, Any]:
    response = await jp_fetch("api", "tasks", headers=headers)
    return response.code, json.loads(response.body)


async def test_the_server_process_is_not_dumpable_while_it_runs(jp_serverapp: Any,
                                                                extension: Any) -> None:
    libc = ctypes.CDLL(None)
    assert libc.prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE
    await extension.stop_extension()  # stopping the extension gives the test process back
    assert libc.prctl(3, 0, 0, 0, 0) == 1


def test_neither_server_nor_kernels_keep_the_key_or_the_jupyter_token(
        live_server: LiveServer, fake_llm: FakeLLM) -> None:
    live_server.env.update({"OPENROUTER_API_KEY": "sk-live-secret-key", "JUPYTER_TOKEN": TOKEN})
    live_server.start()
    fake_llm.script(call("run_command", {"command": "tr '\\0' '\\n' </proc/$PPID/environ"}),
                    text("done"))
    task = live_server.wait_status(live_server.submit("read the server's environment"),
                                   {"completed", "failed"})
    shown = json.dumps(task)
    if os.geteuid() == 0:  # root reads it despite PR_SET_DUMPABLE: it holds no secret now
        assert "JUPYTER_CONFIG_DIR=" in shown
    else:  # the same user cannot read a process that is not dumpable
        assert "Permission denied" in shown
    assert "OPENROUTER_API_KEY" not in shown and "JUPYTER_TOKEN" not in shown
    kernel = live_server.http.post("api/kernels", json={}).json()
    try:
        environ = _kernel_environ(live_server.proc.pid)
        token = environ["OPEN_AGENT_TOKEN"]
        assert token != TOKEN and "OPENROUTER_API_KEY" not in environ
        assert "JUPYTER_TOKEN" not in environ
        # A client of its own: the shared one holds Jupyter's login cookie.
        with httpx.Client(base_url=str(live_server.http.base_url), timeout=30,
                          headers={"Authorization": f"token {token}"}) as as_kernel:
            assert as_kernel.get("api/tasks").status_code == 200
            assert as_kernel.get("api/kernels").status_code == 403
            assert as_kernel.get("api/contents").status_code == 403
    finally:
        live_server.http.delete(f"api/kernels/{kernel['id']}")


def _kernel_environ(server_pid: int, timeout: float = 30.0) -> dict[str, str]:
    """The environment of the kernel the server started (its child running ipykernel)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            try:
                status = (proc / "status").read_text()
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if f"\nPPid:\t{server_pid}\n" in status and b"ipykernel" in cmdline:
                raw = (proc / "environ").read_bytes().split(b"\0")
                return dict(e.decode().split("=", 1) for e in raw if b"=" in e)
        time.sleep(0.1)
    raise AssertionError("the kernel did not start")
