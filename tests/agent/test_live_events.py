"""Live events of the real loop: tool_output as a command runs, notices, in-flight calls."""

from __future__ import annotations

import asyncio
import dataclasses

from open_agent_jupyter.agent import output as live_output
from open_agent_jupyter.agent.loop import LocalBackend
from open_agent_jupyter.agent.output import CallOutput
from open_agent_jupyter.config import Settings
from open_agent_jupyter.types import RunState
from tests.fakellm import FakeLLM, call, fault, text
from tests.process_utils import Recorder

TICKING = "for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.1; done; echo oops >&2"


async def test_a_ticking_command_streams_its_output_before_its_result(
        fake_llm: FakeLLM, settings: Settings) -> None:
    fake_llm.script(call("run_command", {"command": TICKING}), text("done"))
    sink = Recorder()
    outcome = await LocalBackend().run("tick", settings, sink, RunState())
    assert outcome.status == "completed"
    kinds = [e.entry_type for e in sink.entries]
    result_at = kinds.index("tool_result")
    outputs = sink.of("tool_output")
    assert len(outputs) >= 3 and kinds.index("tool_output") > kinds.index("tool_call")
    assert all(kinds[i] != "tool_output" for i in range(result_at, len(kinds)))
    call_id = sink.of("tool_call")[0].call_id
    assert {e.call_id for e in outputs} == {call_id} and {e.tool for e in outputs} == {
        "run_command"}
    stdout = "".join(e.content for e in outputs if e.stream == "stdout")
    assert stdout == "".join(f"line {i}\n" for i in range(1, 9))
    assert [e.content for e in outputs if e.stream == "stderr"] == ["oops\n"]
    result = sink.of("tool_result")[0].content
    assert "line 8" in result and "oops" in result  # the result is still the whole answer


async def test_a_flood_is_capped_with_a_note_and_the_result_keeps_head_and_tail(
        fake_llm: FakeLLM, settings: Settings) -> None:
    flood = "python3 -c \"import sys; [sys.stdout.write('x' * 99 + '\\n') for _ in range(500000)]\""
    fake_llm.script(call("run_command", {"command": flood}), text("done"))
    sink = Recorder()
    outcome = await LocalBackend().run("flood", settings, sink, RunState())
    assert outcome.status == "completed"
    outputs = sink.of("tool_output")
    streamed = "".join(e.content for e in outputs)
    assert len(streamed) < live_output.STREAM_LIMIT + 1000  # 50 MB printed, about 1 MB shown
    assert "live output stopped after 1,000,000 characters" in outputs[-1].content
    # Coalesced: one entry per 100-character line would be 10,000 entries for 1 MB; how many
    # 4 KB / 100 ms batches it takes depends on the machine's load (186 seen on a busy one).
    assert len(outputs) < 1000
    result = sink.of("tool_result")[0]
    assert result.ok and "characters cut" in result.content and len(result.content) < 40_000


async def test_a_429_then_an_answer_is_a_retry_notice(fake_llm: FakeLLM,
                                                     settings: Settings) -> None:
    fake_llm.script(fault(429, "slow down", headers={"Retry-After": "0"}), text("fine"))
    sink = Recorder()
    outcome = await LocalBackend().run("hi", settings, sink, RunState())
    assert outcome.status == "completed" and outcome.result == "fine"
    [notice] = sink.of("notice")
    assert notice.kind == "retry" and "HTTP 429" in notice.content
    assert notice.details == {"attempt": 1, "max_retries": 3, "wait_s": 0.0,
                              "reason": notice.details["reason"]}
    assert [e.entry_type for e in sink.entries] == ["notice", "response"]


async def test_an_elision_and_a_passed_estimate_are_notices(fake_llm: FakeLLM,
                                                           settings: Settings) -> None:
    settings = dataclasses.replace(settings, context_tokens=2_000)
    big = "python3 -c \"print('y' * 5000)\""
    fake_llm.script(*[call("run_command", {"command": big}) for _ in range(3)],
                    *[call("run_command", {"command": "true"}) for _ in range(8)], text("ok"))
    sink, state = Recorder(), RunState()
    await LocalBackend().run("make big outputs", settings, sink, state)
    kinds = {e.kind for e in sink.of("notice")}
    assert "elision" in kinds
    elision = next(e for e in sink.of("notice") if e.kind == "elision")
    assert elision.details["context_tokens"] == 2_000 and elision.details["elided"] >= 1
    estimate = [e for e in sink.of("notice") if e.kind == "estimate"]
    assert [e.details["figure"] for e in estimate] == ["iterations"]  # said once
    assert estimate[0].details["estimated"] == state.estimate["iterations"]


async def test_calls_in_flight_are_visible_while_they_run(fake_llm: FakeLLM,
                                                          settings: Settings) -> None:
    fake_llm.script(text("thinking...", delay=0.5))
    state = RunState()
    runner = asyncio.create_task(LocalBackend().run("slow", settings, Recorder(), state))
    while not state.in_flight:
        await asyncio.sleep(0.01)
    [(key, info)] = state.in_flight.items()
    assert key == "llm" and info["phase"] == "llm" and "since" in info
    await runner
    assert state.in_flight == {}


async def test_output_pieces_within_the_interval_make_one_entry() -> None:
    sink = Recorder()
    out = CallOutput(sink, "python", "c1")
    for i in range(5):
        await out("stdout", f"{i}\n")
    await out("stderr", "warn\n")
    await asyncio.sleep(live_output.INTERVAL * 3)
    assert [(e.stream, e.content) for e in sink.entries] == [("stdout", "0\n1\n2\n3\n4\n"),
                                                             ("stderr", "warn\n")]
    await out("stdout", "x" * live_output.CHUNK_CHARS)  # a full chunk goes at once
    assert len(sink.entries) == 3
    await out("stdout", "tail")
    await out.close()
    assert sink.entries[-1].content == "tail"
