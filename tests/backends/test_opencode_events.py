"""The event translator on event shapes recorded from opencode 1.18.33 (pure, no server)."""

from __future__ import annotations

from typing import Any

from open_agent_jupyter.backends.opencode_events import Translator, step_usage
from open_agent_jupyter.types import RunState

SID = "ses_1"


def ev(kind: str, **props: Any) -> dict[str, Any]:
    return {"type": kind, "properties": {"sessionID": SID, **props}}


def status(kind: str) -> dict[str, Any]:
    return ev("session.status", status={"type": kind})


def tool(status_: str, **state: Any) -> dict[str, Any]:
    return {"id": "prt_t", "messageID": "msg_a", "sessionID": SID, "type": "tool",
            "tool": "bash", "callID": "call_0",
            "state": {"status": status_, "input": {"command": "ls"}, **state}}


def text_part(content: str, end: bool = True) -> dict[str, Any]:
    time = {"start": 1, "end": 2} if end else {"start": 1}
    return {"id": "prt_x", "messageID": "msg_a", "sessionID": SID, "type": "text",
            "text": content, "time": time}


def test_idle_before_busy_is_ignored_and_idle_is_idempotent() -> None:
    tr = Translator(SID, RunState())
    tr.handle(ev("session.idle"))
    tr.handle(status("idle"))
    assert not tr.idle
    tr.handle(status("busy"))
    tr.handle(status("idle"))
    tr.handle(ev("session.idle"))
    assert tr.idle


def test_other_sessions_are_not_ours() -> None:
    tr = Translator(SID, RunState())
    assert tr.concerns(ev("session.idle"))
    assert not tr.concerns({"type": "session.idle", "properties": {"sessionID": "ses_2"}})
    assert not tr.concerns({"type": "server.heartbeat", "properties": {}})


def test_streamed_text_before_a_tool_is_thinking_and_the_last_text_the_response() -> None:
    tr = Translator(SID, RunState())
    out = tr.handle(ev("message.part.updated", part=text_part("", end=False)))
    out += tr.handle(ev("message.part.delta", partID="prt_x", field="text", delta="Let me "))
    out += tr.handle(ev("message.part.delta", partID="prt_x", field="text", delta="look."))
    out += tr.handle(ev("message.part.updated", part=tool("running", time={"start": 10})))
    out += tr.handle(ev("message.part.updated", part=text_part("Let me look.")))  # closed late
    out += tr.handle(ev("message.part.updated",
                        part=tool("completed", output="a b", time={"start": 10, "end": 35})))
    final = {**text_part("Found a and b."), "id": "prt_y"}
    out += tr.handle(ev("message.part.updated", part=final))
    out += tr.finish()
    assert [(e.entry_type, e.content) for e in out] == [
        ("thinking", "Let me look."), ("tool_call", 'bash: {"command": "ls"}'),
        ("tool_result", "a b"), ("response", "Found a and b.")]
    assert out[2].duration_ms == 25.0 and out[2].ok is True and out[1].call_id == "call_0"
    assert tr.result == "Found a and b."


def test_reconcile_logs_only_what_was_missed() -> None:
    tr = Translator(SID, RunState())
    seen = tr.handle(ev("message.part.updated", part=tool("running")))
    stored = [{"info": {"id": "msg_u", "role": "user"},
               "parts": [{"id": "prt_u", "messageID": "msg_u", "type": "text", "text": "task"}]},
              {"info": {"id": "msg_a", "role": "assistant", "time": {"completed": 3}},
               "parts": [{"id": "prt_s", "type": "step-start"},
                         tool("error", error="denied", time={"start": 1, "end": 4}),
                         {"id": "prt_f", "type": "step-finish", "cost": 0.5,
                          "tokens": {"input": 10, "output": 5, "reasoning": 1,
                                     "cache": {"read": 4, "write": 0}}}]}]
    missed = tr.reconcile(stored)
    again = tr.reconcile(stored)
    assert [e.entry_type for e in seen] == ["tool_call"]
    assert [(e.entry_type, e.ok, e.content) for e in missed] == [("tool_result", False, "denied")]
    assert again == []
    assert tr.state.iterations == 1 and tr.state.usage.cost_usd == 0.5


def test_an_error_is_logged_once_and_marks_failure() -> None:
    tr = Translator(SID, RunState())
    error = {"name": "APIError", "data": {"message": "bad key", "statusCode": 401}}
    out = tr.handle(ev("session.error", error=error))
    out += tr.handle(ev("message.updated", info={"id": "m", "role": "assistant", "error": error}))
    assert [e.entry_type for e in out] == ["error"]
    assert tr.error == "OpenCode APIError (HTTP 401): bad key"


def test_step_usage_counts_cache_in_the_prompt() -> None:
    usage = step_usage({"cost": 0.25, "tokens": {"input": 10, "output": 5, "reasoning": 2,
                                                 "cache": {"read": 30, "write": 7}}})
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (47, 7, 30)
    assert usage.cost_usd == 0.25 and usage.llm_calls == 1
