"""Run code in a kernel that a real jupyter server started, over its websocket channels."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
from tornado.websocket import websocket_connect


def _message(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    return {
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type,
                   "session": session, "username": "test", "version": "5.3",
                   "date": datetime.now(timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": content,
    }


def _execute_request(code: str, session: str) -> dict[str, Any]:
    return _message("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True}, session)


def click_message(comm_id: str, session: str) -> dict[str, Any]:
    """The ``comm_msg`` a front end sends when a widget Button is clicked."""
    return _message("comm_msg", {"comm_id": comm_id,
                                 "data": {"method": "custom", "content": {"event": "click"}}},
                    session)


class ServerKernel:
    """A kernel started through ``POST /api/kernels``; ``run(code)`` returns its text output."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        headers = {"Authorization": f"token {token}"}
        response = httpx.post(url + "api/kernels", headers=headers, json={"name": "python3"})
        response.raise_for_status()
        self.id = response.json()["id"]
        self.session = uuid.uuid4().hex

    @classmethod
    def attach(cls, url: str, token: str, kernel_id: str) -> ServerKernel:
        """A running kernel of the server (e.g. a notebook session's)."""
        kernel = cls.__new__(cls)
        kernel.url, kernel.token, kernel.id = url, token, kernel_id
        kernel.session = uuid.uuid4().hex
        return kernel

    async def connect(self) -> Any:
        """A websocket on the kernel's channels."""
        ws_url = (self.url.replace("http", "ws", 1)
                  + f"api/kernels/{self.id}/channels?session_id={self.session}&token={self.token}")
        return await websocket_connect(ws_url)

    async def run(self, code: str, timeout: float = 120,
                  on_message: Callable[[dict[str, Any], Any], None] | None = None,
                  ) -> tuple[str, list[dict[str, Any]]]:
        """Execute ``code``; the stdout text and the error messages (if any).

        ``on_message(msg, conn)`` sees every message meanwhile (any parent) and may
        write to ``conn`` (e.g. a widget click while the cell runs).
        """
        conn = await self.connect()
        request = _execute_request(code, self.session)
        conn.write_message(json.dumps(request))
        out: list[str] = []
        errors: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await conn.read_message()
                    if raw is None:
                        raise ConnectionError("kernel websocket closed")
                    msg = json.loads(raw)
                    if on_message is not None:
                        on_message(msg, conn)
                    if msg.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
                        continue
                    kind = msg["msg_type"]
                    if kind == "stream":
                        out.append(msg["content"]["text"])
                    elif kind == "error":
                        errors.append(msg["content"])
                    elif kind == "status" and msg["content"]["execution_state"] == "idle":
                        return "".join(out), errors
        finally:
            conn.close()

    def shutdown(self) -> None:
        httpx.delete(self.url + f"api/kernels/{self.id}",
                     headers={"Authorization": f"token {self.token}"})
