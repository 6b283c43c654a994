"""The jupyter-server extension: ``OpenAgent`` owns the settings and the task manager.

Every field of ``config.Settings`` is a trait here (``c.OpenAgent.default_model = ...``
in ``jupyter_server_config.py``); the environment variables stay the defaults. Two
traits belong to the server only: ``db_path`` (the SQLite file) and ``max_running``.

A bad configuration never takes the Jupyter server down: the extension logs one
message naming the variable, and its endpoints answer 503 with that message
(``/api/health`` says ``"status": "error"`` without details).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Instance, Integer, List, Unicode, default

from .._version import __version__
from ..config import ENV_NAMES, Settings
from ..exceptions import ConfigError, OpenAgentError
from ..reaper import become_subreaper
from .handlers import default_handlers
from .hardening import ServerSecrets
from .notebook_edits import PendingEdits
from .task_events import TaskEventHub

if TYPE_CHECKING:
    from ..tasks.manager import TaskManager

#: trait name -> Settings field (traits are named after what a Jupyter user configures).
TRAIT_FIELDS: dict[str, str] = {
    "api_key": "api_key",
    "llm_base_url": "base_url",
    "default_model": "model",
    "working_dir": "working_dir",
    "max_iterations": "max_iterations",
    "budget_cents": "budget_cents",
    "backend": "backend",
    "opencode_base_url": "opencode_base_url",
    "opencode_agent": "opencode_agent",
    "opencode_permissive": "opencode_permissive",
    "opencode_idle_timeout": "opencode_idle_timeout",
    "web_search_url": "web_search_url",
    "stream": "stream",
    "connect_timeout": "connect_timeout",
    "read_timeout": "read_timeout",
    "max_retries": "max_retries",
    "context_tokens": "context_tokens",
    "api_key_file": "api_key_file",
    "allow_private_urls": "allow_private_urls",
    "sandbox": "sandbox",
    "sandbox_network": "sandbox_network",
    "approvals": "approvals",
    "approval_rules": "approval_rules",
    "approvals_max": "approvals_max",
    "approval_timeout": "approval_timeout",
    "daily_budget_cents": "daily_budget_cents",
    "allowed_models": "allowed_models",
}
#: Environment variables set for kernels started by this server.
URL_VAR, TOKEN_VAR = "OPEN_AGENT_URL", "OPEN_AGENT_TOKEN"
#: The engine's modules a first task (or an OpenCode health check) would otherwise import
#: on the event loop; they are imported on a worker thread as the extension starts.
ENGINE_MODULES = ("open_agent_jupyter.agent.loop", "open_agent_jupyter.agent.estimate",
                  "open_agent_jupyter.llm.client", "open_agent_jupyter.backends.opencode")


def _env(field: str) -> Any:
    """A dynamic trait default: the value ``Settings.from_env`` gives ``field``."""

    def generate(self: OpenAgent) -> Any:
        return getattr(self.env_settings, field)

    trait = next(name for name, f in TRAIT_FIELDS.items() if f == field)
    return default(trait)(generate)


def _help(field: str, text: str) -> str:
    return f"{text} Default: the {ENV_NAMES[field]} environment variable."


class OpenAgent(ExtensionApp):
    """REST + SSE task API of Open Agent for Jupyter (``/api/task`` and friends)."""

    name = "open_agent"
    description = "An autonomous coding agent that lives inside Jupyter."
    load_other_extensions = True

    api_key = Unicode(None, allow_none=True, help=_help(
        "api_key", "Key for the LLM endpoint; never logged or returned.")).tag(config=True)
    llm_base_url = Unicode(help=_help(
        "base_url", "Any OpenAI-compatible endpoint (OpenRouter, OpenAI, vLLM, Ollama, ...)."
    )).tag(config=True)
    default_model = Unicode(help=_help("model", "Model id sent to the endpoint.")).tag(config=True)
    working_dir = Unicode(help=(
        "Where a task's relative paths resolve. Default: the WORKING_DIR environment "
        "variable, else the server's root_dir.")).tag(config=True)
    max_iterations = Integer(help=_help("max_iterations", "LLM steps allowed per task.")).tag(
        config=True)
    budget_cents = Integer(help=_help(
        "budget_cents", "A task fails once its cost reaches this many US cents.")).tag(config=True)
    backend = Unicode(help=_help("backend", "'local' (our own loop) or 'opencode'.")).tag(
        config=True)
    opencode_base_url = Unicode(help=_help("opencode_base_url", "The OpenCode server.")).tag(
        config=True)
    opencode_agent = Unicode(help=_help("opencode_agent", "OpenCode agent name.")).tag(config=True)
    opencode_permissive = Bool(help=_help(
        "opencode_permissive", "Allow every OpenCode permission request.")).tag(config=True)
    opencode_idle_timeout = Float(help=_help(
        "opencode_idle_timeout", "Seconds without OpenCode session activity before a task fails."
    )).tag(config=True)
    web_search_url = Unicode(help=_help("web_search_url", "Endpoint of the web_search tool.")).tag(
        config=True)
    stream = Bool(help=_help("stream", "Stream answers from the LLM.")).tag(config=True)
    connect_timeout = Float(help=_help(
        "connect_timeout", "Seconds to open a connection to the LLM endpoint.")).tag(config=True)
    read_timeout = Float(help=_help(
        "read_timeout", "Seconds of LLM silence before the call is retried.")).tag(config=True)
    max_retries = Integer(help=_help(
        "max_retries", "Retries of a transient LLM failure.")).tag(config=True)
    context_tokens = Integer(help=_help(
        "context_tokens", "Old large tool results are elided past this estimated size.")).tag(
        config=True)
    api_key_file = Unicode(None, allow_none=True, help=_help(
        "api_key_file", "A file holding the LLM key, read at start when api_key is unset "
        "(the key then stays out of every environment).")).tag(config=True)
    allow_private_urls = Bool(help=_help(
        "allow_private_urls", "Let fetch_url reach loopback, link-local and private addresses."
    )).tag(config=True)
    sandbox = Unicode(help=_help(
        "sandbox", "'none', or 'bubblewrap': run_command runs inside bwrap (which must exist)."
    )).tag(config=True)
    sandbox_network = Bool(help=_help(
        "sandbox_network", "Commands in the sandbox have the network (False: none at all).")).tag(
        config=True)
    approvals = Unicode(None, allow_none=True, help=_help(
        "approvals", "Approval preset: 'auto' (every tool call runs), 'ask' (ask before "
        "commands, writes, deletes, commits, python and notebook edits) or 'read-only' "
        "(deny those). Unset: 'auto' (OpenCode tasks: what opencode_permissive says).")).tag(
        config=True)
    approval_rules = List(Dict(), help=_help(
        "approval_rules", "Ordered rules on top of the preset, first match wins: "
        "[{'tool': 'run_command', 'pattern': '*git push*', 'action': 'deny'}, ...]; "
        "'pattern' is a glob on the command, path, URL or code; 'action' allow|ask|deny.")).tag(
        config=True)
    approvals_max = Unicode(help=_help(
        "approvals_max", "The loosest preset a task may ask for (auto < ask < read-only).")).tag(
        config=True)
    approval_timeout = Float(help=_help(
        "approval_timeout", "Seconds an approval waits before it expires as a denial "
        "(0: deny at once).")).tag(config=True)
    daily_budget_cents = Integer(help=_help(
        "daily_budget_cents", "Spend per day (UTC) in US cents; new tasks are refused (429) "
        "and running ones stopped once it is reached (0: no cap).")).tag(config=True)
    allowed_models = Unicode(help=_help(
        "allowed_models", "Comma-separated globs of the models a task may use (empty: all).")).tag(
        config=True)
    db_path = Unicode(help=(
        "SQLite file holding tasks and their logs. Default: open_agent/tasks.db in the "
        "Jupyter data dir.")).tag(config=True)
    max_running = Integer(4, help=(
        "Tasks running at once; the rest wait as 'pending' in order.")).tag(config=True)

    _default_api_key = _env("api_key")
    _default_llm_base_url = _env("base_url")
    _default_default_model = _env("model")
    _default_working_dir = _env("working_dir")
    _default_max_iterations = _env("max_iterations")
    _default_budget_cents = _env("budget_cents")
    _default_backend = _env("backend")
    _default_opencode_base_url = _env("opencode_base_url")
    _default_opencode_agent = _env("opencode_agent")
    _default_opencode_permissive = _env("opencode_permissive")
    _default_opencode_idle_timeout = _env("opencode_idle_timeout")
    _default_web_search_url = _env("web_search_url")
    _default_stream = _env("stream")
    _default_connect_timeout = _env("connect_timeout")
    _default_read_timeout = _env("read_timeout")
    _default_max_retries = _env("max_retries")
    _default_context_tokens = _env("context_tokens")
    _default_api_key_file = _env("api_key_file")
    _default_allow_private_urls = _env("allow_private_urls")
    _default_sandbox = _env("sandbox")
    _default_sandbox_network = _env("sandbox_network")
    _default_approvals = _env("approvals")
    _default_approvals_max = _env("approvals_max")
    _default_approval_timeout = _env("approval_timeout")
    _default_daily_budget_cents = _env("daily_budget_cents")
    _default_allowed_models = _env("allowed_models")

    @default("approval_rules")
    def _default_approval_rules(self) -> list[dict[str, str]]:
        return [dict(rule) for rule in self.env_settings.approval_rules]

    @default("db_path")
    def _default_db_path(self) -> str:
        return str(Path(jupyter_data_dir()) / "open_agent" / "tasks.db")

    #: Print the URL with the token at start (``open-agent serve`` sets it).
    announce: bool = False
    #: Called with the configured ServerApp before anything listens (``open-agent serve``
    #: refuses an unauthenticated or exposed server there); may raise SystemExit.
    serve_guard: Callable[[Any], None] | None = None
    # Filled by initialize_settings / the start hook.
    agent_settings: Settings | None = None
    config_error: str | None = None
    manager: TaskManager | None = None
    #: Events of ``GET /api/tasks/stream`` (task changes, notebook edits).
    task_events = Instance(TaskEventHub, args=())
    #: Notebook edits waiting for a front end's answer (``POST /api/notebook_edits/{id}``).
    pending_edits = Instance(PendingEdits, args=())
    _env_settings: Settings | None = None
    _env_error: str | None = None
    _starting: asyncio.Task[None] | None = None
    _saved_env: dict[str, str | None] | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: The task API token (kernels' OPEN_AGENT_TOKEN), registered secrets, scrubbed env.
        self.server_secrets = ServerSecrets()

    @property
    def task_token(self) -> str:
        """The token kernels get: it opens ``/api/task*`` and ``/api/tasks*`` only."""
        return self.server_secrets.task_token

    @property
    def env_settings(self) -> Settings:
        """The settings the environment gives (trait defaults); bad values are kept aside."""
        if self._env_settings is None:
            root = str(self.serverapp.root_dir) if self.serverapp else "."
            try:
                self._env_settings = Settings.from_env(working_dir=root)
            except ConfigError as err:
                self._env_error = str(err)
                self._env_settings = Settings(working_dir=root)
        return self._env_settings

    def build_settings(self) -> Settings:
        """The engine's settings from the traits; ``ConfigError`` names the variable."""
        values = {field: getattr(self, trait) for trait, field in TRAIT_FIELDS.items()}
        if values["api_key_file"] != self.env_settings.api_key_file and \
                "api_key" not in self.config.OpenAgent:
            values["api_key"] = None  # a key file configured here beats the environment's file
        if self._env_error:
            raise ConfigError(self._env_error)
        try:
            return Settings(**values).validated()
        except ConfigError as err:
            raise ConfigError(_with_trait_name(str(err))) from None

    def initialize_settings(self) -> None:
        """Build Settings, TaskStore and TaskManager; export the URL for kernels."""
        if self.serve_guard is not None:
            self.serve_guard(self.serverapp)
        self.export_environment()
        self.server_secrets.register(self.task_token)
        if self.serverapp is not None:
            _ = self.serverapp.identity_provider.token  # read before JUPYTER_TOKEN goes
        try:
            self.agent_settings = self.build_settings()
            self._warn_permissive_alias()
            if self.max_running < 1:
                raise ConfigError(f"c.OpenAgent.max_running must be >= 1, not {self.max_running}")
            self.manager = self._make_manager(self.agent_settings)
            self.manager.add_listener(self.task_events.publish_task)
        except ConfigError as err:
            self.config_error = str(err)
            self.log.error("Open Agent is disabled by a configuration error: %s", err)
        self.server_secrets.harden()  # the key and the token are read: out of the environment

    def _warn_permissive_alias(self) -> None:
        """APPROVALS wins over its alias OPENCODE_PERMISSIVE when both are set: say so once."""
        configured = "opencode_permissive" in self.config.get("OpenAgent", {})
        if self.approvals is not None and (configured or "OPENCODE_PERMISSIVE" in os.environ):
            self.log.warning("Open Agent: both APPROVALS (c.OpenAgent.approvals) and "
                             "OPENCODE_PERMISSIVE are set; APPROVALS=%s applies to OpenCode "
                             "tasks too", self.approvals)

    def _make_manager(self, settings: Settings) -> TaskManager:
        from ..tasks.manager import TaskManager
        from ..tasks.store import TaskStore

        path = self.db_path
        if path != ":memory:":
            path = str(Path(path).expanduser())
        token = getattr(self.serverapp.identity_provider, "token", None) if self.serverapp else None
        self.server_secrets.register(token)
        from .attach import notebook_tools

        return TaskManager(settings, TaskStore(path), max_running=self.max_running,
                           secrets=[token, self.task_token] if token else [self.task_token],
                           notebook_tools=notebook_tools(self))

    def initialize_handlers(self) -> None:
        """Register the REST + SSE handlers (base_url is prepended by ExtensionApp)."""
        self.handlers.extend(default_handlers())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start the manager (recovery of interrupted tasks) once the loop runs."""
        self.export_environment()
        await self.ensure_started()
        if self.announce:
            self._announce()

    def _announce(self) -> None:
        url = os.environ.get(URL_VAR, "")
        token = self.serverapp.identity_provider.token if self.serverapp else ""
        print(f"\nOpen Agent API: {url}?token={token}\n"
              f"  curl -H 'Authorization: token {token}' {url}api/tasks\n", flush=True)

    async def ensure_started(self) -> TaskManager | None:
        """Start the manager once (idempotent); None when it cannot run."""
        if self.manager is None:
            return None
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start_manager(self.manager))
        await asyncio.shield(self._starting)
        return self.manager if self.config_error is None else None

    async def _start_manager(self, manager: TaskManager) -> None:
        # Before start(): recovered pending tasks begin at once and must not import on the loop.
        await asyncio.to_thread(warm_imports, self.log)
        # What commands leave behind is adopted by this server, not PID 1 (DESIGN §12.10).
        if not become_subreaper():
            self.log.info("Open Agent: this OS has no child subreaper; commands' orphans go "
                          "to PID 1 (they are still found and killed by their marker)")
        try:
            await manager.start()  # the store creates the database's folder on its thread
        except (OSError, sqlite3.Error, OpenAgentError) as err:
            self.config_error = (f"cannot open the task database {self.db_path} "
                                 f"(c.OpenAgent.db_path): {err}")
            self.log.error("Open Agent is disabled: %s", self.config_error)
            return
        self.log.info("Open Agent %s: tasks in %s", __version__, self.db_path)

    async def stop_extension(self) -> None:
        """Cancel running tasks, close the store, restore the environment."""
        if self._starting is not None:
            await asyncio.shield(self._starting)
            if self.manager is not None and self.config_error is None:
                await self.manager.close()
        self._starting = None
        self.task_events.close()
        self._restore_environment()
        self.server_secrets.restore()

    def export_environment(self) -> None:
        """Put OPEN_AGENT_URL and OPEN_AGENT_TOKEN in os.environ so kernels inherit them.

        The token is the task API token, never Jupyter's: a kernel (and so the agent's code)
        can submit and follow tasks with it, but not reach kernels, contents or terminals.
        """
        if self.serverapp is None or self.serverapp.sock:
            return
        if self._saved_env is None:
            self._saved_env = {name: os.environ.get(name) for name in (URL_VAR, TOKEN_VAR)}
        os.environ[URL_VAR] = server_url(self.serverapp)
        os.environ[TOKEN_VAR] = self.task_token

    def _restore_environment(self) -> None:
        for name, value in (self._saved_env or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = None


def warm_imports(log: Any) -> None:
    """Import the engine (``ENGINE_MODULES``) now; a missing optional part is only logged."""
    for name in ENGINE_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as err:  # e.g. the optional OpenCode backend; the task reports it
            log.warning("Open Agent: cannot import %s: %s", name, err)
    from ..httpclient import tls_context

    tls_context()  # loads the CA bundle here, not on the loop at the first task

def server_url(serverapp: Any) -> str:
    """``http://host:port{base_url}`` ending with "/", connectable from this machine."""
    ip = serverapp.ip or "localhost"
    if ip in ("0.0.0.0", "*"):
        ip = "127.0.0.1"
    elif ip == "::":
        ip = "::1"
    host = f"[{ip}]" if ":" in ip else ip
    scheme = "https" if serverapp.certfile else "http"
    base = "/" + serverapp.base_url.strip("/") + "/" if serverapp.base_url.strip("/") else "/"
    return f"{scheme}://{host}:{serverapp.port}{base}"


def _with_trait_name(message: str) -> str:
    """Add the trait that sets the same value as the variable a message names."""
    for field, var in ENV_NAMES.items():
        if message.startswith(var):
            trait = next(t for t, f in TRAIT_FIELDS.items() if f == field)
            return f"{message} (set by {var} or c.OpenAgent.{trait})"
    return message
