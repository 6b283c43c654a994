"""Thin REST handlers for ``/api/task`` and friends (DESIGN.md §4).

Every method is ``@tornado.web.authenticated`` and checked by the Jupyter authorizer
against the resource ``open_agent``; only ``GET /api/health`` is public. Errors are
JSON ``{"error": message, "status": code}``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from jupyter_server.auth import User
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.call_context import CallContext
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .._version import __version__
from ..exceptions import (
    ApprovalAnsweredError,
    ApprovalNotFoundError,
    ConfigError,
    DailyBudgetReached,
    StorageError,
    TaskNotFoundError,
)
from .access import cap_errors, submitter
from .attach import check_attachment
from .hardening import (
    TASK_PATHS,
    TaskTokenAuthorizer,
    is_task_token,
    request_token,
    task_token_user,
)
from .validation import (
    TASK_ID_RE,
    parse_approval_body,
    parse_flag,
    parse_list_query,
    parse_task_body,
)

try:  # jupyter-server >= 2.13 can refuse undecorated handlers; older ones are open anyway.
    from jupyter_server.auth.decorator import allow_unauthenticated
except ImportError:  # pragma: no cover
    def allow_unauthenticated(method: Any) -> Any:  # type: ignore[no-redef]
        return method

if TYPE_CHECKING:
    from ..tasks.manager import TaskManager
    from ..tasks.models import Task
    from .app import OpenAgent

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
AUTH_RESOURCE = "open_agent"
_OPENAPI_TEXT: str | None = None


class OpenAgentHandler(APIHandler):
    """Base: JSON errors, the extension app and its (started) task manager.

    Besides Jupyter's own authentication, requests to ``/api/task*`` and ``/api/tasks*``
    may carry the task API token (``OPEN_AGENT_TOKEN``, what kernels get): they act as
    the server's user on those paths only.
    """

    auth_resource = AUTH_RESOURCE
    _task_token_used = False

    @property
    def extension(self) -> OpenAgent:
        """The ``OpenAgent`` extension app serving this request."""
        return self.settings["open_agent"]

    async def prepare(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Accept the task API token on the task paths; else Jupyter's authentication."""
        if self._carries_task_token():
            CallContext.set(CallContext.JUPYTER_HANDLER, self)
            if not self.check_host():
                raise web.HTTPError(403)
            self._task_token_used = True
            self.current_user = self._jupyter_current_user = User(**task_token_user())
            self.set_cors_headers()
            # As for Jupyter's own token: a header a browser never sends by itself needs
            # no XSRF or origin check.
            return
        await super().prepare(*args, **kwargs)

    def _carries_task_token(self) -> bool:
        expected = getattr(self.extension, "task_token", None)
        if not is_task_token(request_token(self.request.headers), expected):
            return False
        base, path = unquote(self.base_url).rstrip("/"), unquote(self.request.path)
        return path.startswith(base) and bool(TASK_PATHS.match(path[len(base):]))

    @property
    def authorizer(self) -> Any:
        """Jupyter's authorizer; for the task API token, the task API's own."""
        return TaskTokenAuthorizer() if self._task_token_used else super().authorizer

    async def task_manager(self) -> TaskManager:
        """The running manager, or 503 with the configuration error."""
        manager = await self.extension.ensure_started()
        if manager is None:
            message = self.extension.config_error or "the task manager is not available"
            raise web.HTTPError(503, f"Open Agent is not configured: {message}")
        return manager

    async def find_task(self, task_id: str) -> tuple[TaskManager, Task]:
        """The manager and the task ``task_id`` names; 404 otherwise (malformed ids too)."""
        manager = await self.task_manager()
        if not TASK_ID_RE.fullmatch(task_id):
            raise web.HTTPError(404, f"no task with id {task_id!r}")
        try:
            return manager, await manager.get(task_id)
        except TaskNotFoundError:
            raise web.HTTPError(404, f"no task with id {task_id!r}") from None

    async def send_task(self, manager: TaskManager, task: Task) -> None:
        """Answer with the task, its approvals and its log."""
        self.send_json(task.to_dict(log=await manager.get_log(task.id),
                                    approvals=await manager.get_approvals(task.id)))

    def send_json(self, data: Any, status: int = 200) -> None:
        """Write ``data`` as the JSON body."""
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors as ``{"error", "status"}``; unexpected ones never show internals."""
        message = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], web.HTTPError):
            message = exc_info[1].log_message or message
        elif exc_info:
            message = "internal error (see the server log)"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, "status": status_code}))


class TaskCreateHandler(OpenAgentHandler):
    """``POST /api/task``: submit a task."""

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        """Validate the body and submit; 201 ``{"id", "status"}``."""
        manager = await self.task_manager()
        task, overrides = parse_task_body(self.request.body)
        caps = cap_errors(overrides, manager.settings)
        if caps:
            raise web.HTTPError(400, "; ".join(caps))
        overrides.update(await check_attachment(self.extension, overrides.pop("kernel_id", None),
                                                overrides.pop("notebook", None)))
        try:
            created = await manager.submit(task, submitted_by=submitter(self.current_user),
                                           **overrides)
        except (ConfigError, ValueError) as err:
            raise web.HTTPError(400, str(err)) from None
        except DailyBudgetReached as err:
            raise web.HTTPError(429, str(err)) from None
        except StorageError as err:
            raise web.HTTPError(503, str(err)) from None
        self.set_header("Location", self.request.path + "/" + created.id)
        self.send_json({"id": created.id, "status": str(_value(created.status))}, 201)


class TaskHandler(OpenAgentHandler):
    """``GET /api/task/{id}``: the task with its log."""

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        """The task, live figures while it runs; ``?log=false`` leaves the log out."""
        with_log = parse_flag(self.get_query_argument("log", "true"), "log")
        manager, task = await self.find_task(task_id)
        if with_log:
            await self.send_task(manager, task)
        else:
            self.send_json({**task.summary(), "approvals": await manager.get_approvals(task.id)})


class TaskStopHandler(OpenAgentHandler):
    """``POST /api/task/{id}/stop``: cancel a task (kills its commands)."""

    @web.authenticated
    @authorized("execute")
    async def post(self, task_id: str) -> None:
        """Stop and answer with the (now final) task."""
        manager, _ = await self.find_task(task_id)
        await self.send_task(manager, await manager.stop(task_id))


class TaskNotebookHandler(OpenAgentHandler):
    """``GET /api/task/{id}/notebook``: the task as a ``.ipynb`` (DESIGN §5b)."""

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        """The notebook as an attachment named after the task (built off the event loop)."""
        from ..tasks.export import MEDIA_TYPE, dumps, filename, task_notebook

        manager, task = await self.find_task(task_id)
        data = task.to_dict(log=await manager.get_log(task.id))
        body = await asyncio.to_thread(lambda: dumps(task_notebook(data)))
        self.set_header("Content-Disposition", f'attachment; filename="{filename(data)}"')
        self.set_header("Cache-Control", "no-store")
        self.finish(body.encode("utf-8"), set_content_type=MEDIA_TYPE)


class ApprovalHandler(OpenAgentHandler):
    """``POST /api/task/{id}/approvals/{approval_id}``: allow or deny a pending call."""

    @web.authenticated
    @authorized("execute")
    async def post(self, task_id: str, approval_id: str) -> None:
        """Decide it; 200 the decided record, 404 unknown, 409 decided already."""
        manager, _ = await self.find_task(task_id)
        decision, message, remember = parse_approval_body(self.request.body)
        user = getattr(self.current_user, "username", None) or str(self.current_user)
        try:
            record = await manager.answer_approval(task_id, approval_id, decision, message,
                                                   remember, user)
        except ApprovalNotFoundError as err:
            raise web.HTTPError(404, str(err)) from None
        except ApprovalAnsweredError as err:
            raise web.HTTPError(409, str(err)) from None
        self.send_json(record)


class TaskListHandler(OpenAgentHandler):
    """``GET /api/tasks?status=&limit=&offset=``: summaries, newest first."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """A page of task summaries and the total matching."""
        status, limit, offset = parse_list_query(self.get_query_argument)
        manager = await self.task_manager()
        tasks, total = await manager.list_tasks(status=status, limit=limit, offset=offset)
        self.send_json({"tasks": [t.summary() for t in tasks], "total": total})


class StatsHandler(OpenAgentHandler):
    """``GET /api/stats``: totals by status, total cost, success rate."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The manager's statistics."""
        manager = await self.task_manager()
        self.send_json(await manager.stats())


