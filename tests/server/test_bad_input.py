"""Every kind of bad input gets a 4xx with a JSON message, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from open_agent_jupyter.server.validation import (
    MAX_BUDGET_CENTS,
    MAX_ITERATIONS,
    MAX_MODEL_CHARS,
    MAX_TASK_CHARS,
)

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



@pytest.fixture
def agent_config(agent_config: dict[str, Any]) -> dict[str, Any]:
    """The server's own caps at the hard bounds, so these tests meet the bounds alone."""
    return {**agent_config, "max_iterations": MAX_ITERATIONS, "budget_cents": MAX_BUDGET_CENTS}

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
    # This module's server has MAX_ITERATIONS at the hard bound (the fixture above).
    assert (task["model"], task["max_iterations"]) == ("fake/model", MAX_ITERATIONS)


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


# -- issue: bounded numbers, nesting, upper bounds, working_dir --------------------------

DIGITS = "7" * 5000


@pytest.mark.parametrize("field", ["budget_cents", "max_iterations"])
async def test_a_number_of_thousands_of_digits_is_400(api: Any, field: str) -> None:
    raw = f'{{"task": "x", "{field}": {DIGITS}}}'.encode()
    code, body = await api("POST", "api/task", raw=raw)
    assert (code, body["status"]) == (400, 400)
    assert field in body["error"]


@pytest.mark.parametrize("params", [{"offset": DIGITS}, {"limit": DIGITS}])
async def test_list_queries_of_thousands_of_digits_are_400(
        api: Any, params: dict[str, str]) -> None:
    code, body = await api("GET", "api/tasks", params=params)
    assert (code, body["status"]) == (400, 400)
    assert next(iter(params)) in body["error"]


async def test_last_event_id_of_thousands_of_digits_is_400(api: Any) -> None:
    _, created = await api("POST", "api/task", {"task": "x"})
    path = f"api/task/{created['id']}/stream"
    code, body = await api("GET", path, params={"last_event_id": DIGITS})
    assert code == 400 and "Last-Event-ID" in body["error"]
    code, body = await api("GET", path, headers={"Last-Event-ID": DIGITS})
    assert code == 400 and "Last-Event-ID" in body["error"]


def _nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def _nested_objects(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("raw", [
    _nested_arrays(100_000),
    f'{{"task": "x", "model": {_nested_arrays(100_000)}}}',
    f'{{"task": "x", "model": {_nested_objects(2_000)}}}',
    f'{{"task": {_nested_objects(2_000)}}}',
    f'{{"task": "x", "working_dir": {_nested_objects(2_000)}}}',
    f'{{"task": "x", "budget_cents": {_nested_arrays(500)}}}',
], ids=["arrays-100k", "model-arrays-100k", "model-objects-2k", "task-objects-2k",
        "working_dir-objects-2k", "budget_cents-arrays-500"])
async def test_deep_nesting_is_400(api: Any, raw: str) -> None:
    code, body = await api("POST", "api/task", raw=raw.encode())
    assert (code, body["status"]) == (400, 400)
    assert "nest" in body["error"] or "must be" in body["error"]


@pytest.mark.parametrize(("field", "value", "bound"), [
    ("model", "m" * (MAX_MODEL_CHARS + 1), f"{MAX_MODEL_CHARS}"),
    ("max_iterations", MAX_ITERATIONS + 1, f"{MAX_ITERATIONS:,}"),
    ("max_iterations", 2**70, f"{MAX_ITERATIONS:,}"),
    ("budget_cents", MAX_BUDGET_CENTS + 1, f"{MAX_BUDGET_CENTS:,}"),
    ("budget_cents", 10**400, f"{MAX_BUDGET_CENTS:,}"),
], ids=["model", "max_iterations", "max_iterations-2**70", "budget_cents",
        "budget_cents-10**400"])
async def test_upper_bounds_name_the_field_and_the_bound(
        api: Any, field: str, value: Any, bound: str) -> None:
    code, body = await api("POST", "api/task", {"task": "x", field: value})
    assert (code, body["status"]) == (400, 400)
    assert field in body["error"] and bound in body["error"]


async def test_values_at_the_bounds_are_accepted(api: Any) -> None:
    code, created = await api("POST", "api/task", {
        "task": "x", "model": "m" * MAX_MODEL_CHARS, "max_iterations": MAX_ITERATIONS,
        "budget_cents": MAX_BUDGET_CENTS})
    assert code == 201
    _, task = await api("GET", f"api/task/{created['id']}")
    assert (task["max_iterations"], task["budget_cents"]) == (MAX_ITERATIONS, MAX_BUDGET_CENTS)


@pytest.mark.parametrize("kind", ["missing", "file", "nul"])
async def test_working_dir_must_be_an_existing_directory(
        api: Any, work_dir: Path, kind: str) -> None:
    (work_dir / "a-file.txt").write_text("x")
    folder = {"missing": str(work_dir / "nope"), "file": str(work_dir / "a-file.txt"),
              "nul": str(work_dir) + "\x00/x"}[kind]
    code, body = await api("POST", "api/task", {"task": "x", "working_dir": folder})
    assert (code, body["status"]) == (400, 400)
    assert "working_dir" in body["error"] and "WORKING_DIR" not in body["error"]
    assert "\x00" not in body["error"]


async def test_an_existing_working_dir_relative_or_absolute_is_accepted(
        api: Any, work_dir: Path) -> None:
    (work_dir / "sub").mkdir()
    for folder in ("sub", str(work_dir / "sub")):
        code, created = await api("POST", "api/task", {"task": "x", "working_dir": folder})
        assert code == 201
        _, task = await api("GET", f"api/task/{created['id']}")
        assert task["working_dir"] == str(work_dir / "sub")
