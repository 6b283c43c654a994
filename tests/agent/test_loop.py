"""The real loop against the loopback fake LLM, real tools and real subprocesses."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from pathlib import Path

import pytest

from open_agent_jupyter.agent.loop import LocalBackend
from open_agent_jupyter.config import Settings
from open_agent_jupyter.types import Outcome, RunState
from tests.fakellm import FakeLLM, Reply, call, calls, cut, fault, text
from tests.process_utils import Recorder, processes_running


async def run(settings: Settings, task: str = "do it") -> tuple[Outcome, Recorder, RunState]:
    sink, state = Recorder(), RunState()
    outcome = await LocalBackend().run(task, settings, sink, state)
    return outcome, sink, state


@pytest.mark.parametrize("stream", [True, False])
async def test_task_writes_file_and_answers(fake_llm: FakeLLM, settings: Settings,
                                            stream: bool) -> None:
    settings = dataclasses.replace(settings, stream=stream)
    fake_llm.script(
        call("write_file", {"path": "hello.py", "content": "print('Hello World')\n"},
             content="I will write the script."),
        call("run_command", {"command": "python hello.py"}),
        text("Created hello.py; it prints Hello World."),
    )
    outcome, sink, state = await run(settings, "Create a hello world script")
    assert outcome.status == "completed"
    assert outcome.result == "Created hello.py; it prints Hello World."
    assert (Path(settings.working_dir) / "hello.py").read_text() == "print('Hello World')\n"
    kinds = [e.entry_type for e in sink.entries]
    assert kinds == ["thinking", "tool_call", "tool_result", "tool_call", "tool_output",
                     "tool_result", "response"]
    assert sink.of("tool_output")[0].content == "Hello World\n"
    assert sink.of("tool_result")[0].created is True
    run_result = sink.of("tool_result")[1]
    assert run_result.ok and "Hello World" in run_result.content
    assert sink.of("tool_call")[0].arguments == {"path": "hello.py",
                                                 "content": "print('Hello World')\n"}
    assert state.iterations == 3
    assert state.usage.llm_calls == 3 and state.usage.prompt_tokens == 300
    assert state.usage.cost_usd > 0
    first = fake_llm.chat_requests()[0]
    assert first["messages"][0]["role"] == "system"
    assert settings.working_dir in json.dumps(first["messages"][0])
    assert len(first["tools"]) == 13


async def test_parallel_calls_fed_back_in_call_order(fake_llm: FakeLLM,
                                                     settings: Settings) -> None:
    fake_llm.script(
        calls([("run_command", {"command": "sleep 0.3; echo first"}),
               ("run_command", {"command": "echo second"})]),
        text("done"),
    )
    outcome, sink, _ = await run(settings)
    assert outcome.status == "completed"
    results = sink.of("tool_result")
    # The quick command finishes first, so it is logged first ...
    assert [r.call_id for r in results] == ["call_1", "call_0"]
    # ... but the model gets the results in the order it asked for them.
    tool_messages = [m for m in fake_llm.chat_requests()[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_0", "call_1"]
    assert "first" in tool_messages[0]["content"] and "second" in tool_messages[1]["content"]


async def test_malformed_arguments_and_unknown_tool_go_back_to_the_model(
        fake_llm: FakeLLM, settings: Settings) -> None:
    fake_llm.script(call("read_file", '{"path": "x"'), call("teleport", {"to": "mars"}),
                    text("recovered"))
    outcome, sink, _ = await run(settings)
    assert outcome.status == "completed" and outcome.result == "recovered"
    bad_json, unknown = sink.of("tool_result")
    assert not bad_json.ok and "not valid JSON" in bad_json.content
    assert not unknown.ok and "unknown tool 'teleport'" in unknown.content
    assert sink.of("tool_call")[0].arguments == {"_raw": '{"path": "x"'}
    last = fake_llm.chat_requests()[-1]["messages"][-1]
    assert last["role"] == "tool" and "unknown tool" in last["content"]


async def test_model_that_never_stops_hits_max_iterations(fake_llm: FakeLLM,
                                                          settings: Settings) -> None:
    fake_llm.default = lambda body: call("list_directory", {"path": "."})
    settings = dataclasses.replace(settings, max_iterations=4)
    outcome, sink, state = await run(settings)
    assert outcome.status == "failed"
    assert "max_iterations (4)" in (outcome.error or "")
    assert state.iterations == 4
    assert sink.entries[-1].entry_type == "error"
    assert len(fake_llm.chat_requests()) == 4


async def test_budget_stops_the_task(fake_llm: FakeLLM, settings: Settings) -> None:
    # Each call costs 2000 * 3e-6 + 20 * 1.5e-5 USD = 0.63 cents at the fake's prices.
    fake_llm.default = lambda body: call("list_directory", {"path": "."}, prompt_tokens=2000)
    settings = dataclasses.replace(settings, budget_cents=1)
    outcome, _, state = await run(settings)
    assert outcome.status == "failed" and "budget" in (outcome.error or "")
    assert state.iterations == 2


async def test_rate_limit_then_success(fake_llm: FakeLLM, settings: Settings) -> None:
    fake_llm.script(fault(429, "slow down", {"Retry-After": "0"}), text("ok after retry"))
    outcome, _, _ = await run(settings)
    assert outcome.status == "completed" and outcome.result == "ok after retry"


async def test_stream_cut_midway_is_retried(fake_llm: FakeLLM, settings: Settings) -> None:
    fake_llm.script(cut(), text("whole answer"))
    outcome, _, _ = await run(settings)
    assert outcome.status == "completed" and outcome.result == "whole answer"


@pytest.mark.parametrize(("status", "words"), [(401, "invalid API key"),
                                                (402, "insufficient credits")])
async def test_fatal_llm_errors_fail_with_reason(fake_llm: FakeLLM, settings: Settings,
                                                 status: int, words: str) -> None:
    fake_llm.script(fault(status, "nope"))
    outcome, sink, _ = await run(settings)
    assert outcome.status == "failed" and words in (outcome.error or "")
    assert sink.of("error")[0].content == outcome.error
    assert len(fake_llm.chat_requests()) == 1


async def test_server_errors_exhaust_retries(fake_llm: FakeLLM, settings: Settings) -> None:
    fake_llm.default = lambda body: fault(500, "boom")
    settings = dataclasses.replace(settings, max_retries=1)
    outcome, _, _ = await run(settings)
    assert outcome.status == "failed"
    assert len(fake_llm.chat_requests()) == 2


async def test_no_api_key_fails_at_once(fake_llm: FakeLLM, settings: Settings) -> None:
    outcome, sink, _ = await run(dataclasses.replace(settings, api_key=None))
    assert outcome.status == "failed" and "OPENROUTER_API_KEY" in (outcome.error or "")
    assert fake_llm.requests == []
    assert sink.of("error")


async def test_cancel_kills_running_command(fake_llm: FakeLLM, settings: Settings,
                                           tmp_path: Path) -> None:
    marker = f"sleep 31.{random.randrange(10**6)}"  # unique even when suites run side by side
    fake_llm.script(call("run_command", {"command": f"{marker}; echo never"}))
    sink, state = Recorder(), RunState()
    task = asyncio.ensure_future(LocalBackend().run("wait", settings, sink, state))
    for _ in range(200):
        if processes_running(marker):
            break
        await asyncio.sleep(0.05)
    assert processes_running(marker), "the command never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(40):
        if not processes_running(marker):
            break
        await asyncio.sleep(0.05)
    assert not processes_running(marker)
    assert state.iterations == 1


async def test_old_large_results_are_elided(fake_llm: FakeLLM, settings: Settings) -> None:
    work = Path(settings.working_dir)
    (work / "big.txt").write_text("x" * 20_000)
    fake_llm.script(*[call("read_file", {"path": "big.txt"}) for _ in range(4)], text("read"))
    settings = dataclasses.replace(settings, context_tokens=8_000)
    outcome, _, _ = await run(settings)
    assert outcome.status == "completed"
    last = fake_llm.chat_requests()[-1]["messages"]
    tool_contents = [m["content"] for m in last if m["role"] == "tool"]
    assert tool_contents[0].startswith("[elided:")
    assert not tool_contents[-1].startswith("[elided:")


def test_reply_helpers_are_plain_data() -> None:
    assert Reply().status == 200
