"""Run code in a kernel that a real jupyter server started, over its websocket channels."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone
from typing import Any

import httpx
from tornado.websocket import websocket_connect


def _execute_request(code: str, session: str) -> dict[str, Any]:
    return {
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request",
                   "session": session, "username": "test", "version": "5.3",
                   "date": datetime.now(timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }


class ServerKernel:
    """A kernel started through ``POST /api/kernels``; ``run(code)`` returns its text output."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        headers = {"Authorization": f"token {token}"}
        response = httpx.post(url + "api/kernels", headers=headers, json={"name": "python3"})
        response.raise_for_status()
        self.id = response.json()["id"]
        self.session = uuid.uuid4().hex

    async def run(self, code: str, timeout: float = 120) -> tuple[str, list[dict[str, Any]]]:
        """Execute ``code``; the stdout text and the error messages (if any)."""
        ws_url = (self.url.replace("http", "ws", 1)
                  + f"api/kernels/{self.id}/channels?session_id={self.session}&token={self.token}")
        conn = await websocket_connect(ws_url)
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
