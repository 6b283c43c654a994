"""The agent: one short loop, ``run → step → query → execute``.

``Agent`` gets its LLM, tools, tool context, log sink and run state in its
constructor. The loop ends when the model answers without tools (``completed``),
at ``max_iterations`` or when the budget is spent (``failed``), on an LLM error
that retries could not fix (``failed``), or when its asyncio task is cancelled
(the running commands' process groups are killed by the shell tool).
``LocalBackend`` wires the real pieces together for the task layer and the CLI.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from ..config import Settings
from ..exceptions import (
    AgentStop,
    BadRequestError,
    BudgetExceeded,
    IterationLimitReached,
    LLMError,
    LLMTransientError,
)
from ..httpclient import async_client
from ..tools import default_registry
from ..tools.base import ToolContext, ToolRegistry, ToolResult
from ..types import ChatModel, Completion, LogSink, Outcome, RunState, ToolCall
from .context import elide_old_results
from .events import OPTIONAL_FIELDS, LogEntry, notice, now_iso
from .images import image_message, strip_images
from .output import CallOutput
from .prompt import system_prompt

NO_API_KEY = ("no API key: set OPENROUTER_API_KEY (e.g. `export OPENROUTER_API_KEY=sk-or-...`; "
              "any non-empty value for a local endpoint that needs none)")


class Finished(Exception):
    """The model answered without calling a tool."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


class Agent:
    """Runs one task: queries the model and executes its tool calls until it answers."""

    def __init__(self, llm: ChatModel, tools: ToolRegistry, ctx: ToolContext,
                 sink: LogSink, state: RunState) -> None:
        self.llm, self.tools, self.ctx, self.sink, self.state = llm, tools, ctx, sink, state
        self.settings: Settings = ctx.settings
        self.messages: list[dict[str, Any]] = []
        #: False once the endpoint refused an image: descriptions go instead.
        self.images_ok = True
        #: estimate figures already reported as passed (a notice says so once each)
        self.passed: set[str] = set()

    async def run(self, task: str) -> Outcome:
        """Run ``task`` to its end and say how it ended."""
        self.messages = [
            {"role": "system", "content": system_prompt(self.ctx.working_dir,
                                                        self.ctx.notebook)},
            {"role": "user", "content": task},
        ]
        while True:
            try:
                await self.step()
            except Finished as done:
                return Outcome("completed", result=done.answer)
            except (AgentStop, LLMError) as exc:
                reason = getattr(exc, "message", None) or str(exc)
                await self.sink(LogEntry("error", reason))
                return Outcome("failed", error=reason)

    async def step(self) -> None:
        """One iteration: check the limits, ask the model, run what it asked for."""
        self.check_limits()
        completion = await self.query()
        await self.note_estimate()
        await self.execute(completion)

    def check_limits(self) -> None:
        """Raise ``AgentStop`` when the iteration limit or the budget is reached."""
        limit, budget = self.settings.max_iterations, self.settings.budget_cents
        if self.state.iterations >= limit:
            raise IterationLimitReached(
                f"stopped after max_iterations ({limit}) without a final answer"
            )
        spent_cents = self.state.usage.cost_usd * 100
        if budget and spent_cents >= budget:
            raise BudgetExceeded(
                f"budget spent: {spent_cents:.2f} of {budget} cents (budget_cents) used"
            )

    async def query(self) -> Completion:
        """Ask the model for its next turn and record the usage."""
        self.state.iterations += 1
        limit = self.settings.context_tokens
        elided = elide_old_results(self.messages, limit)
        if elided:
            await self.sink(notice("elision", f"{elided} earlier tool result(s) elided to keep "
                                   f"the context under {limit:,} tokens (CONTEXT_TOKENS)",
                                   elided=elided, context_tokens=limit))
        self.state.in_flight["llm"] = {"phase": "llm", "since": now_iso()}
        try:
            completion = await self.complete()
        finally:
            self.state.in_flight.pop("llm", None)
        self.state.usage.add(completion.usage)
        self.messages.append(completion.message())
        return completion

    async def complete(self) -> Completion:
        """One LLM call; an endpoint that refuses images gets text descriptions instead."""
        try:
            return await self.llm.complete(self.messages, self.tools.schemas())
        except BadRequestError:
            if not strip_images(self.messages):
                raise
            self.images_ok = False  # this endpoint takes no images: text descriptions instead
            return await self.llm.complete(self.messages, self.tools.schemas())

    async def note_estimate(self) -> None:
        """Say once when the task goes past its estimated iterations or cost."""
        estimate = self.state.estimate or {}
        actual = {"iterations": self.state.iterations, "cost_usd": self.state.usage.cost_usd}
        for key, label in (("iterations", "iterations"), ("cost_usd", "cost (USD)")):
            expected = estimate.get(key)
            if key in self.passed or not expected or actual[key] <= expected:
                continue
            self.passed.add(key)
            await self.sink(notice("estimate", f"past the estimate: {label} {actual[key]:.4g} "
                                   f"(estimated {expected:.4g})", figure=key,
                                   estimated=expected, actual=actual[key]))

    async def execute(self, completion: Completion) -> None:
        """Run the turn's tool calls concurrently and feed the results back in call order."""
        if not completion.tool_calls:
            await self.sink(LogEntry("response", completion.content))
            raise Finished(completion.content)
        if completion.content.strip():
            await self.sink(LogEntry("thinking", completion.content))
        for call in completion.tool_calls:
            await self.sink(LogEntry("tool_call", _summary(call), tool=call.name,
                                     call_id=call.id, arguments=_arguments(call)))
        # Every call passes the approval gate before any runs: an asked call holds the turn.
        denials = [await self.review(call) for call in completion.tool_calls]
        results = await asyncio.gather(*(
            self.run_tool(call) if denied is None else self.refuse(call, denied)
            for call, denied in zip(completion.tool_calls, denials, strict=True)))
        for call, result in zip(completion.tool_calls, results, strict=True):
            self.messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": result.for_model()}
            )
        shown = [(call, r.images) for call, r in zip(completion.tool_calls, results, strict=True)
                 if r.images]
        if shown and self.images_ok:
            strip_images(self.messages)  # only the latest images are sent again
            self.messages.append(image_message(shown))

    async def review(self, call: ToolCall) -> str | None:
        """None when the call may run (no approver, or it allows); else the denial."""
        approver = self.state.approver
        if approver is None:
            return None
        return await approver.review(call.id, call.name, _arguments(call))

    async def refuse(self, call: ToolCall, denial: str) -> ToolResult:
        """The result of a call that was not approved (the model reads why)."""
        result = ToolResult.error(denial)
        await self.sink(LogEntry("tool_result", result.output, tool=call.name, call_id=call.id,
                                 ok=False, duration_ms=0.0))
        return result

    async def run_tool(self, call: ToolCall) -> ToolResult:
        """Execute one call (never raises but for cancellation) and log its result."""
        output = CallOutput(self.sink, call.name, call.id)
        self.state.in_flight[call.id] = {"phase": "tool", "call_id": call.id, "since": now_iso()}
        started = time.perf_counter()
        try:
            result = await self.tools.execute(call.name, call.arguments,
                                              self.ctx.with_output(output))
        finally:
            self.state.in_flight.pop(call.id, None)
            await output.close()  # every tool_output of the call goes before its result
        duration = round((time.perf_counter() - started) * 1000, 1)
        extra = {k: v for k, v in (result.extra or {}).items() if k in OPTIONAL_FIELDS}
        await self.sink(LogEntry("tool_result", result.output, tool=call.name, call_id=call.id,
                                 ok=result.ok, duration_ms=duration, outputs=result.outputs,
                                 **extra))
        return result


