"""A real ``jupyter server`` subprocess with the extension, for restart tests and benchmarks.

It gets its own config, data and runtime dirs, a fixed token, a free port on
127.0.0.1 and the engine's settings through the environment (as a user would set
them). Output goes to a log file so a full pipe can never stall the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN = "live-test-token"
ONLY_THIS_EXTENSION = {"open_agent_jupyter": True, "jupyterlab": False, "jupyter_lsp": False,
                       "notebook_shim": False, "jupyter_server_terminals": False}


#: Jupyter refuses to run as root unless told (CI containers often are root).
ROOT_ARGS = ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """Start, kill and restart a jupyter server on one database."""

    def __init__(self, home: Path, llm_base_url: str, *, base_url: str = "/",
                 extra_env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                 db_path: Path | None = None) -> None:
        """``db_path``: another server's database, to run two servers on one store."""
        self.home = home
        self.port = free_port()
        self.base_url = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
        self.db_path = db_path or home / "tasks.db"
        self.work = home / "work"
        self.log_path = home / "server.log"
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        for sub in ("config", "data", "runtime", "work"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        config = {"ServerApp": {"jpserver_extensions": ONLY_THIS_EXTENSION}}
        (home / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        self.env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
                    "JUPYTER_DATA_DIR": str(home / "data"),
                    "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                    "OPENROUTER_API_KEY": "test-key", "OPENROUTER_BASE_URL": llm_base_url,
                    "DEFAULT_MODEL": "fake/model", "LLM_MAX_RETRIES": "0",
                    "WEB_SEARCH_URL": "http://127.0.0.1:9/html/", **(extra_env or {})}
        self.env.pop("JUPYTER_TOKEN", None)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}{self.base_url}",
                                 headers={"Authorization": f"token {TOKEN}"}, timeout=30)

    def command(self) -> list[str]:
        """The command line of the server."""
        return [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                "--ServerApp.open_browser=False", f"--ServerApp.base_url={self.base_url}",
                f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={self.work}",
                f"--OpenAgent.db_path={self.db_path}", *ROOT_ARGS, *self.args]

    def start(self, timeout: float = 60.0) -> LiveServer:
        """Start the server and wait until /api/health answers."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.command(), env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=self.work)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited:\n{self.log_path.read_text()}")
            try:
                if self.http.get("api/health").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"jupyter server did not answer:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        """SIGTERM (Jupyter shuts down cleanly), SIGKILL if it does not."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def rss_mb(self) -> float:
        """Resident memory of the server process in MB (from /proc)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def submit(self, task: str, **options: Any) -> str:
        """POST /api/task and return the id."""
        response = self.http.post("api/task", json={"task": task, **options})
        response.raise_for_status()
        return response.json()["id"]

    def wait_status(self, task_id: str, statuses: set[str], timeout: float = 60.0) -> dict:
        """Poll GET /api/task/{id} until its status is one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.http.get(f"api/task/{task_id}").json()
            if task["status"] in statuses:
                return task
            time.sleep(0.05)
        raise TimeoutError(f"task {task_id} stayed {task['status']}")

    def close(self) -> None:
        """Stop the server and the client."""
        self.stop()
        self.http.close()
