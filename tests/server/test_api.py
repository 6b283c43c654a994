"""The REST endpoints against a real jupyter server, checked against the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from open_agent_jupyter import __version__
from tests.fakellm import FakeLLM, text

ENDPOINTS = [
    ("POST", "api/task"),
    ("GET", "api/task/00000000-0000-4000-8000-000000000000"),
    ("GET", "api/task/00000000-0000-4000-8000-000000000000/stream"),
    ("POST", "api/task/00000000-0000-4000-8000-000000000000/stop"),
    ("GET", "api/task/00000000-0000-4000-8000-000000000000/notebook"),
    ("GET", "api/tasks"),
    ("GET", "api/stats"),
    ("GET", "api/open_agent/openapi.yaml"),
]


async def test_health_is_public_and_reveals_no_secret(api: Any, jp_serverapp: Any) -> None:
    status, body = await api("GET", "api/health")
    assert status == 200
    assert body == {"status": "ok", "version": __version__, "backend": "local",
                    "max_iterations": 50, "model": "fake/model", "api_key_configured": True}
    token = jp_serverapp.identity_provider.token
    assert "test-key" not in json.dumps(body) and token not in json.dumps(body)


@pytest.mark.parametrize("auth", ["", "token wrong"])
async def test_public_health_says_only_status_and_version(api: Any, auth: str) -> None:
    status, body = await api("GET", "api/health", headers={"Authorization": auth})
    assert status == 200
    assert body == {"status": "ok", "version": __version__}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_refuses_a_request_without_token(
        api: Any, method: str, path: str) -> None:
    status, body = await api(method, path, body={"task": "x"} if method == "POST" else None,
                             headers={"Authorization": ""}, validate=False)
    assert status in (401, 403)
    assert body["status"] == status


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_refuses_a_wrong_token(api: Any, method: str, path: str) -> None:
    status, _ = await api(method, path, body={"task": "x"} if method == "POST" else None,
                          headers={"Authorization": "token wrong"}, validate=False)
    assert status in (401, 403)


async def test_submit_then_get_list_and_stats(api: Any, extension: Any,
                                              fake_llm: FakeLLM) -> None:
    fake_llm.script(text("All done."))
    status, created = await api("POST", "api/task", {"task": "say hi", "max_iterations": 3})
    assert status == 201 and created["status"] in ("pending", "running")
    manager = await extension.ensure_started()
    await manager.wait(created["id"])
    status, task = await api("GET", f"api/task/{created['id']}")
    assert status == 200
    assert (task["status"], task["result"], task["max_iterations"]) == ("completed", "All done.", 3)
    assert task["log"][-1]["entry_type"] == "response"
    status, figures = await api("GET", f"api/task/{created['id']}", params={"log": "false"})
    assert status == 200 and "log" not in figures
    assert figures == {k: v for k, v in task.items() if k != "log"}
    status, error = await api("GET", f"api/task/{created['id']}", params={"log": "maybe"})
    assert status == 400 and error["error"] == "'log' must be true or false"
    status, page = await api("GET", "api/tasks", params={"status": "completed", "limit": "5"})
    assert status == 200 and page["total"] == 1 and page["tasks"][0]["id"] == created["id"]
    assert "log" not in page["tasks"][0]
    status, stats = await api("GET", "api/stats")
    assert status == 200 and stats["total"] == 1 and stats["by_status"]["completed"] == 1
    assert stats["success_rate"] == 1.0


async def test_list_is_newest_first_and_pages(api: Any, extension: Any) -> None:
    ids = [(await api("POST", "api/task", {"task": f"task {i}"}))[1]["id"] for i in range(3)]
    manager = await extension.ensure_started()
    for task_id in ids:
        await manager.wait(task_id)
    _, first = await api("GET", "api/tasks", params={"limit": "2"})
    _, second = await api("GET", "api/tasks", params={"limit": "2", "offset": "2"})
    assert [t["id"] for t in first["tasks"] + second["tasks"]] == ids[::-1]
    assert first["total"] == 3


async def test_stop_a_finished_task_returns_it_unchanged(api: Any, extension: Any) -> None:
    _, created = await api("POST", "api/task", {"task": "quick"})
    await (await extension.ensure_started()).wait(created["id"])
    status, task = await api("POST", f"api/task/{created['id']}/stop")
    assert status == 200 and task["status"] == "completed"


async def test_openapi_document_is_served(jp_fetch: Any) -> None:
    response = await jp_fetch("api", "open_agent", "openapi.yaml")
    spec = yaml.safe_load(response.body)
    assert spec["openapi"].startswith("3.") and "/api/task/{task_id}/stream" in spec["paths"]


async def test_kernels_inherit_url_and_token(jp_serverapp: Any, extension: Any,
                                             jp_base_url: str) -> None:
    import os

    url = os.environ["OPEN_AGENT_URL"]
    assert url == f"http://{jp_serverapp.ip or 'localhost'}:{jp_serverapp.port}{jp_base_url}"
    # Kernels get the task API token, never Jupyter's (see test_secrets for what it opens).
    assert os.environ["OPEN_AGENT_TOKEN"] == extension.task_token
    assert extension.task_token != jp_serverapp.identity_provider.token
