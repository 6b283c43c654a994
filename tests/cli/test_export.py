"""``open-agent export`` (a real subprocess) and ``AgentResult.to_notebook`` against a live server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from open_agent_jupyter.notebook.client import AgentClient
from open_agent_jupyter.notebook.result import AgentResult
from tests.fakellm import FakeLLM, call, text
from tests.server.liveserver import TOKEN, LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, bytes]]:
    """A live server with one finished task: (server, task id, its exported notebook)."""
    with FakeLLM() as llm:
        live = LiveServer(tmp_path_factory.mktemp("export"), llm.base_url)
        live.start()
        llm.script(call("run_command", {"command": "echo exported"}), text("It echoed."))
        task_id = live.submit("Echo something")
        live.wait_status(task_id, {"completed"})
        body = live.http.get(f"api/task/{task_id}/notebook").content
        yield live, task_id, body
        live.close()


def export(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN", "OPEN_AGENT_LOCAL_DB")}
    return subprocess.run([sys.executable, "-m", "open_agent_jupyter.cli", "export", *args],
                          env={**clean, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def url_of(live: LiveServer) -> str:
    return f"http://127.0.0.1:{live.port}/"


def test_export_from_the_server_and_from_the_database(server: Any, tmp_path: Path) -> None:
    live, task_id, body = server
    done = export([task_id, "-o", "a.ipynb", "--server", url_of(live), "--token", TOKEN],
                  tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("a.ipynb (") and "completed" in done.stdout
    assert (tmp_path / "a.ipynb").read_bytes() == body
    nb = nbformat.read(tmp_path / "a.ipynb", as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.cells[1].source == "%%bash\necho exported"

    done = export([task_id], tmp_path, OPEN_AGENT_URL=url_of(live), OPEN_AGENT_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr
    named = tmp_path / f"open-agent-echo-something-{task_id[:8]}.ipynb"
    assert named.read_bytes() == body

    done = export([task_id, "--db", str(live.db_path), "-o", "-"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.encode() == body
    done = export([task_id, "-o", str(tmp_path)], tmp_path, OPEN_AGENT_LOCAL_DB=str(live.db_path))
    assert done.returncode == 0 and named.read_bytes() == body


def test_agent_result_to_notebook(server: Any, tmp_path: Path) -> None:
    live, task_id, body = server
    with AgentClient(url_of(live), TOKEN) as client:
        result = AgentResult(client, task_id)
        path = result.to_notebook(tmp_path / "mine.ipynb")
        assert path == tmp_path / "mine.ipynb" and path.read_bytes() == body
        assert result.to_notebook(tmp_path).name.startswith("open-agent-echo-something-")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["00000000-0000-4000-8000-000000000000"], 1, "no task with id"),
    (["x", "--db", "{tmp}/missing.db"], 1, "no task database at"),
    (["x", "-o", "{tmp}/no/such/dir/x.ipynb", "--db", "{db}"], 2, "its folder does not exist"),
    (["x", "--db", "{db}", "--token", "t"], 2, "--token goes with --server"),
    (["x", "--db", "{db}", "--server", "http://127.0.0.1:9/"], 2, "not allowed with"),
    ([], 2, "the following arguments are required: ID"),
    (["x", "--server", "http://127.0.0.1:9/"], 1, "cannot reach"),
])
def test_bad_input_is_a_message_never_a_traceback(server: Any, tmp_path: Path, args: list[str],
                                                  code: int, message: str) -> None:
    live, _, _ = server
    args = [a.format(tmp=tmp_path, db=live.db_path) for a in args]
    done = export(args, tmp_path, OPEN_AGENT_URL=url_of(live), OPEN_AGENT_TOKEN=TOKEN)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.ipynb"))
