"""Approvals through a real jupyter server: ask, answer, remember, expire, stop, restart."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakellm import FakeLLM, call, calls, text
from tests.process_utils import processes_running
from tests.server.conftest import read_stream, wait_until
from tests.server.liveserver import LiveServer


async def pending(api: Any, task_id: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait until the task has ``count`` approvals pending; return them."""
    found: list[dict[str, Any]] = []

    async def check() -> bool:
        _, task = await api("GET", f"api/task/{task_id}", params={"log": "false"})
        found[:] = [a for a in task["approvals"] if a["status"] == "pending"]
        return len(found) >= count

    await wait_until(check)
    return found


async def submit(api: Any, task: str, **options: Any) -> str:
    status, created = await api("POST", "api/task", {"task": task, **options})
    assert status == 201, created
    return created["id"]


def tool_messages(fake_llm: FakeLLM) -> list[str]:
    """The tool results the model was sent in its last call."""
    last = fake_llm.chat_requests()[-1]["messages"]
    return [m["content"] for m in last if m["role"] == "tool"]


async def test_allow_runs_the_call_and_records_who(api: Any, extension: Any, work_dir: Path,
                                                   fake_llm: FakeLLM) -> None:
    fake_llm.script(call("run_command", {"command": "echo hi > out.txt"}), text("Done."))
    task_id = await submit(api, "write a file", approvals="ask")
    [asked] = await pending(api, task_id)
    assert asked["tool"] == "run_command" and asked["arguments"] == {"command": "echo hi > out.txt"}
    assert asked["reason"] == "preset ask" and asked["expires_at"] > asked["created_at"]
    status, task = await api("GET", f"api/task/{task_id}")
    assert task["status"] == "running" and task["approval_policy"] == "ask"
    assert not (work_dir / "out.txt").exists()
    status, record = await api("POST", f"api/task/{task_id}/approvals/{asked['id']}",
                               {"decision": "allow"})
    assert status == 200 and record["status"] == "allowed" and record["how"] == "person"
    assert record["decided_by"] and record["decided_at"]
    manager = await extension.ensure_started()
    await manager.wait(task_id)
    _, task = await api("GET", f"api/task/{task_id}")
    assert task["status"] == "completed" and (work_dir / "out.txt").read_text() == "hi\n"
    states = [e["approval"]["status"] for e in task["log"] if e["entry_type"] == "approval"]
    assert states == ["pending", "allowed"]
    assert [a["status"] for a in task["approvals"]] == ["allowed"]


async def test_the_stream_sends_approvals_without_id(api: Any, jp_fetch: Any, extension: Any,
                                                     fake_llm: FakeLLM) -> None:
    fake_llm.script(call("write_file", {"path": "a.txt", "content": "x"}), text("Done."))
    task_id = await submit(api, "write a file", approvals="ask")
    [asked] = await pending(api, task_id)
    await api("POST", f"api/task/{task_id}/approvals/{asked['id']}", {"decision": "allow"})
    frames = await read_stream(jp_fetch, task_id)  # replayed once finished
    approvals = [f for f in frames if f.get("event") == "approval"]
    assert [f["data"]["status"] for f in approvals] == ["pending", "allowed"]
    assert all("id" not in f for f in approvals)
    logged = [f for f in frames if f.get("event") == "log"
              and f["data"]["entry_type"] == "approval"]
    assert [f["data"]["approval"] for f in logged] == [f["data"] for f in approvals]
    assert all("id" in f for f in logged)


async def test_deny_with_a_message_is_the_tool_result(api: Any, extension: Any, work_dir: Path,
                                                      fake_llm: FakeLLM) -> None:
    fake_llm.script(call("delete_file", {"path": "keep.txt"}), text("Understood."))
    (work_dir / "keep.txt").write_text("precious")
    task_id = await submit(api, "clean up", approvals="ask")
    [asked] = await pending(api, task_id)
    status, record = await api("POST", f"api/task/{task_id}/approvals/{asked['id']}",
                               {"decision": "deny", "message": "keep that file"})
    assert status == 200 and record["status"] == "denied" and record["message"] == "keep that file"
    manager = await extension.ensure_started()
    await manager.wait(task_id)
    assert (work_dir / "keep.txt").exists()
    [result] = tool_messages(fake_llm)
    assert "keep that file" in result and result.startswith("Error: Denied")
    status, again = await api("POST", f"api/task/{task_id}/approvals/{asked['id']}",
                              {"decision": "allow"})
    assert status == 409 and "already decided" in again["error"]


