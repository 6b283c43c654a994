"""A real, isolated ``opencode serve`` for tests and benchmarks.

``find_opencode()`` returns the binary: ``opencode`` on PATH, else the one in the
cache folder, installing the pinned npm package there first when it is missing.
``OpenCodeServer`` starts it on a free loopback port with a scratch HOME/XDG dirs,
offline switches and a config whose only provider is an OpenAI-compatible one at the
given base URL (the tests' fake LLM), and waits until ``/global/health`` answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.npmcache import CACHE_ROOT, npm_program

VERSION = "1.18.33"
PROVIDER, MODEL = "fake", "fake-model"
CACHE = CACHE_ROOT / "opencode"
_CANDIDATES = ("node_modules/opencode-linux-x64/bin/opencode", "node_modules/.bin/opencode")


def find_opencode(cache: Path = CACHE) -> Path:
    """The opencode binary, installed from npm into ``cache`` when not found."""
    return npm_program("opencode", f"opencode-ai@{VERSION}", cache, _CANDIDATES)


def config(llm_base_url: str, permission: dict[str, str] | None = None) -> dict[str, Any]:
    """An OpenCode config with one OpenAI-compatible provider at ``llm_base_url``."""
    model = {"name": "Fake", "tool_call": True, "limit": {"context": 128000, "output": 8192},
             "cost": {"input": 3, "output": 15, "cache_read": 0.3}}
    data: dict[str, Any] = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {PROVIDER: {"npm": "@ai-sdk/openai-compatible", "name": "Fake",
                                "options": {"baseURL": llm_base_url, "apiKey": "x"},
                                "models": {MODEL: model}}},
        "model": f"{PROVIDER}/{MODEL}", "small_model": f"{PROVIDER}/{MODEL}",
        "autoupdate": False, "share": "disabled", "snapshot": False,
    }
    if permission:
        data["permission"] = permission
    return data


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OpenCodeServer:
    """``opencode serve`` in a scratch home; a context manager."""

    def __init__(self, home: Path, llm_base_url: str,
                 permission: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "opencode.log"
        self._config = config(llm_base_url, permission)
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """The isolated environment the server runs in."""
        h = str(self.home)
        return dict(os.environ, HOME=h, XDG_CONFIG_HOME=f"{h}/.config",
                    XDG_DATA_HOME=f"{h}/.local/share", XDG_CACHE_HOME=f"{h}/.cache",
                    XDG_STATE_HOME=f"{h}/.local/state",
                    OPENCODE_CONFIG_CONTENT=json.dumps(self._config),
                    OPENCODE_DISABLE_MODELS_FETCH="1", OPENCODE_DISABLE_AUTOUPDATE="1",
                    OPENCODE_DISABLE_SHARE="1", OPENCODE_DISABLE_LSP_DOWNLOAD="1",
                    OPENCODE_DISABLE_DEFAULT_PLUGINS="1")

    def start(self, timeout: float = 60.0) -> OpenCodeServer:
        """Start the server and wait until it reports healthy."""
        self.home.mkdir(parents=True, exist_ok=True)
        binary = find_opencode()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(binary), "serve", "--hostname", "127.0.0.1", "--port", str(self.port),
                 "--print-logs"], env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"opencode serve exited: {self.log_tail()}")
            if self.healthy():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"opencode serve not ready after {timeout} s: {self.log_tail()}")

    def healthy(self) -> bool:
        """One health probe with a short timeout (a too-early connection can hang)."""
        try:
            resp = httpx.get(self.url + "/global/health", timeout=1.0)
        except httpx.HTTPError:
            return False
        return resp.status_code == 200 and bool(resp.json().get("healthy"))

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's output."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the server (kill it if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> OpenCodeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
