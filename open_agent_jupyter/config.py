"""Settings: one plain object, filled from the environment, overridable per task.

Every field names the environment variable it is read from. ``Settings.from_env()``
reads them; ``settings.with_overrides(model=..., ...)`` makes a per-task copy.
A bad value raises ``ConfigError`` whose message names the variable.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

BACKENDS = ("local", "opencode")
SANDBOXES = ("none", "bubblewrap")
#: Approval presets, loosest first (see ``agent.policy``), and the actions of a rule.
PRESETS: tuple[str, ...] = ("auto", "ask", "read-only")
ACTIONS: tuple[str, ...] = ("allow", "ask", "deny")
#: Fields a single task may override (``POST /api/task``, magic options, CLI flags).
TASK_OVERRIDES = ("model", "working_dir", "max_iterations", "budget_cents", "backend",
                  "approvals", "approval_timeout")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Everything the engine needs to run a task."""

    #: OPENROUTER_API_KEY — key for the LLM endpoint (never logged or returned).
    api_key: str | None = None
    #: OPENROUTER_BASE_URL — any OpenAI-compatible endpoint.
    base_url: str = "https://openrouter.ai/api/v1"
    #: DEFAULT_MODEL — model id sent to the endpoint.
    model: str = "anthropic/claude-sonnet-4.5"
    #: WORKING_DIR — where relative paths resolve; absolute paths reach the whole machine.
    working_dir: str = "."
    #: MAX_ITERATIONS — LLM steps allowed per task.
    max_iterations: int = 50
    #: BUDGET_CENTS — a task fails once its cost reaches this many US cents.
    budget_cents: int = 1000
    #: AGENT_BACKEND — ``local`` (our loop) or ``opencode`` (delegate to ``opencode serve``).
    backend: str = "local"
    #: OPENCODE_BASE_URL — the OpenCode server.
    opencode_base_url: str = "http://127.0.0.1:4096"
    #: OPENCODE_AGENT — OpenCode agent name.
    opencode_agent: str = "build"
    #: OPENCODE_PERMISSIVE — allow every OpenCode permission request.
    opencode_permissive: bool = True
    #: OPENCODE_IDLE_TIMEOUT — seconds without session activity before a task fails.
    opencode_idle_timeout: float = 300.0
    #: WEB_SEARCH_URL — DuckDuckGo's HTML endpoint (or a compatible one) for ``web_search``.
    web_search_url: str = "https://html.duckduckgo.com/html/"
    #: LLM_STREAM — stream answers from the LLM (``false`` for endpoints that cannot).
    stream: bool = True
    #: LLM_CONNECT_TIMEOUT — seconds to open a connection to the LLM endpoint.
    connect_timeout: float = 10.0
    #: LLM_READ_TIMEOUT — seconds of silence from the LLM before the call is retried.
    read_timeout: float = 120.0
    #: LLM_MAX_RETRIES — retries of a transient LLM failure (429, 5xx, cut stream, ...).
    max_retries: int = 4
    #: CONTEXT_TOKENS — old large tool results are elided past this estimated size.
    context_tokens: int = 100_000
    #: OPENROUTER_API_KEY_FILE — a file holding the key (read when OPENROUTER_API_KEY is unset).
    api_key_file: str | None = None
    #: ALLOW_PRIVATE_URLS — let ``fetch_url`` reach loopback, link-local and private addresses.
    allow_private_urls: bool = False
    #: SANDBOX — ``none``, or ``bubblewrap``: ``run_command`` runs inside ``bwrap``.
    sandbox: str = "none"
    #: SANDBOX_NETWORK — commands in the sandbox have the network (``false``: none at all).
    sandbox_network: bool = True
    #: APPROVALS — approval preset: ``auto``, ``ask`` or ``read-only`` (None: not set, which
    #: is ``auto``, or for OpenCode tasks what OPENCODE_PERMISSIVE says).
    approvals: str | None = None
    #: APPROVAL_RULES — ordered rules ``{"tool", "pattern", "action"}`` (JSON in the variable).
    approval_rules: tuple[dict[str, str], ...] = ()
    #: APPROVALS_MAX — the loosest preset a task may ask for.
    approvals_max: str = "auto"
    #: APPROVAL_TIMEOUT — seconds an approval waits before it expires as a denial.
    approval_timeout: float = 300.0
    #: DAILY_BUDGET_CENTS — the server's spend per day (UTC) in US cents (0 = no cap).
    daily_budget_cents: int = 0
    #: ALLOWED_MODELS — comma-separated globs of the models a task may use ("" = all).
    allowed_models: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **defaults: Any) -> Settings:
        """Read the environment (``os.environ`` unless given); ``defaults`` fill unset ones."""
        env = os.environ if env is None else env
        values: dict[str, Any] = dict(defaults)
        for f in fields(cls):
            raw = env.get(ENV_NAMES[f.name])
            if raw is not None and raw.strip() != "":
                values[f.name] = _parse(f.name, raw.strip(), ENV_NAMES[f.name])
        return cls(**values).validated()

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with per-task overrides (``None`` values are ignored), validated."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(clean) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **clean).validated()

    def validated(self) -> Settings:
        """Return self (with the key read from ``api_key_file``), or raise ``ConfigError``."""
        if self.api_key_file and not self.api_key:
            return replace(self, api_key=read_key_file(self.api_key_file)).validated()
        if self.sandbox not in SANDBOXES:
            raise ConfigError(f"SANDBOX must be one of {', '.join(SANDBOXES)}, not {self.sandbox!r}")
        if self.sandbox == "bubblewrap" and shutil.which("bwrap") is None:
            raise ConfigError("SANDBOX=bubblewrap needs the bwrap program, and none is on PATH "
                              "(Debian/Ubuntu: apt-get install bubblewrap)")
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"AGENT_BACKEND must be one of {', '.join(BACKENDS)}, not {self.backend!r}"
            )
        for name in ("max_iterations", "max_retries", "context_tokens"):
            _check_int(name, getattr(self, name), minimum=1 if name != "max_retries" else 0)
        _check_int("budget_cents", self.budget_cents, minimum=0)
        for name in ("base_url", "opencode_base_url", "web_search_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise ConfigError(f"{ENV_NAMES[name]} must be an http(s) URL, not {value!r}")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("DEFAULT_MODEL must not be empty")
        self._validate_approvals()
        return self

    def _validate_approvals(self) -> None:
        for name in ("approvals", "approvals_max"):
            value = getattr(self, name)
            if not (value is None and name == "approvals") and value not in PRESETS:
                raise ConfigError(f"{ENV_NAMES[name]} must be one of {', '.join(PRESETS)}, "
                                  f"not {value!r}")
        timeout = self.approval_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ConfigError(f"APPROVAL_TIMEOUT must be a number >= 0, not {timeout!r}")
        _check_int("daily_budget_cents", self.daily_budget_cents, minimum=0)
        if not isinstance(self.allowed_models, str):
            raise ConfigError(f"ALLOWED_MODELS must be comma-separated globs, "
                              f"not {self.allowed_models!r}")
        # Frozen: normalising in place is how a dataclass tidies its own fields.
        object.__setattr__(self, "approval_rules", normalize_rules(self.approval_rules))

    @property
    def model_globs(self) -> list[str]:
        """The globs of ALLOWED_MODELS (empty: every model is allowed)."""
        return [g.strip() for g in self.allowed_models.split(",") if g.strip()]

    def public(self) -> dict[str, Any]:
        """The settings as a dict without secrets (the key is reduced to whether it is set)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
        data["api_key_configured"] = bool(self.api_key)
        return data


ENV_NAMES: dict[str, str] = {
    "api_key": "OPENROUTER_API_KEY",
    "base_url": "OPENROUTER_BASE_URL",
    "model": "DEFAULT_MODEL",
    "working_dir": "WORKING_DIR",
    "max_iterations": "MAX_ITERATIONS",
    "budget_cents": "BUDGET_CENTS",
    "backend": "AGENT_BACKEND",
    "opencode_base_url": "OPENCODE_BASE_URL",
    "opencode_agent": "OPENCODE_AGENT",
    "opencode_permissive": "OPENCODE_PERMISSIVE",
    "opencode_idle_timeout": "OPENCODE_IDLE_TIMEOUT",
    "web_search_url": "WEB_SEARCH_URL",
    "stream": "LLM_STREAM",
    "connect_timeout": "LLM_CONNECT_TIMEOUT",
    "read_timeout": "LLM_READ_TIMEOUT",
    "max_retries": "LLM_MAX_RETRIES",
    "context_tokens": "CONTEXT_TOKENS",
    "api_key_file": "OPENROUTER_API_KEY_FILE",
    "allow_private_urls": "ALLOW_PRIVATE_URLS",
    "sandbox": "SANDBOX",
    "sandbox_network": "SANDBOX_NETWORK",
    "approvals": "APPROVALS",
    "approval_rules": "APPROVAL_RULES",
    "approvals_max": "APPROVALS_MAX",
    "approval_timeout": "APPROVAL_TIMEOUT",
    "daily_budget_cents": "DAILY_BUDGET_CENTS",
    "allowed_models": "ALLOWED_MODELS",
}


def read_key_file(path: str) -> str:
    """The key stored in ``path`` (surrounding whitespace dropped); ``ConfigError`` if none."""
    try:
        key = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigError(f"OPENROUTER_API_KEY_FILE: cannot read {path}: {reason}") from None
    if not key:
        raise ConfigError(f"OPENROUTER_API_KEY_FILE: {path} is empty")
    return key


def normalize_rules(data: Any, where: str = "APPROVAL_RULES") -> tuple[dict[str, str], ...]:
    """Approval rules as ``({"tool", "pattern", "action"}, ...)``; ``ConfigError`` names ``where``."""
    if data is None:
        return ()
    if isinstance(data, (str, bytes, Mapping)) or not isinstance(data, Iterable):
        raise ConfigError(f"{where} must be a list of {{\"tool\", \"pattern\", \"action\"}}")
    return tuple(_rule(item, where) for item in data)


def _rule(item: Any, where: str) -> dict[str, str]:
    if hasattr(item, "to_dict"):  # an agent.policy.Rule
        item = item.to_dict()
    if not isinstance(item, Mapping) or not isinstance(item.get("tool"), str):
        raise ConfigError(f"{where}: each rule is {{\"tool\", \"pattern\", \"action\"}}, "
                          f"not {item!r}")
    extra = set(item) - {"tool", "pattern", "action"}
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))} in {item!r}")
    pattern = item.get("pattern", "*")
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: 'pattern' must be a string, not {pattern!r}")
    if item.get("action") not in ACTIONS:
        raise ConfigError(f"{where}: 'action' must be one of {', '.join(ACTIONS)}, "
                          f"not {item.get('action')!r}")
    return {"tool": item["tool"], "pattern": pattern, "action": item["action"]}


def _parse(name: str, raw: str, var: str) -> Any:
    kind = Settings.__dataclass_fields__[name].type
    if name == "approval_rules":
        try:
            return normalize_rules(json.loads(raw), var)
        except json.JSONDecodeError:
            raise ConfigError(f"{var} must be a JSON list of rules, not {raw!r}") from None
    if "bool" in str(kind):
        lowered = raw.lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ConfigError(f"{var} must be true or false, not {raw!r}")
    if "int" in str(kind):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{var} must be a whole number, not {raw!r}") from None
    if "float" in str(kind):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{var} must be a number, not {raw!r}") from None
    return raw


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{ENV_NAMES[name]} must be a whole number >= {minimum}, not {value!r}")