class LocalBackend:
    """The default backend: our own loop against an OpenAI-compatible endpoint."""

    async def run(self, task: str, settings: Settings, sink: LogSink, state: RunState) -> Outcome:
        """Run ``task`` with the real LLM client and the 13 tools."""
        problem = _precondition(settings)
        if problem:
            await sink(LogEntry("error", problem))
            return Outcome("failed", error=problem)
        from ..llm.client import LLMClient
        from . import estimate

        async with async_client() as http:
            state.estimate = await estimate.make_estimate(task, settings, http)
            agent = Agent(LLMClient(settings, http, on_retry=retry_notifier(sink)),
                          default_registry(state.notebook is not None),
                          ToolContext(settings, http, notebook=state.notebook), sink, state)
            try:
                return await agent.run(task)
            finally:
                state.estimate = estimate.settle_estimate(state.estimate, state)


def retry_notifier(sink: LogSink) -> Any:
    """An ``on_retry`` for ``LLMClient`` that logs each retry as a ``notice``."""
    async def on_retry(attempt: int, max_retries: int, error: LLMTransientError,
                       wait: float) -> None:
        await sink(notice("retry", f"LLM call failed ({error.message}); retry {attempt} of "
                          f"{max_retries} in {wait:.1f} s", attempt=attempt,
                          max_retries=max_retries, reason=error.message,
                          wait_s=round(wait, 3)))
    return on_retry


def _precondition(settings: Settings) -> str | None:
    if not settings.api_key:
        return NO_API_KEY
    if not Path(settings.working_dir).expanduser().is_dir():
        return f"working directory does not exist: {settings.working_dir} (WORKING_DIR)"
    return None


def _arguments(call: ToolCall) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return {"_raw": call.arguments}
    return value if isinstance(value, dict) else {"_raw": call.arguments}


def _summary(call: ToolCall, width: int = 120) -> str:
    args = _arguments(call)
    parts = [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items()]
    text = f"{call.name}({', '.join(parts)})"
    return text if len(text) <= width else text[: width - 1] + "…"
