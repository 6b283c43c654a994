"""Small shared value types and the Protocols the layers meet through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from .agent.events import LogEntry
    from .config import Settings

FinalStatus = Literal["completed", "failed", "cancelled"]


@dataclass
class Usage:
    """Tokens and money spent; added up over the LLM calls of a task."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0

    def add(self, other: Usage) -> None:
        """Add another usage record to this one in place."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_tokens += other.cached_tokens
        self.cost_usd += other.cost_usd
        self.llm_calls += other.llm_calls

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (cost rounded to 1e-6 USD)."""
        data = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 6)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        """Build from ``to_dict()`` output, ignoring unknown keys."""
        data = data or {}
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class RunState:
    """What a running task has done so far; a backend updates it as it goes.

    The task layer reads it at any time (``GET /api/task/{id}`` while running)
    and after a cancellation, when no ``Outcome`` is returned.
    """

    iterations: int = 0
    usage: Usage = field(default_factory=Usage)
    estimate: dict[str, Any] | None = None
    #: The task's kernel and notebooks (the notebook tools), injected by the surface.
    notebook: NotebookContext | None = None
    #: Reviews each tool call before it runs (``agent.approval.Gate``); None: all allowed.
    approver: Approver | None = None
    #: Calls in flight now, by key (``"llm"`` or a tool's call id): ``{"phase": "llm" |
    #: "tool", "call_id"?, "since": ISO-8601}``; the task stream turns it into progress events.
    in_flight: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Outcome:
    """How a backend's run ended."""

    status: FinalStatus
    result: str | None = None
    error: str | None = None


class Approver(Protocol):
    """Says whether a tool call may run (the approval policy, asking a person if needed)."""

    async def review(self, call_id: str, tool: str, arguments: dict[str, Any]) -> str | None:
        """None when the call may run; else the denial (with its message) the model reads."""
        ...

    def allows_everything(self) -> bool:
        """Whether every call is allowed without looking (no rules, the ``auto`` preset)."""
        ...


class ApprovalDesk(Protocol):
    """Where pending approvals are kept and answered (the task layer, or a terminal)."""

    async def opened(self, record: dict[str, Any]) -> None:
        """Keep a new pending approval (stored before it is announced)."""
        ...

    async def wait(self, record: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The answered record, or None when ``timeout`` seconds passed without an answer."""
        ...

    async def settled(self, record: dict[str, Any]) -> None:
        """Keep the record's final state."""
        ...


class LogSink(Protocol):
    """Receives log entries as they happen (the task layer stores and fans them out)."""

    async def __call__(self, entry: LogEntry) -> None: ...


class Backend(Protocol):
    """Runs one task to its end. Cancelling the awaiting asyncio task stops it.

    On cancellation a backend cleans up (kills commands, aborts remote sessions)
    and re-raises ``asyncio.CancelledError``.
    """

    async def run(self, task: str, settings: Settings, sink: LogSink, state: RunState) -> Outcome:
        """Run ``task`` and return how it ended; never raise for an ordinary failure."""
        ...


@dataclass
class ToolCall:
    """A tool call the model asked for; ``arguments`` is the raw JSON text it sent."""

    id: str
    name: str
    arguments: str


@dataclass
class Completion:
    """One assistant turn from the LLM."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None

    def message(self) -> dict[str, Any]:
        """The assistant message to append to the conversation."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return msg


class ChatModel(Protocol):
    """An LLM the loop can query (``llm.client.LLMClient`` is the real one)."""

    async def complete(self, messages: list[dict[str, Any]],
                       tools: list[dict[str, Any]]) -> Completion:
        """One chat-completions call; raises ``LLMError`` subclasses after retries."""
        ...


#: Receives a running call's or cell's output as it comes: ``(stream name, text)``; a tool
#: finds the one of its call in ``ToolContext.output`` (the seam is in ``agent.output``).
OutputSink = Callable[[str, str], Awaitable[None]]


@dataclass
class CodeRun:
    """What running code produced: nbformat-4 outputs, in order (stream, display_data,
    execute_result, error), and whether it ended by itself."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    #: ``ok``, ``error`` (an exception, including an interrupt) or ``aborted``.
    status: str = "ok"


class KernelAccess(Protocol):
    """A kernel the notebook tools run code in (the user's, or the task's own).

    Code runs in a subshell of its own, so it runs while the notebook's main shell is
    busy (a cell waiting on ``%agent``) and shares the user's variables. Failures raise
    ``exceptions.KernelError`` (``KernelDiedError`` when the kernel dies meanwhile).
    """

    async def run(self, code: str, sink: OutputSink | None = None) -> CodeRun:
        """Run ``code``; stream output goes to ``sink`` as it comes. One run at a time."""
        ...

    async def interrupt(self) -> None:
        """Stop the code ``run`` is running now (only it: the kernel and variables stay)."""
        ...

    async def variables(self) -> list[dict[str, Any]]:
        """The user's variables: name, type, shape/len/dtype where they exist, short repr."""
        ...

    async def last_error(self) -> str | None:
        """The kernel's last uncaught error (``ename: evalue``) as IPython recorded it."""
        ...

    async def close(self) -> None:
        """Release what the access holds (its subshell; a kernel started for the task)."""
        ...


@dataclass
class NotebookEdit:
    """One change to a notebook's cells (DESIGN.md §12.2 gives the semantics)."""

    action: Literal["insert", "replace", "delete"]
    cell_id: str | None = None
    index: int | None = None
    source: str | None = None
    cell_type: Literal["code", "markdown"] = "code"


class NotebookAccess(Protocol):
    """Notebooks the notebook tools read and edit; paths as the task's surface names them.

    Failures (missing file, malformed notebook, unknown cell) raise
    ``exceptions.NotebookError`` and leave the file untouched.
    """

    async def read(self, path: str) -> dict[str, Any]:
        """The notebook at ``path`` as nbformat-4 JSON (a dict)."""
        ...

    async def edit(self, path: str, edit: NotebookEdit) -> str:
        """Apply ``edit`` and say how it was written (and what an open editor must do)."""
        ...


@dataclass
class NotebookContext:
    """What the notebook tools of one task reach: its kernel, notebooks and notebook."""

    kernel: KernelAccess
    notebooks: NotebookAccess
    #: The task's notebook (the default of read_notebook / edit_notebook), if any.
    path: str | None = None
    #: True when the kernel is the user's own (attached), not one started for the task.
    attached: bool = False


class NotebookContextFactory(Protocol):
    """Makes a task's ``NotebookContext`` (a surface gives one to the task manager)."""

    def __call__(self, kernel_id: str | None, notebook: str | None, settings: Settings,
                 task_id: str = "") -> NotebookContext:
        """The context of task ``task_id``, attached to ``kernel_id``/``notebook`` (or not)."""
        ...