async def test_remember_allows_the_same_call_for_the_rest_of_the_task(
        api: Any, extension: Any, fake_llm: FakeLLM) -> None:
    command = {"command": "echo again"}
    fake_llm.script(call("run_command", command), call("run_command", command),
                    call("run_command", {"command": "echo other"}), text("Done."))
    task_id = await submit(api, "repeat", approvals="ask")
    [asked] = await pending(api, task_id)
    await api("POST", f"api/task/{task_id}/approvals/{asked['id']}",
              {"decision": "allow", "remember": True})
    [other] = await pending(api, task_id)  # the second echo again ran without asking
    assert other["arguments"] == {"command": "echo other"}
    await api("POST", f"api/task/{task_id}/approvals/{other['id']}", {"decision": "allow"})
    manager = await extension.ensure_started()
    task = await manager.wait(task_id)
    assert task.status.value == "completed"
    assert len(await manager.get_approvals(task_id)) == 2


async def test_timeout_expires_as_a_denial_and_zero_denies_at_once(
        api: Any, extension: Any, fake_llm: FakeLLM) -> None:
    manager = await extension.ensure_started()
    fake_llm.script(call("run_command", {"command": "echo 1"}), text("ok"))
    task_id = await submit(api, "quick", approvals="ask", approval_timeout=0)
    await manager.wait(task_id)
    [record] = await manager.get_approvals(task_id)
    assert (record["status"], record["how"], record["decided_by"]) == ("expired", "timeout",
                                                                       "policy")
    assert "Not approved in time" in tool_messages(fake_llm)[0]
    fake_llm.script(call("run_command", {"command": "echo 2"}), text("ok"))
    task_id = await submit(api, "slow", approvals="ask", approval_timeout=0.3)
    await pending(api, task_id)
    task = await manager.wait(task_id)  # nobody answers: it never hangs
    assert task.status.value == "completed"
    [record] = await manager.get_approvals(task_id)
    assert record["status"] == "expired"


async def test_stop_while_waiting_cancels_at_once(api: Any, extension: Any,
                                                  fake_llm: FakeLLM) -> None:
    fake_llm.script(call("run_command", {"command": "echo 1"}), text("unreachable"))
    task_id = await submit(api, "stop me", approvals="ask")
    [asked] = await pending(api, task_id)
    status, task = await api("POST", f"api/task/{task_id}/stop")
    assert status == 200 and task["status"] == "cancelled"
    [record] = task["approvals"]
    assert (record["status"], record["how"]) == ("cancelled", "stop")
    assert task["log"][-1]["entry_type"] == "approval"
    status, _ = await api("POST", f"api/task/{task_id}/approvals/{asked['id']}",
                          {"decision": "allow"})
    assert status == 409


async def test_two_approvals_in_one_turn(api: Any, extension: Any, work_dir: Path,
                                         fake_llm: FakeLLM) -> None:
    fake_llm.script(calls([("write_file", {"path": "a.txt", "content": "a"}),
                           ("read_file", {"path": "missing.txt"}),
                           ("write_file", {"path": "b.txt", "content": "b"})]), text("Done."))
    task_id = await submit(api, "two files", approvals="ask")
    [first] = await pending(api, task_id)
    assert first["arguments"]["path"] == "a.txt"
    await api("POST", f"api/task/{task_id}/approvals/{first['id']}", {"decision": "allow"})
    [second] = await pending(api, task_id)
    assert second["arguments"]["path"] == "b.txt"
    assert not (work_dir / "a.txt").exists()  # the turn waits until every call is reviewed
    await api("POST", f"api/task/{task_id}/approvals/{second['id']}", {"decision": "deny"})
    manager = await extension.ensure_started()
    await manager.wait(task_id)
    assert (work_dir / "a.txt").exists() and not (work_dir / "b.txt").exists()
    results = tool_messages(fake_llm)
    assert results[0].startswith("Wrote") or "a.txt" in results[0]
    assert results[2].startswith("Error: Denied") and "no reason given" in results[2]


