"""Live notebook edits applied by a front end (DESIGN.md §12.2 (2)).

Without jupyter-collaboration, ``edit_notebook`` publishes ``event: notebook_edit`` on
``GET /api/tasks/stream`` and waits up to ``ANSWER_TIMEOUT`` seconds for a front end that
has the notebook open to answer ``POST /api/notebook_edits/{edit_id}``
``{"applied": true, "saved": bool}``. ``PendingEdits`` holds the edits waiting for an
answer; an answer to an unknown (or expired) edit is a 404, a second answer a 409.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from .handlers import OpenAgentHandler

#: Seconds an edit waits for a front end before the contents manager writes it.
ANSWER_TIMEOUT = 3.0


class PendingEdits:
    """Edits published to front ends, waiting for their answer."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def ask(self, hub: Any, data: dict[str, Any],
                  timeout: float = ANSWER_TIMEOUT) -> dict[str, Any] | None:
        """Publish ``data`` (gets an ``edit_id``) and return the answer, or None in time."""
        edit_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[edit_id] = future
        try:
            hub.publish("notebook_edit", {"edit_id": edit_id, **data})
            done, _ = await asyncio.wait({future}, timeout=timeout)
            return future.result() if done else None
        finally:
            self._waiting.pop(edit_id, None)

    def answer(self, edit_id: str, answer: dict[str, Any]) -> None:
        """Deliver a front end's answer; KeyError if unknown, ValueError if answered."""
        future = self._waiting[edit_id]
        if future.done():
            raise ValueError("already answered")
        future.set_result(answer)


class NotebookEditAnswerHandler(OpenAgentHandler):
    """``POST /api/notebook_edits/{edit_id}``: a front end applied (or not) a live edit."""

    @web.authenticated
    @authorized("execute")
    async def post(self, edit_id: str) -> None:
        """Record the answer: ``{"applied": bool, "saved": bool}``."""
        await self.task_manager()
        try:
            body = json.loads(self.request.body or b"")
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("applied"), bool) \
                or not isinstance(body.get("saved", False), bool):
            raise web.HTTPError(400, "the body must be {\"applied\": bool, \"saved\": bool}")
        try:
            self.extension.pending_edits.answer(edit_id, {"applied": body["applied"],
                                                          "saved": body.get("saved", False)})
        except KeyError:
            raise web.HTTPError(404, f"no edit {edit_id!r} is waiting (it may have expired "
                                     "after 3 s)") from None
        except ValueError:
            raise web.HTTPError(409, f"edit {edit_id!r} was already answered") from None
        self.send_json({"edit_id": edit_id, "status": "accepted"})
