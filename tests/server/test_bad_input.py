"""Every kind of bad input gets a 4xx with a JSON message, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from open_agent_jupyter.server.validation import MAX_TASK_CHARS

BAD_BODIES = [
    (b"{not json", 400, "JSON"),
    (b"", 400, "JSON"),
    (b"\xff\xfe", 400, "JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b'"a task"', 400, "JSON object"),
    (b"{}", 400, "task"),
    (b'{"task": ""}', 400, "task"),
    (b'{"task": "   \\n"}', 400, "task"),
    (b'{"task": 42}', 400, "task"),
    (b'{"task": null}', 400, "task"),
    (b'{"task": "x", "max_iterations": "x"}', 400, "max_iterations"),
    (b'{"task": "x", "max_iterations": -1}', 400, "max_iterations"),
    (b'{"task": "x", "max_iterations": 0}', 400, "max_iterations"),
    (b'{"task": "x", "max_iterations": true}', 400, "max_iterations"),
    (b'{"task": "x", "max_iterations": 2.5}', 400, "max_iterations"),
    (b'{"task": "x", "budget_cents": -5}', 400, "budget_cents"),
    (b'{"task": "x", "budget_cents": "10"}', 400, "budget_cents"),
    (b'{"task": "x", "backend": "gpt-engineer"}', 400, "backend"),
    (b'{"task": "x", "backend": 1}', 400, "backend"),
    (b'{"task": "x", "model": ""}', 400, "model"),
    (b'{"task": "x", "model": ["a"]}', 400, "model"),
    (b'{"task": "x", "working_dir": 3}', 400, "working_dir"),
    (b'{"task": "x", "max_iteration": 3}', 400, "unknown"),
]


@pytest.mark.parametrize(("raw", "status", "word"), BAD_BODIES)
async def test_bad_task_bodies(api: Any, raw: bytes, status: int, word: str) -> None:
    code, body = await api("POST", "api/task", raw=raw)
    assert (code, body["status"]) == (status, status)
    assert word.lower() in body["error"].lower()


async def test_a_task_over_the_limit_is_413(api: Any) -> None:
    code, body = await api("POST", "api/task", {"task": "x" * (MAX_TASK_CHARS + 1)})
    assert (code, body["status"]) == (413, 413)
    code, _ = await api("POST", "api/task", {"task": "x" * MAX_TASK_CHARS})
    assert code == 201


async def test_null_options_mean_defaults(api: Any) -> None:
    code, created = await api("POST", "api/task", {"task": "x", "model": None,
                                                   "max_iterations": None})
    assert code == 201
    _, task = await api("GET", f"api/task/{created['id']}")
    assert (task["model"], task["max_iterations"]) == ("fake/model", 50)


@pytest.mark.parametrize("task_id", ["nope", "00000000-0000-4000-8000-000000000000",
                                     "00000000-0000-4000-8000-00000000000G", "..", "%00"])
@pytest.mark.parametrize("suffix", ["", "/stop", "/stream"])
async def test_unknown_or_malformed_ids_are_404(api: Any, task_id: str, suffix: str) -> None:
    method = "POST" if suffix == "/stop" else "GET"
    code, body = await api(method, f"api/task/{task_id}{suffix}", validate=False)
    assert code == 404
    assert body["status"] == 404


@pytest.mark.parametrize("params", [{"status": "done"}, {"limit": "x"}, {"limit": "0"},
                                    {"limit": "-1"}, {"limit": "100000"}, {"offset": "-3"},
                                    {"offset": "1.5"}, {"limit": "٣"},
                                    {"offset": "99999999999999999999"}])
async def test_bad_list_queries_are_400(api: Any, params: dict[str, str]) -> None:
    code, body = await api("GET", "api/tasks", params=params)
    assert (code, body["status"]) == (400, 400)


async def test_wrong_method_is_405_json(api: Any) -> None:
    code, body = await api("DELETE", "api/tasks", validate=False)
    assert (code, body["status"]) == (405, 405)
