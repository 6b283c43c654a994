"""The tool contract: a name, a description, JSON-schema parameters and one async method.

A tool never raises into the loop. ``ToolRegistry.execute`` turns bad arguments
(malformed JSON, a missing or mistyped parameter, an unknown tool) and execution
failures (``ToolError`` or an ``OSError``) into a ``ToolResult`` with ``ok=False``
and a message the model can act on; any other exception is a tool's bug, logged with its
traceback and still returned as an ``ok=False`` result. Every output is capped by ``cap_text``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import fastjsonschema
import httpx

from ..config import Settings
from ..redact import redact_text, registered_secrets, secret_values
from ..types import NotebookContext, OutputSink
from . import sandbox
from .untrusted import UNTRUSTED_CLOSE, UNTRUSTED_OPEN, mark_untrusted

__all__ = ["UNTRUSTED_CLOSE", "UNTRUSTED_OPEN", "Tool", "ToolContext", "ToolError",
           "ToolRegistry", "ToolResult", "cap_text", "mark_untrusted"]

log = logging.getLogger(__name__)

#: Characters of a tool's output kept for the model and the log.
OUTPUT_LIMIT = 30_000


class ToolError(Exception):
    """An expected failure inside a tool; its message goes to the model."""


@dataclass
class ToolResult:
    """What a tool call produced. ``output`` is what the model reads."""

    ok: bool
    output: str
    #: Rich outputs for the log (nbformat ``display_data``/``execute_result`` dicts, whose
    #: ``data`` is a Jupyter MIME bundle); images already capped in size.
    outputs: list[dict[str, Any]] | None = None
    #: Images for the model as ``{"mime", "data" (base64), "description"}``.
    images: list[dict[str, str]] | None = None
    #: Extra fields for the ``tool_result`` entry (write_file: ``created``, ``diff``).
    extra: dict[str, Any] | None = None

    @classmethod
    def error(cls, message: str) -> ToolResult:
        """A failed result."""
        return cls(ok=False, output=message)

    def for_model(self) -> str:
        """The text sent back to the model."""
        return self.output if self.ok else f"Error: {self.output}"


@dataclass
class ToolContext:
    """What a tool may use: the task's settings, its working dir, an HTTP client, and
    (per call) where its output goes as it is produced (``agent.output`` describes it)."""

    settings: Settings
    http: httpx.AsyncClient | None = None
    #: The task's kernel and notebooks; None when the task has no notebook tools.
    notebook: NotebookContext | None = None
    #: The running call's live output, or None when nobody follows it.
    output: OutputSink | None = None

    def with_output(self, output: OutputSink | None) -> ToolContext:
        """A copy for one call whose live output goes to ``output``."""
        return dataclasses.replace(self, output=output)

    @property
    def working_dir(self) -> Path:
        """The task's working directory, absolute."""
        return Path(self.settings.working_dir).expanduser().resolve()

    def resolve(self, path: str | None, *, write: bool = False) -> Path:
        """Resolve ``path`` against the working dir; absolute paths stay as they are.

        With ``SANDBOX=bubblewrap`` a path the sandbox hides (``ToolError``), or one outside
        the working dir when ``write``, is refused: the file and git tools keep its walls too.
        """
        resolved = self.working_dir
        if path:
            candidate = Path(path).expanduser()
            resolved = candidate if candidate.is_absolute() else self.working_dir / candidate
        profile = sandbox.profile_for(self.settings)
        refusal = sandbox.path_refusal(profile, resolved, write) if profile else None
        if refusal:
            raise ToolError(refusal)
        return resolved

    @property
    def secrets(self) -> tuple[str, ...]:
        """What every result is scrubbed of: the LLM key and the process's registered tokens."""
        return secret_values([self.settings.api_key, *registered_secrets()])