class OpenAPIHandler(OpenAgentHandler):
    """``GET /api/open_agent/openapi.yaml``: the OpenAPI 3 document of this API."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The YAML document shipped in the package (read once, off the event loop)."""
        self.set_header("Cache-Control", "no-store")
        self.finish(await _openapi_text(), set_content_type="application/yaml")


class HealthHandler(OpenAgentHandler):
    """``GET /api/health``: public ``status`` and ``version``; details only when authenticated."""

    @allow_unauthenticated
    async def get(self) -> None:
        """``{"status", "version"}``; with read access also backend, limits, model, key set."""
        await self.extension.ensure_started()  # the answer is about a started manager
        data: dict[str, Any] = {"status": self.health_status(), "version": __version__}
        if self.may_read():
            data.update(await self.health_details())
        self.send_json(data)

    def health_status(self) -> str:
        """``ok``, or ``error`` when the extension cannot run tasks."""
        app = self.extension
        broken = app.config_error or (app.manager is not None and app.manager.storage_error)
        return "ok" if app.agent_settings and not broken else "error"

    def may_read(self) -> bool:
        """Whether the caller is authenticated and may read ``open_agent``."""
        user = self.current_user
        return bool(user) and self.authorizer.is_authorized(self, user, "read", AUTH_RESOURCE)

    async def health_details(self) -> dict[str, Any]:
        """What runs: backend, limits, model, whether a key is set (never the key)."""
        app = self.extension
        data: dict[str, Any] = {"backend": app.backend, "max_iterations": app.max_iterations,
                                "model": app.default_model,
                                "api_key_configured": bool(app.api_key)}
        settings = app.agent_settings
        if settings is not None and settings.backend == "opencode":
            data["opencode"] = {"base_url": _public_url(settings.opencode_base_url),
                                "reachable": await _opencode_reachable(settings)}
        return data


