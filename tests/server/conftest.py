"""Fixtures for the server extension: a real jupyter server (pytest-jupyter) with
the extension pointed at the fake LLM, JSON helpers, SSE parsing and OpenAPI checks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from tornado.httpclient import HTTPResponse

from open_agent_jupyter.server.handlers import OPENAPI_PATH
from open_agent_jupyter.server.sse import TaskStreamHandler
from tests.fakellm import FakeLLM
from tests.server.liveserver import LiveServer

SPEC = yaml.safe_load(OPENAPI_PATH.read_text())
# The notebook export is JSON under its own media type; openapi-core knows only application/json.
OPENAPI = OpenAPI.from_dict(SPEC, config=Config(
    extra_media_type_deserializers={"application/x-ipynb+json": json.loads}))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine variables of the developer's shell must not leak into the tests."""
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "DEFAULT_MODEL", "WORKING_DIR",
                 "MAX_ITERATIONS", "AGENT_BACKEND", "OPEN_AGENT_URL", "OPEN_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """The working dir of the tasks."""
    path = tmp_path / "work"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def agent_config(fake_llm: FakeLLM, tmp_path: Path, work_dir: Path) -> dict[str, Any]:
    """``c.OpenAgent`` pointing at the fake LLM, a temp DB and a temp working dir."""
    return {"api_key": "test-key", "llm_base_url": fake_llm.base_url,
            "default_model": fake_llm.model, "db_path": str(tmp_path / "tasks.db"),
            "working_dir": str(work_dir), "max_retries": 0, "read_timeout": 10.0,
            "web_search_url": "http://127.0.0.1:9/html/"}


@pytest.fixture
def jp_server_config(agent_config: dict[str, Any]) -> dict[str, Any]:
    """Enable only this extension, configured by ``agent_config``."""
    return {"ServerApp": {"jpserver_extensions": {"open_agent_jupyter": True,
                                                  "jupyter_server_terminals": False}},
            "OpenAgent": agent_config}


@pytest.fixture
def extension(jp_serverapp: Any) -> Any:
    """The running ``OpenAgent`` extension app."""
    return jp_serverapp.web_app.settings["open_agent"]


@pytest.fixture
def api(jp_fetch: Any, jp_base_url: str) -> Any:
    """``await api(method, path, body=None, **kw) -> (status, json)``, checked against OpenAPI."""

    async def call(method: str, path: str, body: Any = None, raw: bytes | None = None,
                   validate: bool = True, **kw: Any) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if method == "POST" and data is None:
            data = b""
        response = await jp_fetch(*path.split("/"), method=method, body=data,
                                  raise_error=False, **kw)
        if validate:
            check_openapi(response, method, jp_base_url, data)
        payload = json.loads(response.body) if response.body else None
        return response.code, payload

    return call


def check_openapi(response: HTTPResponse, method: str, base_url: str,
                  body: bytes | None = None) -> None:
    """Raise if ``response`` does not match the OpenAPI document."""
    url = urlsplit(response.effective_url)
    path = "/" + url.path[len(base_url.rstrip("/")):].lstrip("/")
    args = dict(pair.split("=", 1) for pair in url.query.split("&") if "=" in pair)
    request = MockRequest("http://localhost", method, path, args=args, data=body,
                          headers={"Authorization": "token x"})
    content_type = response.headers.get("Content-Type", "").split(";")[0]
    OPENAPI.validate_response(request, MockResponse(response.body, response.code,
                                                    content_type=content_type))


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Frames of an SSE body: ``{"id", "event", "data"}`` (comments as ``{"comment"}``)."""
    frames = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        frame: dict[str, Any] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                frame.setdefault("comment", line[1:].strip())
                continue
            key, _, value = line.partition(": ")
            frame[key] = json.loads(value) if key == "data" else value
        frames.append(frame)
    return frames


async def read_stream(jp_fetch: Any, task_id: str, headers: dict[str, str] | None = None,
                      params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Follow a task's SSE stream to its end and return the frames."""
    chunks: list[bytes] = []
    response = await jp_fetch("api", "task", task_id, "stream", headers=headers or {},
                              params=params, streaming_callback=chunks.append,
                              request_timeout=60)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return parse_sse(b"".join(chunks).decode())


async def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    """Poll an (async or plain) predicate until true; fail after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")




@pytest.fixture
def short_keepalive() -> Iterator[None]:
    """Keep-alive comments every 50 ms instead of 15 s."""
    saved = TaskStreamHandler.keepalive_interval
    TaskStreamHandler.keepalive_interval = 0.05
    yield
    TaskStreamHandler.keepalive_interval = saved


@pytest.fixture
def live_server(fake_llm: FakeLLM, tmp_path: Path) -> Iterator[LiveServer]:
    """A real ``jupyter server`` subprocess (not started yet) on the fake LLM."""
    server = LiveServer(tmp_path / "live", fake_llm.base_url)
    yield server
    server.close()


@pytest.fixture
def jp_asyncio_loop(_function_scoped_runner: Any) -> Any:
    """Serve pytest-jupyter's server on the loop pytest-asyncio runs the test on.

    With ``asyncio_mode = auto`` pytest-asyncio runs async tests on its own loop, while
    pytest-jupyter would start the server on another one that never runs: every request
    would time out. Sharing the loop makes both plugins agree.
    """
    return _function_scoped_runner.get_loop()
