"""The opencode backend against a real ``opencode serve`` and the loopback fake LLM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from open_agent_jupyter.backends import opencode_client
from open_agent_jupyter.backends.opencode import OpenCodeBackend, opencode_reachable, stop_session
from open_agent_jupyter.backends.opencode_client import OpenCodeClient
from open_agent_jupyter.config import Settings
from open_agent_jupyter.types import Outcome, RunState
from tests.backends.opencode_server import OpenCodeServer, free_port
from tests.backends.proxy import Proxy
from tests.fakellm import FakeLLM, call, fault, text
from tests.process_utils import Recorder

opencode = pytest.mark.opencode


async def run(settings: Settings, task: str = "do it",
              sink: Recorder | None = None) -> tuple[Outcome, Recorder, RunState]:
    sink = sink or Recorder()
    state = RunState()
    outcome = await asyncio.wait_for(OpenCodeBackend().run(task, settings, sink, state), 90)
    return outcome, sink, state


def tool_names(llm: FakeLLM) -> dict[str, list[str]]:
    tools = llm.chat_requests()[0]["tools"]
    return {t["function"]["name"]: list(t["function"]["parameters"].get("properties", {}))
            for t in tools}


@opencode
async def test_task_writes_file_and_runs_command(oc_settings: Settings, llm: FakeLLM) -> None:
    work = Path(oc_settings.working_dir)
    llm.script(
        call("write", {"filePath": str(work / "hello.py"), "content": "print('hi')\n"},
             content="I will write the script."),
        call("bash", {"command": "python3 hello.py > out.txt", "description": "run it"}),
        text("Wrote hello.py and ran it."),
    )
    outcome, sink, state = await run(oc_settings, "Write hello.py and run it")

    assert outcome.status == "completed", (outcome, [e.to_dict() for e in sink.entries])
    assert outcome.result == "Wrote hello.py and ran it."
    assert (work / "hello.py").read_text() == "print('hi')\n"
    assert (work / "out.txt").read_text() == "hi\n"
    names = tool_names(llm)
    assert {"filePath", "content"} <= set(names["write"]) and "command" in names["bash"]
    assert "question" not in names  # denied for headless sessions
    calls = sink.of("tool_call")
    assert [(c.tool, c.arguments) for c in calls] == [
        ("write", {"filePath": str(work / "hello.py"), "content": "print('hi')\n"}),
        ("bash", {"command": "python3 hello.py > out.txt", "description": "run it"}),
    ]
    results = sink.of("tool_result")
    assert [(r.tool, r.ok, r.call_id) for r in results] == [
        ("write", True, calls[0].call_id), ("bash", True, calls[1].call_id)]
    assert all(r.duration_ms is not None and r.duration_ms >= 0 for r in results)
    kinds = [e.entry_type for e in sink.entries]
    assert kinds == ["thinking", "tool_call", "tool_result", "tool_call", "tool_result",
                     "response"]
    assert sink.of("thinking")[0].content == "I will write the script."
    assert state.iterations == 3
    assert state.usage.llm_calls == 3
    assert state.usage.prompt_tokens == 300 and state.usage.completion_tokens == 60
    assert state.usage.cost_usd == pytest.approx(3 * (100 * 3 + 20 * 15) / 1e6)


@opencode
async def test_non_permissive_task_is_denied_and_finishes(oc_settings: Settings,
                                                          llm: FakeLLM) -> None:
    settings = oc_settings.with_overrides(opencode_permissive=False)
    llm.script(call("bash", {"command": "touch made.txt", "description": "make"}),
               text("I could not run the command."))
    outcome, sink, _ = await run(settings)

    assert outcome.status == "completed"
    assert outcome.result == "I could not run the command."
    assert not (Path(settings.working_dir) / "made.txt").exists()
    denied = [e for e in sink.of("error") if "permission" in e.content]
    assert len(denied) == 1 and "bash" in denied[0].content
    result = sink.of("tool_result")[0]
    assert result.ok is False and "OPENCODE_PERMISSIVE" in result.content
    # The model was told why, and went on.
    last = llm.chat_requests()[-1]["messages"]
    assert any("OPENCODE_PERMISSIVE" in str(m.get("content")) for m in last)


@opencode
async def test_permissive_task_is_not_asked(oc_settings: Settings, llm: FakeLLM) -> None:
    llm.script(call("bash", {"command": "touch made.txt", "description": "make"}), text("ok"))
    outcome, sink, _ = await run(oc_settings)

    assert outcome.status == "completed"
    assert (Path(oc_settings.working_dir) / "made.txt").exists()
    assert not sink.of("error")


async def pending_permissions(server: OpenCodeServer, directory: str) -> list[dict]:
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(server.url + "/permission", params={"directory": directory})
        return resp.json()


async def busy_sessions(server: OpenCodeServer, directory: str) -> dict:
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(server.url + "/session/status", params={"directory": directory})
        return resp.json()


@opencode
async def test_stop_during_slow_reply_cancels(oc_settings: Settings, llm: FakeLLM,
                                              opencode_server: OpenCodeServer) -> None:
    llm.script(text("too late", delay=5))
    sink, state = Recorder(), RunState()
    task = asyncio.create_task(OpenCodeBackend().run("slow", oc_settings, sink, state))
    for _ in range(300):
        if llm.chat_requests():
            break
        await asyncio.sleep(0.05)
    assert llm.chat_requests(), "OpenCode never called the LLM"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)

    assert await pending_permissions(opencode_server, oc_settings.working_dir) == []
    assert await busy_sessions(opencode_server, oc_settings.working_dir) == {}
    assert not sink.of("response")


@opencode
async def test_watchdog_fails_a_silent_session(oc_settings: Settings, llm: FakeLLM,
                                               opencode_server: OpenCodeServer) -> None:
    settings = oc_settings.with_overrides(opencode_idle_timeout=1.0)
    llm.script(text("too late", delay=4))
    outcome, sink, _ = await run(settings)

    assert outcome.status == "failed"
    assert "OPENCODE_IDLE_TIMEOUT" in (outcome.error or "")
    assert sink.of("error")[-1].content == outcome.error
    assert await busy_sessions(opencode_server, settings.working_dir) == {}


async def test_unreachable_server_fails_clearly(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = Settings(backend="opencode", opencode_base_url=url, working_dir=str(tmp_path))
    outcome, sink, _ = await run(settings)

    assert outcome.status == "failed"
    assert "OPENCODE_BASE_URL" in (outcome.error or "") and url in (outcome.error or "")
    assert [e.entry_type for e in sink.entries] == ["error"]
    assert await opencode_reachable(settings) is False


@opencode
async def test_reachable(oc_settings: Settings) -> None:
    assert await opencode_reachable(oc_settings) is True


async def wait_for(predicate, what: str, tries: int = 400) -> None:
    for _ in range(tries):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@opencode
async def test_dropped_stream_is_reconciled_without_duplicates(
        oc_settings: Settings, llm: FakeLLM, opencode_server: OpenCodeServer) -> None:
    work = Path(oc_settings.working_dir)
    proxy = await Proxy(opencode_server.port).start()
    settings = oc_settings.with_overrides(opencode_base_url=proxy.url)
    llm.script(call("write", {"filePath": str(work / "a.txt"), "content": "a"}),
               call("bash", {"command": "echo hi", "description": "say hi"}, delay=0.5),
               text("All done."))
    sink, state = Recorder(), RunState()
    task = asyncio.create_task(OpenCodeBackend().run("two steps", settings, sink, state))
    try:
        async def second_call() -> bool:
            return len(llm.chat_requests()) >= 2
        await wait_for(second_call, "the second LLM call")
        proxy.refusing = True
        proxy.cut()  # the rest of the turn happens while we are disconnected

        async def turn_done() -> bool:
            return len(llm.chat_requests()) >= 3 and not await busy_sessions(
                opencode_server, str(work))
        await wait_for(turn_done, "the turn to end")
        assert not task.done()
        proxy.refusing = False
        outcome = await asyncio.wait_for(task, 30)
    finally:
        task.cancel()
        await proxy.close()

    assert outcome.status == "completed" and outcome.result == "All done."
    assert [c.tool for c in sink.of("tool_call")] == ["write", "bash"]
    assert [(r.tool, r.ok) for r in sink.of("tool_result")] == [("write", True), ("bash", True)]
    assert [r.content for r in sink.of("response")] == ["All done."]
    assert state.iterations == 3 and state.usage.llm_calls == 3


@opencode
async def test_lost_stream_fails_clearly(oc_settings: Settings, llm: FakeLLM,
                                         opencode_server: OpenCodeServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opencode_client, "MAX_RECONNECTS", 1)  # give up fast
    proxy = await Proxy(opencode_server.port).start()
    settings = oc_settings.with_overrides(opencode_base_url=proxy.url)
    llm.script(text("slow", delay=2))
    task = asyncio.create_task(OpenCodeBackend().run("x", settings, Recorder(), RunState()))
    try:
        async def asked() -> bool:
            return bool(llm.chat_requests())
        await wait_for(asked, "the LLM call")
        proxy.refusing = True
        proxy.cut()
        outcome = await asyncio.wait_for(task, 30)
    finally:
        task.cancel()
        await proxy.close()
    assert outcome.status == "failed"
    assert "OPENCODE_BASE_URL" in (outcome.error or "") and "event stream" in (outcome.error or "")


@opencode
async def test_stop_rejects_a_pending_permission(oc_settings: Settings, llm: FakeLLM,
                                                 opencode_server: OpenCodeServer) -> None:
    llm.script(call("bash", {"command": "touch x", "description": "x"}), text("ok"))
    async with httpx.AsyncClient() as http:
        client = OpenCodeClient(http, opencode_server.url, oc_settings.working_dir)
        # A session nobody answers: bash needs approval (server config), so it waits.
        sid = await client.create_session("pending", [])
        await client.prompt(sid, "touch x", "build", {"providerID": "fake", "modelID": "fake-model"})

        async def waiting() -> bool:
            return bool(await client.pending("permission", sid))
        await wait_for(waiting, "the permission request")
        await stop_session(client, sid)
        assert await client.pending("permission", sid) == []

        async def idle() -> bool:
            return not await client.is_busy(sid)
        await wait_for(idle, "the session to stop")
    assert not (Path(oc_settings.working_dir) / "x").exists()


@opencode
async def test_two_tasks_in_one_directory_keep_their_own_events(oc_settings: Settings,
                                                                llm: FakeLLM) -> None:
    # Unscripted, the fake LLM answers "Done." (its default) to both.
    (o1, s1, _), (o2, s2, _) = await asyncio.gather(run(oc_settings, "one"),
                                                    run(oc_settings, "two"))
    assert o1.status == o2.status == "completed"
    assert o1.result == o2.result == "Done."
    assert [e.to_dict()["content"] for e in s1.entries + s2.entries] == ["Done.", "Done."]
    assert len(llm.chat_requests()) == 2


@opencode
async def test_watchdog_names_a_failing_llm_that_opencode_retries(oc_settings: Settings,
                                                                  llm: FakeLLM) -> None:
    settings = oc_settings.with_overrides(opencode_idle_timeout=3.0)
    llm.script(*[fault(503, "upstream overloaded")] * 10)
    outcome, sink, _ = await run(settings)

    assert outcome.status == "failed"
    assert "OPENCODE_IDLE_TIMEOUT" in (outcome.error or "")
    assert "retrying its LLM call" in (outcome.error or "")
    assert any("retries its LLM call" in e.content for e in sink.of("thinking"))


@opencode
@pytest.mark.parametrize(("override", "variable"), [
    ({"opencode_agent": "no-such-agent"}, "OPENCODE_AGENT"),
    ({"model": "nosuch/model"}, "DEFAULT_MODEL"),
])
async def test_refused_agent_or_model_fails_fast_naming_the_setting(
        oc_settings: Settings, llm: FakeLLM, override: dict, variable: str) -> None:
    # A long watchdog: the task must end on OpenCode's error, not on the watchdog.
    settings = oc_settings.with_overrides(opencode_idle_timeout=120.0, **override)
    outcome, sink, _ = await run(settings)

    assert outcome.status == "failed"
    assert "not found" in (outcome.error or "") and variable in (outcome.error or "")
    assert sink.of("error") and not llm.chat_requests()


@opencode
async def test_iteration_limit_aborts_the_session(oc_settings: Settings, llm: FakeLLM,
                                                  opencode_server: OpenCodeServer) -> None:
    settings = oc_settings.with_overrides(max_iterations=1)
    work = Path(settings.working_dir)
    llm.script(call("write", {"filePath": str(work / "a.txt"), "content": "a"}),
               call("write", {"filePath": str(work / "b.txt"), "content": "b"}, delay=1.0),
               text("done"))
    outcome, _, state = await run(settings)

    assert outcome.status == "failed" and "max_iterations (1)" in (outcome.error or "")
    assert (work / "a.txt").exists() and not (work / "b.txt").exists()
    assert state.iterations == 1 and llm.pending >= 1  # "done" was never asked for
    assert await busy_sessions(opencode_server, str(work)) == {}


@opencode
async def test_budget_aborts_the_session(oc_settings: Settings, llm: FakeLLM) -> None:
    # Each fake step costs (100*3 + 20*15)/1e6 USD = 0.06 cents.
    settings = oc_settings.with_overrides(budget_cents=1)
    work = Path(settings.working_dir)
    llm.script(call("write", {"filePath": str(work / "a.txt"), "content": "a"},
                    prompt_tokens=5000), text("done"))
    outcome, _, state = await run(settings)

    assert outcome.status == "failed" and "budget" in (outcome.error or "")
    assert state.usage.cost_usd * 100 >= 1
