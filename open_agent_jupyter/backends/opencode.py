"""The ``opencode`` backend: delegate a task to an OpenCode server (``opencode serve``).

Per task it creates a session in the task's working directory, subscribes to the
server's event stream, sends the task with ``prompt_async`` and translates the events
into our log as they come (see ``opencode_events``) until the session goes idle.

Decisions where the contract is silent:

- Model: a ``DEFAULT_MODEL``/``model`` of the form ``provider/model`` is sent as
  ``{"providerID": "provider", "modelID": "model"}`` (split at the first ``/``, so
  ``openrouter/anthropic/claude-sonnet-4.5`` names OpenCode's ``openrouter`` provider);
  a name without ``/`` is not sent, and OpenCode uses its own default model.
- Permissions: a task with an approval gate (``RunState.approver``, which the task
  layer and ``open-agent run`` always set) has each permission request decided by its
  policy (``opencode_permissions``): allowed, denied with the reason as the message the
  model reads, or asked of a person first. Without a gate: with
  ``OPENCODE_PERMISSIVE=true`` the session is created with a ruleset allowing everything
  (a request that still comes is allowed once, logged as ``thinking``); otherwise every
  ``permission.asked`` is rejected with a message the model reads and logged as an
  ``error`` entry. The ``question`` tool is denied in both modes, and a question that
  comes anyway is refused: a headless task has nobody to answer it.
- Limits: ``MAX_ITERATIONS`` (OpenCode steps, i.e. LLM calls) and ``BUDGET_CENTS`` (the
  cost OpenCode reports; 0 = no budget) are enforced by aborting the session when the last
  allowed step ends with tool calls or the cost reaches the budget; the task fails.
- Watchdog: no event for the session during ``OPENCODE_IDLE_TIMEOUT`` seconds (a silent
  LLM, a hung tool, OpenCode retrying a failing provider forever) aborts the session
  and fails the task.
- Stop (the awaiting asyncio task is cancelled): the session is aborted, permission and
  question requests still pending for it are rejected, and ``CancelledError`` goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx

from ..agent.events import LogEntry
from ..config import Settings
from ..exceptions import AgentStop, BudgetExceeded, IterationLimitReached, OpenCodeError
from ..httpclient import async_client
from ..types import LogSink, Outcome, RunState
from .opencode_client import RECONNECTED, EventStream, OpenCodeClient, StreamLost
from .opencode_events import Translator
from .opencode_permissions import ALLOW_ALL, NO_QUESTIONS, as_tool_call, session_rules

#: What the model reads when a permission is rejected (non-permissive mode).
DENIAL = ("Denied: this task runs headless with OPENCODE_PERMISSIVE=false, so nobody can "
          "approve this. Do the task without it, or explain what is needed.")
HEALTH_TIMEOUT = httpx.Timeout(3.0, connect=2.0)
#: Timeouts of the clean-up calls after a stop or a failure.
CLEANUP_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class OpenCodeBackend:
    """Runs a task on the OpenCode server at ``settings.opencode_base_url``."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._http = http

    async def run(self, task: str, settings: Settings, sink: LogSink, state: RunState) -> Outcome:
        """Run ``task`` in an OpenCode session; a failure is an Outcome, a stop re-raises."""
        async with contextlib.AsyncExitStack() as stack:
            http = self._http or await stack.enter_async_context(async_client())
            return await _Run(task, settings, sink, state, http).execute()


async def opencode_reachable(settings: Settings, http: httpx.AsyncClient | None = None) -> bool:
    """Whether the OpenCode server answers ``GET /global/health`` as healthy; never raises."""
    url = settings.opencode_base_url.rstrip("/") + "/global/health"
    try:
        async with contextlib.AsyncExitStack() as stack:
            client = http or await stack.enter_async_context(async_client())
            resp = await client.get(url, timeout=HEALTH_TIMEOUT)
            data = resp.json()
    except (httpx.HTTPError, ValueError):
        return False
    return resp.status_code == 200 and isinstance(data, dict) and bool(data.get("healthy"))


def model_ref(model: str) -> dict[str, str] | None:
    """``provider/model`` as OpenCode's model reference; None for a bare name."""
    provider, sep, model_id = model.strip().partition("/")
    return {"providerID": provider, "modelID": model_id} if sep and provider and model_id else None


