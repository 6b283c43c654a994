"""Small shared value types and the Protocols the layers meet through."""

from __future__ import annotations

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


@dataclass
class Outcome:
    """How a backend's run ended."""

    status: FinalStatus
    result: str | None = None
    error: str | None = None


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