async def test_unknown_ids_bad_bodies_and_no_token(api: Any, extension: Any,
                                                   fake_llm: FakeLLM) -> None:
    fake_llm.script(call("run_command", {"command": "echo 1"}), text("done"))
    task_id = await submit(api, "x", approvals="ask")
    [asked] = await pending(api, task_id)
    path = f"api/task/{task_id}/approvals/{asked['id']}"
    status, body = await api("POST", f"api/task/{task_id}/approvals/nope", {"decision": "allow"})
    assert status == 404 and "no approval" in body["error"]
    status, _ = await api("POST", f"api/task/00000000-0000-4000-8000-000000000000/approvals/"
                                  f"{asked['id']}", {"decision": "allow"})
    assert status == 404
    for bad in ({"decision": "maybe"}, {"decision": "allow", "remember": "yes"},
                {"decision": "allow", "colour": "red"}, {"decision": "deny", "message": 3}):
        status, body = await api("POST", path, bad)
        assert status == 400, bad
    status, body = await api("POST", path, {"decision": "allow"},
                             headers={"Authorization": ""}, validate=False)
    assert status == 403
    status, _ = await api("POST", path, {"decision": "allow"})
    assert status == 200
    manager = await extension.ensure_started()
    await manager.wait(task_id)


async def test_task_options_are_checked(api: Any) -> None:
    status, body = await api("POST", "api/task", {"task": "x", "approvals": "yolo"})
    assert status == 400 and "'approvals'" in body["error"]
    status, body = await api("POST", "api/task", {"task": "x", "approval_timeout": -1})
    assert status == 400 and "'approval_timeout'" in body["error"]


@pytest.fixture
def agent_config(agent_config: dict[str, Any], request: Any) -> dict[str, Any]:
    """The default config, plus what a test's ``indirect`` parameter adds."""
    return {**agent_config, **getattr(request, "param", {})}


@pytest.mark.parametrize("agent_config", [{
    "approvals_max": "ask", "allowed_models": "fake/*, other/model",
    "approval_rules": [{"tool": "run_command", "pattern": "*git push*", "action": "deny"}]}],
    indirect=True)
async def test_server_limits_models_and_looser_presets(api: Any, extension: Any,
                                                       fake_llm: FakeLLM) -> None:
    status, body = await api("POST", "api/task", {"task": "x", "approvals": "auto"})
    assert status == 400 and body["error"].startswith("approvals 'auto' is looser")
    status, body = await api("POST", "api/task", {"task": "x", "model": "big/model"})
    assert status == 400 and body["error"].startswith("'model' 'big/model' is not allowed")
    fake_llm.script(call("run_command", {"command": "git push origin main"}), text("ok"))
    task_id = await submit(api, "push", model="other/model")
    manager = await extension.ensure_started()
    task = await manager.wait(task_id)
    assert task.approval_policy == "ask"  # the server's auto preset tightened to the max
    [record] = await manager.get_approvals(task_id)
    assert (record["status"], record["how"]) == ("denied", "rule")
    assert "*git push*" in record["reason"]


@pytest.mark.parametrize("agent_config", [{"daily_budget_cents": 10}], indirect=True)
async def test_daily_cap_stops_a_running_task_then_refuses_new_ones(
        api: Any, extension: Any, fake_llm: FakeLLM) -> None:
    # 100,000 prompt tokens at $3 per million: 30 cents in the first call
    fake_llm.script(call("run_command", {"command": "echo 1"}, prompt_tokens=100_000),
                    text("unreachable"))
    task_id = await submit(api, "expensive")
    manager = await extension.ensure_started()
    task = await manager.wait(task_id)
    assert task.status.value == "failed" and task.error.startswith("daily budget reached")
    status, body = await api("POST", "api/task", {"task": "one more"})
    assert status == 429 and body["status"] == 429 and "daily_budget_cents" in body["error"]
    status, stats = await api("GET", "api/stats")
    assert stats["today"]["cap_usd"] == 0.1 and stats["today"]["cost_usd"] >= 0.1


def test_restart_while_waiting_fails_the_task(live_server: LiveServer,
                                              fake_llm: FakeLLM) -> None:
    live_server.start()
    fake_llm.script(call("run_command", {"command": "echo never"}), text("unreachable"))
    task_id = live_server.submit("wait for me", approvals="ask")
    deadline = time.monotonic() + 30
    while not live_server.http.get(f"api/task/{task_id}").json()["approvals"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    live_server.kill()
    for pid in processes_running("echo never"):
        os.kill(pid, signal.SIGKILL)
    live_server.start()
    task = live_server.http.get(f"api/task/{task_id}").json()
    assert task["status"] == "failed" and task["error"] == "interrupted: its server stopped"
    [record] = task["approvals"]
    assert (record["status"], record["how"]) == ("cancelled", "stop")
    assert record["message"] == "interrupted: its server stopped"
    assert [e["entry_type"] for e in task["log"]][-2:] == ["approval", "error"]
    answer = live_server.http.post(f"api/task/{task_id}/approvals/{record['id']}",
                                   json={"decision": "allow"})
    assert answer.status_code == 409
