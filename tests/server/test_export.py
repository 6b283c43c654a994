"""``GET /api/task/{id}/notebook`` against a real jupyter server, checked against OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import nbformat

from tests.fakellm import FakeLLM, call, text


async def test_a_finished_task_downloads_as_a_notebook(api: Any, jp_fetch: Any, extension: Any,
                                                       fake_llm: FakeLLM) -> None:
    fake_llm.script(call("run_command", {"command": "echo hi"}), text("Said hi."))
    _, created = await api("POST", "api/task", {"task": "Say hi in the shell"})
    await (await extension.ensure_started()).wait(created["id"])

    status, body = await api("GET", f"api/task/{created['id']}/notebook")
    assert status == 200
    response = await jp_fetch("api", "task", created["id"], "notebook")
    assert response.headers["Content-Type"] == "application/x-ipynb+json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="open-agent-say-hi-in-the-shell-{created["id"][:8]}.ipynb"')
    nb = nbformat.reads(response.body.decode(), as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert json.loads(response.body) == body
    assert [c.source for c in nb.cells[1:]] == ["%%bash\necho hi", "## Answer\n\nSaid hi."]
    assert nb.cells[1].outputs[0]["text"] == "hi\n"


async def test_an_unknown_task_is_404(api: Any) -> None:
    for task_id in ("00000000-0000-4000-8000-000000000000", "not-a-task"):
        status, body = await api("GET", f"api/task/{task_id}/notebook")
        assert (status, body["status"]) == (404, 404)
        assert task_id in body["error"]