async def _openapi_text() -> str:
    global _OPENAPI_TEXT
    if _OPENAPI_TEXT is None:
        _OPENAPI_TEXT = await asyncio.to_thread(OPENAPI_PATH.read_text, encoding="utf-8")
    return _OPENAPI_TEXT


def _public_url(url: str) -> str:
    """``url`` without a ``user:password@`` part (health must not show credentials)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


async def _opencode_reachable(settings: Any) -> bool:
    try:
        from ..backends.opencode import opencode_reachable
    except ImportError:  # the OpenCode backend is optional; without it nothing is reachable
        return False
    return bool(await opencode_reachable(settings))


def _value(status: Any) -> Any:
    return getattr(status, "value", status)


def default_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    """URL patterns (relative to base_url) and their handlers."""
    from .notebook_edits import NotebookEditAnswerHandler
    from .sse import TaskStreamHandler
    from .task_events import TasksStreamHandler

    return [
        (r"/api/task", TaskCreateHandler),
        (r"/api/task/([^/]+)", TaskHandler),
        (r"/api/task/([^/]+)/stream", TaskStreamHandler),
        (r"/api/task/([^/]+)/stop", TaskStopHandler),
        (r"/api/task/([^/]+)/notebook", TaskNotebookHandler),
        (r"/api/task/([^/]+)/approvals/([^/]+)", ApprovalHandler),
        (r"/api/tasks", TaskListHandler),
        (r"/api/tasks/stream", TasksStreamHandler),
        (r"/api/notebook_edits/([^/]+)", NotebookEditAnswerHandler),
        (r"/api/stats", StatsHandler),
        (r"/api/health", HealthHandler),
        (r"/api/open_agent/openapi.yaml", OpenAPIHandler),
    ]