def cap_text(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the head and tail of ``text`` within ``limit`` characters, noting what was cut."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return (
        f"{text[:head]}\n\n[... {cut} characters cut of {len(text)}; "
        f"ask for a narrower range to see them ...]\n\n{text[-tail:]}"
    )


class Tool(ABC):
    """A tool the model can call."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: JSON schema of the arguments (an object schema).
    parameters: ClassVar[dict[str, Any]]

    @abstractmethod
    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Do the work; raise ``ToolError`` (or ``OSError``) for an expected failure."""

    def schema(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry for this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class ToolRegistry:
    """The tools of a task, by name; validates arguments and never raises."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}

    @property
    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """The ``tools`` list sent to the LLM."""
        return [tool.schema() for tool in self._tools.values()]

    def parse_arguments(self, raw: str | dict[str, Any] | None) -> dict[str, Any]:
        """Decode a tool call's JSON arguments; raise ``ToolError`` if they are not an object."""
        if isinstance(raw, dict):
            return raw
        if raw is None or not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ToolError(f"arguments are not valid JSON ({exc.msg} at char {exc.pos})") from None
        if not isinstance(value, dict):
            raise ToolError("arguments must be a JSON object")
        return value

    async def execute(self, name: str, raw_arguments: str | dict[str, Any] | None,
                      ctx: ToolContext) -> ToolResult:
        """Run tool ``name``; every failure becomes an ``ok=False`` result.

        The output is capped and scrubbed of secrets (and their base64 / hex forms) here,
        before the model, the log or a stream sees it.
        """
        result = await self._run(name, raw_arguments, ctx)
        output = redact_text(result.output, ctx.secrets) or ""
        outputs = _redact_outputs(result.outputs, ctx.secrets)
        extra = {k: redact_text(v, ctx.secrets) if isinstance(v, str) else v
                 for k, v in result.extra.items()} if result.extra else result.extra
        return dataclasses.replace(result, output=cap_text(output), outputs=outputs, extra=extra)

    async def _run(self, name: str, raw_arguments: str | dict[str, Any] | None,
                   ctx: ToolContext) -> ToolResult:
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult.error(
                f"unknown tool {name!r}; available tools: {', '.join(self._tools)}"
            )
        try:
            arguments = self.parse_arguments(raw_arguments)
            _validate(tool, arguments)
            # Models sometimes add parameters of their own; the schema is the contract.
            known = tool.parameters.get("properties", {})
            return await tool.run(ctx, **{k: v for k, v in arguments.items() if k in known})
        except ToolError as exc:
            return ToolResult.error(str(exc))
        except OSError as exc:
            return ToolResult.error(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - boundary: a tool's bug must not end the task
            log.exception("tool %s failed unexpectedly", name)
            return ToolResult.error(f"{name} failed unexpectedly ({type(exc).__name__}: {exc}); "
                                    "try another way")


def _redact_outputs(outputs: list[dict[str, Any]] | None,
                    secrets: tuple[str, ...]) -> list[dict[str, Any]] | None:
    """Rich outputs with secrets masked in their text forms (images are left as they are)."""
    if not outputs or not secrets:
        return outputs
    clean = []
    for out in outputs:
        data = {mime: (redact_text(value, secrets) if isinstance(value, str)
                       and not mime.startswith("image/") else value)
                for mime, value in (out.get("data") or {}).items()}
        clean.append({**out, "data": data})
    return clean


@functools.cache
def _validator(tool_class: type[Tool]) -> Callable[[Any], Any]:
    # fastjsonschema compiles each schema once and imports in milliseconds (jsonschema
    # takes about a second, which would stall the server's loop on its first task).
    return fastjsonschema.compile(tool_class.parameters)


def _validate(tool: Tool, arguments: dict[str, Any]) -> None:
    try:
        _validator(type(tool))(arguments)
    except fastjsonschema.JsonSchemaValueException as exc:
        message = exc.message.replace("data", "arguments", 1)
        raise ToolError(f"bad arguments for {tool.name}: {message}") from None