def ruleset(permissive: bool) -> list[dict[str, str]]:
    """The session's permission rules without an approval gate (OPENCODE_PERMISSIVE)."""
    return ([ALLOW_ALL] if permissive else []) + [NO_QUESTIONS]


def session_permission(settings: Settings, state: RunState) -> list[dict[str, str]]:
    """The session's rules: from the task's approval policy when it has one."""
    if state.approver is None:
        return ruleset(settings.opencode_permissive)
    return session_rules(state.approver.allows_everything())


class _Run:
    """One task's delegation: session, event stream, translation, clean-up."""

    def __init__(self, task: str, settings: Settings, sink: LogSink, state: RunState,
                 http: httpx.AsyncClient) -> None:
        self.task, self.settings, self.sink, self.state = task, settings, sink, state
        directory = Path(settings.working_dir).expanduser().resolve()
        self.directory = directory
        self.client = OpenCodeClient(http, settings.opencode_base_url, str(directory))
        self.stream = EventStream(self.client)
        self.session_id: str | None = None
        self.tr = Translator("", state)
        self._answered: set[str] = set()

    async def execute(self) -> Outcome:
        """The whole run; see the module docstring."""
        if not self.directory.is_dir():
            return await self._fail(f"WORKING_DIR {self.directory} is not a directory")
        try:
            self.session_id = await self.client.create_session(
                f"Open Agent: {self.task.strip()[:80]}", session_permission(self.settings, self.state))
            self.tr = Translator(self.session_id, self.state)
            await self.stream.open()
            try:
                await self.client.prompt(self.session_id, self.task, self.settings.opencode_agent,
                                         model_ref(self.settings.model))
                await self._follow()
                # The stored messages are complete once idle; events may still be in flight.
                await self._log(self.tr.reconcile(await self.client.messages(self.session_id)))
            finally:
                await self.stream.close()
        except asyncio.CancelledError:
            await self._stop_session()
            raise
        except (OpenCodeError, AgentStop) as exc:
            await self._stop_session()
            return await self._fail(str(exc))
        await self._log(self.tr.finish())
        if self.tr.error:
            return Outcome("failed", result=self.tr.result, error=with_hint(self.tr.error))
        return Outcome("completed", result=self.tr.result or "")

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        limit = self.settings.opencode_idle_timeout
        last = loop.time()
        while not self.tr.idle:
            left = last + limit - loop.time()
            if left <= 0:
                raise OpenCodeError(self._stalled(limit))
            try:
                item = await asyncio.wait_for(self.stream.get(), left)
            except asyncio.TimeoutError:
                continue
            if isinstance(item, StreamLost):
                raise OpenCodeError(item.reason)
            if item is RECONNECTED:
                await self._reconcile()
                last = loop.time()
            elif isinstance(item, dict) and self.tr.concerns(item):
                if self.tr.shows_progress(item):
                    last = loop.time()
                await self._on_event(item)
                if item.get("type") == "permission.asked":
                    last = loop.time()  # time spent waiting for a person is not idleness

    def _stalled(self, limit: float) -> str:
        reason = (f"the OpenCode session showed no activity for {limit:g} s "
                  "(OPENCODE_IDLE_TIMEOUT) and was aborted")
        if self.tr.last_retry is not None:
            reason += f"; OpenCode was retrying its LLM call: {self.tr.last_retry}"
        return reason

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        props = event.get("properties") or {}
        if kind == "permission.asked":
            await self._answer_permission(props)
        elif kind == "question.asked":
            await self._refuse_question(props)
        else:
            await self._log(self.tr.handle(event))
            self._check_limits()
            # A turn that fails before it starts (unknown agent) never goes busy or idle.
            if kind == "session.error" and not self.tr.busy_seen:
                assert self.session_id is not None
                if not await self.client.is_busy(self.session_id):
                    self.tr.busy_seen = self.tr.idle = True

    async def _reconcile(self) -> None:
        """After a reconnection: log what was missed, answer what was asked meanwhile."""
        assert self.session_id is not None
        messages = await self.client.messages(self.session_id)
        await self._log(self.tr.reconcile(messages))
        for request in await self.client.pending("permission", self.session_id):
            await self._answer_permission(request)
        for request in await self.client.pending("question", self.session_id):
            await self._refuse_question(request)
        if not await self.client.is_busy(self.session_id) and turn_over(messages):
            self.tr.busy_seen = self.tr.idle = True
        self._check_limits()

    async def _answer_permission(self, request: dict[str, Any]) -> None:
        rid = str(request.get("id"))
        if rid in self._answered:
            return
        self._answered.add(rid)
        if self.state.approver is not None:
            denial = await self.state.approver.review(*as_tool_call(request))
            reply, message = ("once", None) if denial is None else ("reject", denial)
            with contextlib.suppress(OpenCodeError):
                await self.client.reply_permission(rid, reply, message)
            return
        what = " ".join([str(request.get("permission", "?"))] + list(request.get("patterns") or []))
        if self.settings.opencode_permissive:
            await self._log([LogEntry("thinking", f"OpenCode asked permission for {what}: "
                                                  "allowed (OPENCODE_PERMISSIVE=true)")])
            reply, message = "once", None
        else:
            await self._log([LogEntry("error", f"OpenCode asked permission for {what}: denied, "
                                               "OPENCODE_PERMISSIVE is false")])
            reply, message = "reject", DENIAL
        # A request answered meanwhile (or gone) is not worth failing the task for.
        with contextlib.suppress(OpenCodeError):
            await self.client.reply_permission(rid, reply, message)

    async def _refuse_question(self, request: dict[str, Any]) -> None:
        rid = str(request.get("id"))
        if rid in self._answered:
            return
        self._answered.add(rid)
        asked = json.dumps(request.get("questions") or [], ensure_ascii=False)[:300]
        await self._log([LogEntry("error", f"OpenCode asked a question, refused (a headless "
                                           f"task cannot answer): {asked}")])
        with contextlib.suppress(OpenCodeError):
            await self.client.reject_question(rid)

    def _check_limits(self) -> None:
        """Abort when OpenCode would take one step too many or spent the budget (0 = none)."""
        limit, budget = self.settings.max_iterations, self.settings.budget_cents
        steps = self.state.iterations
        if steps > limit or (steps == limit and self.tr.more_steps):
            raise IterationLimitReached(f"stopped after max_iterations ({limit}) OpenCode steps "
                                        "without a final answer; the session was aborted")
        spent_cents = self.state.usage.cost_usd * 100
        if budget and spent_cents >= budget:
            raise BudgetExceeded(f"budget spent: {spent_cents:.2f} of {budget} cents "
                                 "(budget_cents) used; the OpenCode session was aborted")

    async def _stop_session(self) -> None:
        if self.session_id is not None:
            await stop_session(self.client, self.session_id)

    async def _fail(self, reason: str) -> Outcome:
        await self._log(self.tr.release() + [LogEntry("error", reason)])
        return Outcome("failed", result=self.tr.result, error=reason)

    async def _log(self, entries: list[LogEntry]) -> None:
        for entry in entries:
            await self.sink(entry)


async def stop_session(client: OpenCodeClient, session_id: str) -> None:
    """Abort a session and reject what it still waits for; best effort, short timeouts."""
    client.timeout = CLEANUP_TIMEOUT
    with contextlib.suppress(OpenCodeError):
        await client.abort(session_id)
    # A permission pending at abort time stays listed until someone answers it.
    with contextlib.suppress(OpenCodeError):
        for request in await client.pending("permission", session_id):
            await client.reply_permission(str(request["id"]), "reject", None)
        for request in await client.pending("question", session_id):
            await client.reject_question(str(request["id"]))


#: Setting to name when OpenCode refuses one of ours.
_HINTS = {"Agent not found": "OPENCODE_AGENT", "Model not found": "DEFAULT_MODEL"}


def with_hint(error: str) -> str:
    """An OpenCode error, naming our setting that caused it when that is clear."""
    for needle, variable in _HINTS.items():
        if needle in error:
            return f"{error} (check {variable})"
    return error


def turn_over(messages: list[dict[str, Any]]) -> bool:
    """Whether the stored messages end with a finished assistant message."""
    if not messages:
        return False
    info = messages[-1].get("info") or {}
    return info.get("role") == "assistant" and bool(
        (info.get("time") or {}).get("completed") or info.get("error"))
