"""A loopback stand-in for the task API that drops, refuses and resumes its SSE stream.

It serves ``GET /api/task/t1/stream`` from a plan: one step per connection, each step
saying how many new entries to send after ``Last-Event-ID``, how many already-sent
entries to repeat first (to prove the client drops doubles), and how the connection
ends (``done``, ``drop`` mid-frame, ``down`` = drop and stop listening, or ``hang``).
It also answers ``GET /api/task/t1`` and ``POST /api/task/t1/stop``, recording requests.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Step:
    """What one stream connection does."""

    new: int
    overlap: int = 0
    end: str = "done"  # done | drop | down | hang


def entry(seq: int) -> dict[str, Any]:
    """A thinking entry numbered ``seq``."""
    return {"seq": seq, "timestamp": "2025-01-01T00:00:00+00:00", "entry_type": "thinking",
            "content": f"step {seq}"}


class FlakySSE:
    """The server; ``restart()`` listens again on the same port after a ``down`` step."""

    def __init__(self, total: int = 10) -> None:
        self.entries = [entry(i) for i in range(1, total + 1)]
        self.plan: list[Step] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.status = "running"
        self.release = threading.Event()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.restart()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def restart(self) -> None:
        """(Re)open the listening socket on the same port."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def go_down(self) -> None:
        """Stop listening: new connections are refused until ``restart()``."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def close(self) -> None:
        self.release.set()
        self.go_down()

    def task(self) -> dict[str, Any]:
        return {"id": "t1", "status": self.status, "task": "count to ten", "model": "fake/model",
                "iterations": 3, "max_iterations": 50, "result": None, "error": None,
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.001},
                "log": self.entries}


def _handler(owner: FlakySSE) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            owner.requests.append(("GET", self.path, dict(self.headers)))
            if self.path == "/api/task/t1/stream":
                self._stream()
            elif self.path == "/api/task/t1":
                self._json(200, owner.task())
            else:
                self._json(404, {"error": "no such task", "status": 404})

        def do_POST(self) -> None:
            owner.requests.append(("POST", self.path, dict(self.headers)))
            if self.path == "/api/task/t1/stop":
                owner.status = "cancelled"
                self._json(200, owner.task())
            else:
                self._json(404, {"error": "no such task", "status": 404})

        def _json(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            step = owner.plan.pop(0) if owner.plan else Step(len(owner.entries))
            after = int(self.headers.get("Last-Event-ID") or 0)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(b": keep-alive\n\n")
            for item in owner.entries[max(0, after - step.overlap): after + step.new]:
                self._frame("log", item, item["seq"])
            if step.end == "done":
                self._frame("done", {"status": "completed", "result": "ten", "iterations": 3,
                                     "usage": {}}, None)
                return
            if step.end == "hang":
                owner.release.wait(30)
                return
            nxt = after + step.new + 1
            self.wfile.write(f"id: {nxt}\nevent: log\ndata: {{\"seq\": {nxt}".encode())
            self.wfile.flush()
            if step.end == "down":
                owner.go_down()
            time.sleep(0.05)
            self.connection.shutdown(socket.SHUT_RDWR)

        def _frame(self, event: str, data: Any, seq: int | None) -> None:
            head = f"id: {seq}\n" if seq is not None else ""
            self.wfile.write(f"{head}event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

    return Handler
