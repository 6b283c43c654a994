"""Fixtures of the notebook tests: a scripted LLM, an engine environment, an IPython shell,
and a real jupyter server subprocess (with the extension) for the end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakellm import FakeLLM, Reply, call, text

ANSWER = "Created **hello.py**; running it prints `Hello World`."


def hello_world(body: dict[str, Any]) -> Reply:
    """Each conversation: write hello.py, run it, answer (decided by the tool results so far)."""
    done = sum(1 for m in body.get("messages", []) if m.get("role") == "tool")
    if done == 0:
        return call("write_file", {"path": "hello.py", "content": "print('Hello World')\n"},
                    content="I will write the script.")
    if done == 1:
        return call("run_command", {"command": f"{sys.executable} hello.py"})
    return text(ANSWER)


@pytest.fixture
def agent_llm() -> Iterator[FakeLLM]:
    """A fake LLM whose default turn script makes and runs hello.py."""
    with FakeLLM(default=hello_world) as llm:
        yield llm


def engine_env(llm: FakeLLM, work: Path) -> dict[str, str]:
    """Environment variables that point the engine at ``llm`` and ``work``."""
    return {"OPENROUTER_API_KEY": "test-key", "OPENROUTER_BASE_URL": llm.base_url,
            "DEFAULT_MODEL": llm.model, "WORKING_DIR": str(work), "LLM_MAX_RETRIES": "1",
            "WEB_SEARCH_URL": "http://127.0.0.1:9/html/"}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def local_engine(agent_llm: FakeLLM, work: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No server in the environment, the engine pointed at the fake LLM; closed afterwards."""
    from open_agent_jupyter.notebook.local import close_local_runner

    monkeypatch.delenv("OPEN_AGENT_URL", raising=False)
    monkeypatch.delenv("OPEN_AGENT_TOKEN", raising=False)
    monkeypatch.delenv("OPEN_AGENT_LOCAL_DB", raising=False)
    for key, value in engine_env(agent_llm, work).items():
        monkeypatch.setenv(key, value)
    close_local_runner()
    yield work
    close_local_runner()


@pytest.fixture
def shell(local_engine: Path) -> Iterator[Any]:
    """An IPython shell with the extension loaded."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # its SQLite handle must not outlive the test threads
    ip = InteractiveShell.instance(config=config)
    ip.run_line_magic("load_ext", "open_agent_jupyter")
    yield ip
    ip.user_ns.pop("r", None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterProcess:
    """A ``jupyter server``/``jupyter lab`` subprocess on loopback with a token."""

    def __init__(self, root: Path, env: dict[str, str], app: str = "server") -> None:
        self.port = free_port()
        self.token = "nb-test-token"
        self.root = root
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = root.parent / f"jupyter-{app}.log"
        args = [sys.executable, "-m", "jupyter", app, "--no-browser", f"--port={self.port}",
                "--ip=127.0.0.1", f"--IdentityProvider.token={self.token}", "--allow-root", f"--ServerApp.root_dir={root}",
                "--ServerApp.port_retries=0", f"--config={self._config()}"]
        full = {**os.environ, **env, "JUPYTER_RUNTIME_DIR": str(root.parent / "runtime")}
        for name in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN"):
            full.pop(name, None)
        if "OPENROUTER_API_KEY_FILE" in env:  # the developer's own key must not win
            full.pop("OPENROUTER_API_KEY", None)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(args, env=full, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _config(self) -> Path:
        path = self.root.parent / "jupyter_test_config.py"
        # JupyterLab's news feed, update check and extension manager would reach the internet.
        path.write_text("c.ServerApp.jpserver_extensions = {'open_agent_jupyter': True}\n"
                        f"c.OpenAgent.db_path = {str(self.root.parent / 'tasks.db')!r}\n"
                        "c.LabApp.news_url = None\n"
                        "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n"
                        "c.LabApp.extension_manager = 'readonly'\n")
        return path

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "api/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"jupyter did not start:\n{self.log.read_text()[-3000:]}")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture(scope="module")
def module_llm() -> Iterator[FakeLLM]:
    with FakeLLM(default=hello_world) as llm:
        yield llm


@pytest.fixture(scope="module")
def jupyter_server(module_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[JupyterProcess]:
    """A real jupyter server with the extension, its agent pointed at the fake LLM.

    The key comes from a file: the server keeps OPENROUTER_API_KEY from its kernels, while
    OPENROUTER_API_KEY_FILE is inherited, so ``%agent --local`` in a kernel works too.
    """
    root = tmp_path_factory.mktemp("server") / "root"
    root.mkdir()
    key_file = root.parent / "llm-key"
    key_file.write_text("test-key\n")
    env = engine_env(module_llm, root)
    env.pop("OPENROUTER_API_KEY")
    server = JupyterProcess(root, {**env, "OPENROUTER_API_KEY_FILE": str(key_file)})
    yield server
    server.close()
