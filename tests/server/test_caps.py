"""The server's settings cap what a task may ask for through the API (DESIGN §12.9)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def agent_config(agent_config: dict[str, Any]) -> dict[str, Any]:
    """An admin's caps: 5 iterations, 20 cents a task."""
    return {**agent_config, "max_iterations": 5, "budget_cents": 20}


@pytest.mark.parametrize(("body", "words"), [
    ({"max_iterations": 6}, ["max_iterations", "cap of 5", "MAX_ITERATIONS"]),
    ({"budget_cents": 21}, ["budget_cents", "cap of 20", "BUDGET_CENTS"]),
    ({"budget_cents": 0}, ["budget_cents", "0 means no budget"]),
])
async def test_a_value_above_the_servers_cap_is_400_naming_it(
        api: Any, body: dict[str, Any], words: list[str]) -> None:
    code, answer = await api("POST", "api/task", {"task": "x", **body})
    assert (code, answer["status"]) == (400, 400)
    assert all(word in answer["error"] for word in words), answer["error"]
    _, listed = await api("GET", "api/tasks")
    assert listed["total"] == 0


async def test_values_within_the_caps_are_accepted_and_recorded(api: Any) -> None:
    code, created = await api("POST", "api/task", {"task": "x", "max_iterations": 5,
                                                   "budget_cents": 20})
    assert code == 201
    _, task = await api("GET", f"api/task/{created['id']}")
    assert (task["max_iterations"], task["budget_cents"]) == (5, 20)
    assert task["submitted_by"]  # the server's local user (token requests are anonymous)
