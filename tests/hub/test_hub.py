"""Open Agent on a real JupyterHub: each person's server, the hub's tokens, scopes and cookies."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hub.conftest import needs_hub
from tests.hub.hubserver import Hub

pytestmark = [needs_hub, pytest.mark.timeout(600)]


def client(hub: Hub, user: str, token: str) -> httpx.Client:
    """A client of ``user``'s server through the hub's proxy, with a hub-issued token."""
    return httpx.Client(base_url=f"{hub.url}/user/{user}/api", timeout=60,
                        headers={"Authorization": f"token {token}"})


def events(api: httpx.Client, task_id: str, last_event_id: int | None = None) -> Iterator[
        tuple[str, str | None, dict[str, Any]]]:
    """(event, id, data) of a task's stream until ``done``."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    with api.stream("GET", f"/task/{task_id}/stream", headers=headers) as answer:
        assert answer.status_code == 200, answer.read()
        name, event_id, data = "message", None, ""
        for line in answer.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                yield name, event_id, json.loads(data)
                if name == "done":
                    return
                name, event_id, data = "message", None, ""


def wait_for(api: httpx.Client, task_id: str, predicate: Any, timeout: float = 60) -> dict:
    """Poll the task until ``predicate(task)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = api.get(f"/task/{task_id}").json()
        if predicate(task):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} never got there: {task}")


@pytest.fixture(scope="module")
def tokens(hub: Hub) -> dict[str, str]:
    """A full token of each user (the user's own rights)."""
    return {user: hub.token(user)[1] for user in ("alice", "bob")}


@pytest.fixture(scope="module")
def bobs_task(hub: Hub, tokens: dict[str, str]) -> str:
    """A finished task on bob's server."""
    with client(hub, "bob", tokens["bob"]) as api:
        task_id = api.post("/task", json={"task": "list the files"}).json()["id"]
        wait_for(api, task_id, lambda t: t["status"] == "completed")
    return task_id


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_each_user_submits_follows_resumes_and_stops_on_their_own_server(
        hub: Hub, tokens: dict[str, str], user: str) -> None:
    with client(hub, user, tokens[user]) as api:
        answer = api.post("/task", json={"task": "list the files"})
        assert answer.status_code == 201, answer.text
        task_id = answer.json()["id"]
        seen = list(events(api, task_id))
        logs = [(eid, data) for name, eid, data in seen if name == "log"]
        assert seen[-1][0] == "done" and seen[-1][2]["status"] == "completed"
        assert [d["entry_type"] for _, d in logs][:2] == ["thinking", "tool_call"]
        # Resumed through the proxy: only what came after the given id, nothing twice.
        first = int(logs[0][0])
        resumed = [int(eid) for name, eid, _ in events(api, task_id, first) if name == "log"]
        assert resumed == [int(eid) for eid, _ in logs[1:]]
        task = api.get(f"/task/{task_id}").json()
        assert task["submitted_by"] == user

        waiting = api.post("/task", json={"task": "wait a while"}).json()["id"]
        # The admin's APPROVALS=ask holds the command for a person; Stop ends it at once.
        wait_for(api, waiting, lambda t: any(a["status"] == "pending" for a in t["approvals"]))
        stopped = api.post(f"/task/{waiting}/stop")
        assert stopped.status_code == 200 and stopped.json()["status"] == "cancelled"
        assert any(t["id"] == task_id for t in api.get("/tasks").json()["tasks"])


def test_the_admins_caps_bind_what_a_user_asks_for(hub: Hub, tokens: dict[str, str]) -> None:
    with client(hub, "alice", tokens["alice"]) as api:
        for body, field in [({"max_iterations": 10}, "max_iterations"),
                            ({"budget_cents": 0}, "budget_cents"),
                            ({"approvals": "auto"}, "approvals"),
                            ({"model": "some/other-model"}, "model")]:
            answer = api.post("/task", json={"task": "list the files", **body})
            assert answer.status_code == 400, (body, answer.text)
            assert field in answer.json()["error"]
        assert api.get("/tasks", params={"limit": 1}).status_code == 200


def _bob_paths(task_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [("GET", "/tasks", None), ("GET", f"/task/{task_id}", None),
            ("GET", f"/task/{task_id}/stream", None), ("GET", "/tasks/stream", None),
            ("POST", "/task", {"task": "list the files"}),
            ("POST", f"/task/{task_id}/stop", None),
            ("POST", f"/task/{task_id}/approvals/nope", {"decision": "allow"})]


def test_one_users_token_gets_nothing_from_another_users_server(
        hub: Hub, tokens: dict[str, str], bobs_task: str) -> None:
    with client(hub, "bob", tokens["alice"]) as api:
        for method, path, body in _bob_paths(bobs_task):
            answer = api.request(method, path, json=body, follow_redirects=False)
            assert answer.status_code in (302, 403), (method, path, answer.status_code)
            assert bobs_task not in answer.text and "list the files" not in answer.text


def test_a_read_only_token_follows_another_users_tasks_but_changes_nothing(
        hub: Hub, bobs_task: str) -> None:
    _, token = hub.token("carol", ["access:servers!user=bob",
                                   "custom:jupyter_server:read:*!user=bob"])
    with client(hub, "bob", token) as api:
        listed = api.get("/tasks")
        assert listed.status_code == 200
        assert bobs_task in [t["id"] for t in listed.json()["tasks"]]
        assert api.get(f"/task/{bobs_task}").json()["submitted_by"] == "bob"
        assert [name for name, _, _ in events(api, bobs_task)][-1] == "done"
        for method, path, body in _bob_paths(bobs_task)[4:]:
            answer = api.request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
        after = api.get("/tasks").json()["total"]
        assert after == listed.json()["total"]


@pytest.mark.parametrize("case", ["revoked", "expired", "no access:servers"])
def test_a_bad_token_is_a_clean_refusal(hub: Hub, case: str) -> None:
    if case == "revoked":
        token_id, token = hub.token("alice")
        hub.revoke("alice", token_id)
    elif case == "expired":
        token_id, token = hub.token("alice", expires_in=1)
        time.sleep(2.5)
    else:
        token_id, token = hub.token("alice", ["read:users:name!user=alice"])
    with client(hub, "alice", token) as api:
        for method, path in [("GET", "/tasks"), ("POST", "/task")]:
            answer = api.request(method, path, json={"task": "list the files"},
                                 follow_redirects=False)
            assert answer.status_code in (302, 401, 403), (case, path, answer.status_code)


def _login(hub: Hub, user: str) -> httpx.Client:
    """A browser-like client logged in to the hub and to ``user``'s server (OAuth cookie)."""
    browser = httpx.Client(base_url=hub.url, timeout=60, follow_redirects=True)
    page = browser.get("/hub/login")
    xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
    form = {"username": user, "password": "any"} | ({"_xsrf": xsrf.group(1)} if xsrf else {})
    browser.post("/hub/login", data=form).raise_for_status()
    browser.get(f"/user/{user}/api/status")  # not logged in there yet: 403, no redirect
    browser.get(f"/user/{user}/lab").raise_for_status()  # the OAuth dance sets the cookie
    return browser


def test_the_browsers_oauth_cookie_opens_its_own_server_only(
        hub: Hub, bobs_task: str) -> None:
    browser = _login(hub, "alice")
    try:
        own = browser.get("/user/alice/api/tasks")
        assert own.status_code == 200, own.text
        xsrf = browser.cookies.get("_xsrf", path="/user/alice/")
        submitted = browser.post("/user/alice/api/task", json={"task": "list the files"},
                                 headers={"X-XSRFToken": xsrf or ""})
        assert submitted.status_code == 201, submitted.text
        other = browser.get("/user/bob/api/tasks", follow_redirects=False)
        assert other.status_code in (302, 403)
        assert bobs_task not in other.text
    finally:
        browser.close()


def test_the_magic_in_a_hub_kernel_reaches_its_server_with_no_setting(
        hub: Hub, tokens: dict[str, str]) -> None:
    from jupyter_client import BlockingKernelClient

    with client(hub, "alice", tokens["alice"]) as api:
        kernel = api.post("/kernels", json={"name": "python3"}).json()["id"]
        try:
            found = list(Path(hub.home, "users", "alice").rglob(f"kernel-{kernel}.json"))
            assert found, "no connection file for the kernel"
            kc = BlockingKernelClient(connection_file=str(found[0]))
            kc.load_connection_file()
            kc.start_channels(hb=False)  # the heartbeat needs no checking for one cell
            kc.kernel_info()
            kc.get_shell_msg(timeout=60)
            code = ("%load_ext open_agent_jupyter\n"
                    "r = %agent list the files\n"
                    "print('RESULT', r.id, r.status)")
            lines: list[str] = []
            kc.execute_interactive(code, timeout=120,
                                   output_hook=lambda m: lines.append(
                                       m["content"].get("text", "")))
            kc.stop_channels()
            out = "".join(lines)
            match = re.search(r"RESULT (\S+) completed", out)
            assert match, out
            task = api.get(f"/task/{match.group(1)}").json()
            assert task["submitted_by"] == "alice" and task["status"] == "completed"
        finally:
            api.delete(f"/kernels/{kernel}")


def test_a_server_the_hub_stops_and_starts_again_loses_no_task(
        hub: Hub, tokens: dict[str, str]) -> None:
    with client(hub, "alice", tokens["alice"]) as api:
        done = api.post("/task", json={"task": "list the files"}).json()["id"]
        wait_for(api, done, lambda t: t["status"] == "completed")
        waiting = api.post("/task", json={"task": "wait a while"}).json()["id"]
        wait_for(api, waiting, lambda t: any(a["status"] == "pending" for a in t["approvals"]))
    hub.stop_server("alice")
    hub.start_server("alice")
    with client(hub, "alice", tokens["alice"]) as api:
        assert api.get(f"/task/{done}").json()["status"] == "completed"
        ended = wait_for(api, waiting, lambda t: t["status"] in ("failed", "cancelled"))
        assert any("shutting down" in e["content"] or "interrupted" in e["content"]
                   for e in ended["log"])
