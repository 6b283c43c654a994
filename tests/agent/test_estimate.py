"""The estimator: features, formulas, prices from the loopback endpoint, tuning files, settling."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from open_agent_jupyter.agent.estimate import (
    FALLBACK_COMPLETION_PRICE,
    FALLBACK_PROMPT_PRICE,
    complexity,
    make_estimate,
    predict,
    settle_estimate,
    task_features,
)
from open_agent_jupyter.agent.loop import LocalBackend
from open_agent_jupyter.agent.tuning import DEFAULT_PARAMS, load_tuning, write_tuning
from open_agent_jupyter.config import Settings
from open_agent_jupyter.types import RunState, Usage
from tests.fakellm import COMPLETION_PRICE, PROMPT_PRICE, FakeLLM, call, text

HELLO = "Create a Python script that prints Hello World"
BIG = """Refactor the REST API server in app.py into a package:
1. move the routes to routes.py and the database access (sqlite) to db.py
2. add async handlers and authentication
3. write pytest tests in tests/test_api.py, then run them and fix what fails
Finally update the Dockerfile and commit with git."""


def write_json(workdir: Path, data: Any) -> Path:
    path = workdir / ".open_agent" / "tuning.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_features_count_verbs_files_steps_and_keywords() -> None:
    f = task_features(BIG)
    assert f["files"] == 4  # app.py, routes.py, db.py, tests/test_api.py
    assert f["steps"] == 5  # three numbered lines, "then", "Finally"
    assert f["verbs"] >= 8
    assert f["keywords"] >= 8
    assert task_features(HELLO) == {"words": 8, "verbs": 1, "files": 0, "steps": 0,
                                    "keywords": 0}


def test_complexity_orders_tasks_and_stays_in_range() -> None:
    small = complexity(task_features(HELLO), DEFAULT_PARAMS)
    large = complexity(task_features(BIG), DEFAULT_PARAMS)
    huge = complexity(task_features(BIG * 20), DEFAULT_PARAMS)
    assert 0.0 <= small < 0.2 < 0.6 < large <= huge == 1.0
    price = (1e-6, 1e-6)
    a = predict(HELLO, DEFAULT_PARAMS, max_iterations=50, context_tokens=100_000, price=price)
    b = predict(BIG, DEFAULT_PARAMS, max_iterations=50, context_tokens=100_000, price=price)
    assert (a["level"], b["level"]) == ("low", "high")
    assert a["iterations"] < b["iterations"] and a["tokens"] < b["tokens"]


def test_tokens_grow_with_each_iteration_and_respect_the_caps() -> None:
    params = {**DEFAULT_PARAMS, "iterations_min": 3, "iterations_max": 3, "base_tokens": 1000,
              "growth_per_iteration": 100, "completion_per_iteration": 10,
              "token_multiplier": 2.0}
    task = "x" * 40  # 10 task tokens
    est = predict(task, params, max_iterations=50, context_tokens=100_000, price=(1e-6, 2e-6))
    assert est["iterations"] == 3
    assert est["prompt_tokens"] == 2 * (1010 + 1110 + 1210)
    assert est["completion_tokens"] == 2 * 3 * 10
    assert est["cost_usd"] == pytest.approx(6660 * 1e-6 + 60 * 2e-6)
    capped = predict(task, params, max_iterations=2, context_tokens=1100, price=(1e-6, 2e-6))
    assert capped["iterations"] == 2
    assert capped["prompt_tokens"] == 2 * (1010 + 1100)


async def test_estimate_uses_the_endpoint_price(settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        est = await make_estimate(HELLO, settings, http)
    assert est["priced"] is True and est["source"] == "default"
    assert est["model"] == settings.model and "warning" not in est
    expected = est["prompt_tokens"] * PROMPT_PRICE + est["completion_tokens"] * COMPLETION_PRICE
    assert est["cost_usd"] == pytest.approx(expected, abs=1e-6)


async def test_unknown_price_falls_back_and_says_so(settings: Settings) -> None:
    unlisted = Settings(**{**settings.__dict__, "model": "not/listed"})
    async with httpx.AsyncClient() as http:
        est = await make_estimate(HELLO, unlisted, http)
    assert est["priced"] is False and est["model"] == "not/listed"
    expected = (est["prompt_tokens"] * FALLBACK_PROMPT_PRICE
                + est["completion_tokens"] * FALLBACK_COMPLETION_PRICE)
    assert est["cost_usd"] == pytest.approx(expected, abs=1e-6)


async def test_tuning_file_changes_the_estimate(settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        before = await make_estimate(HELLO, settings, http)
        path = write_tuning(settings.working_dir, "fake/model",
                            {**DEFAULT_PARAMS, "token_multiplier": 3.0, "iterations_min": 9},
                            {"tasks": 1})
        after = await make_estimate(HELLO, settings, http)
    assert after["source"] == str(path)
    assert after["iterations"] > before["iterations"]
    assert after["tokens"] > 3 * before["tokens"]
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["model"] == "fake/model" and doc["created_at"]


@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "is not JSON (line 1"),
    ({"version": 2, "params": {}}, "has version 2"),
    ({"params": {}}, "has version None"),
    ([1, 2], "must be a JSON object"),
    ({"version": 1, "params": []}, '"params" must be an object'),
    ({"version": 1, "params": {"base_tokens": "many"}}, '"base_tokens" must be a number'),
    ({"version": 1, "params": {"token_multiplier": -1}}, '"token_multiplier" = -1 is outside'),
    ({"version": 1, "params": {"iterations_min": 9, "iterations_max": 3}}, "must not be below"),
])
async def test_malformed_tuning_falls_back_with_a_warning(
        settings: Settings, caplog: pytest.LogCaptureFixture, content: Any, words: str) -> None:
    path = write_json(Path(settings.working_dir), content)
    with caplog.at_level(logging.WARNING):
        async with httpx.AsyncClient() as http:
            est = await make_estimate(HELLO, settings, http)
    assert est["source"] == "default"
    assert str(path) in est["warning"] and words in est["warning"]
    assert "using default estimator parameters" in est["warning"]
    assert est["warning"] in caplog.text
    assert est == {**est, **predict(HELLO, DEFAULT_PARAMS, max_iterations=settings.max_iterations,
                                    context_tokens=settings.context_tokens,
                                    price=(PROMPT_PRICE, COMPLETION_PRICE))}


def test_partial_tuning_keeps_defaults_and_ignores_unknown_keys(tmp_path: Path) -> None:
    write_json(tmp_path, {"version": 1, "params": {"growth_per_iteration": 5, "future": 1}})
    tuning = load_tuning(tmp_path)
    assert tuning.warning is None and "future" not in tuning.params
    assert tuning.params == {**DEFAULT_PARAMS, "growth_per_iteration": 5.0}
    assert load_tuning(tmp_path / "missing").source == "default"


def test_settle_adds_actual_figures_and_relative_errors() -> None:
    estimate = {"complexity": 0.1, "iterations": 4, "tokens": 1000, "cost_usd": 0.01}
    state = RunState(iterations=2, usage=Usage(prompt_tokens=1500, completion_tokens=500,
                                               cost_usd=0.02, llm_calls=2))
    settled = settle_estimate(estimate, state)
    assert settled["actual"] == {"iterations": 2, "tokens": 2000, "cost_usd": 0.02}
    assert settled["relative_error"] == {"iterations": 1.0, "tokens": -0.5, "cost_usd": -0.5}
    assert settled["complexity"] == 0.1 and "actual" not in estimate
    nothing = settle_estimate(estimate, RunState())
    assert nothing["relative_error"] == {"iterations": None, "tokens": None, "cost_usd": None}


async def test_local_backend_records_and_settles_the_estimate(
        fake_llm: FakeLLM, settings: Settings) -> None:
    write_tuning(settings.working_dir, "fake/model", {**DEFAULT_PARAMS, "iterations_min": 2,
                                                      "iterations_max": 2}, {})
    fake_llm.script(call("list_directory", {"path": "."}), text("Done."))
    state = RunState()

    async def sink(entry: object) -> None:
        pass

    outcome = await LocalBackend().run(HELLO, settings, sink, state)
    assert outcome.status == "completed"
    est = state.estimate
    assert est is not None and est["iterations"] == 2 and est["source"].endswith("tuning.json")
    assert est["actual"] == {"iterations": 2, "tokens": 240, "cost_usd": pytest.approx(0.0012)}
    assert est["relative_error"]["iterations"] == 0.0
    assert est["relative_error"]["tokens"] == round((est["tokens"] - 240) / 240, 4)
