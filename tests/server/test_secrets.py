"""No secret (LLM key, Jupyter token) reaches a task, its log, its events or a response."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.fakellm import FakeLLM, call, text
from tests.server.conftest import read_stream


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
