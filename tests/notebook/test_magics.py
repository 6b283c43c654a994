"""``%agent`` in a plain IPython shell, running the real engine in-process against the fake LLM."""

from __future__ import annotations

import _thread
import threading
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from open_agent_jupyter.notebook.magics import fill_task, split_options
from open_agent_jupyter.notebook.result import AgentResult
from tests.fakellm import FakeLLM, text
from tests.notebook.conftest import ANSWER


def test_line_magic_runs_the_task_and_returns_a_result(shell: Any, local_engine: Path) -> None:
    outcome = shell.run_cell("r = %agent --max-iterations 5 Create hello.py that prints Hello World")
    assert outcome.error_in_exec is None
    r: AgentResult = shell.user_ns["r"]
    assert r.status == "completed", r.error
    assert r.result == ANSWER
    assert (local_engine / "hello.py").read_text() == "print('Hello World')\n"
    kinds = [e["entry_type"] for e in r.log]
    assert kinds.count("tool_call") == 2 and kinds.count("tool_result") == 2
    assert r.usage["prompt_tokens"] > 0 and r.iterations == 3
    assert r.data["max_iterations"] == 5
    md = r._repr_markdown_()
    assert "**completed** · 3 iterations" in md and ANSWER in md


def test_cell_magic_fills_names_and_shows_the_widget(shell: Any, agent_llm: FakeLLM) -> None:
    shell.user_ns["target"] = "hello.py"
    shell.run_cell_magic("agent", "--model fake/model", "Create {target} printing {{hi}}")
    user_task = [m for m in agent_llm.chat_requests()[0]["messages"] if m["role"] == "user"]
    assert user_task[0]["content"] == "Create hello.py printing {hi}"
    from open_agent_jupyter.notebook import local

    runner = local.local_runner()
    listed = runner.list()["tasks"]
    assert listed[0]["task"] == "Create hello.py printing {hi}"
    assert listed[0]["status"] == "completed"
    figures = runner.get(listed[0]["id"], log=False)
    assert "log" not in figures and figures["status"] == "completed"


def test_working_dir_is_relative_to_the_notebook(shell: Any, agent_llm: FakeLLM,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nb" / "project").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "nb")  # a kernel's cwd is its notebook's folder
    r = shell.run_line_magic("agent", "--working-dir project Create hello.py")
    assert r.data["working_dir"] == str(tmp_path / "nb" / "project")
    assert (tmp_path / "nb" / "project" / "hello.py").exists()


def test_background_returns_at_once_and_wait_finishes(shell: Any, agent_llm: FakeLLM) -> None:
    agent_llm.script(text("slow answer", delay=1.0))
    r = shell.run_line_magic("agent", "--background Answer slowly")
    assert r.status in ("pending", "running")
    assert r.wait(timeout=30).status == "completed"
    assert r.result == "slow answer"


def test_interrupt_stops_the_task(shell: Any, agent_llm: FakeLLM) -> None:
    agent_llm.script(text("never seen", delay=5.0))
    started = threading.Event()

    def interrupt_when_asked() -> None:
        while not agent_llm.chat_requests():
            started.wait(0.02)
        _thread.interrupt_main()  # what a kernel interrupt (SIGINT) does

    threading.Thread(target=interrupt_when_asked, daemon=True).start()
    with pytest.raises(KeyboardInterrupt, match="stopped"):
        shell.run_line_magic("agent", "Take your time")
    r = shell.user_ns["_agent"]
    assert r.status == "cancelled"
    assert r.result is None


@pytest.mark.parametrize("line", ["", "   ", "--model m", "--bogus Create x",
                                  "--max-iterations 0 do it", "--backend nope do it"])
def test_usage_errors_show_the_usage_line(shell: Any, line: str) -> None:
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("agent", line)
    assert "usage: %agent" in str(info.value)


def test_missing_name_is_a_usage_error(shell: Any) -> None:
    with pytest.raises(UsageError, match="no variable 'nowhere'"):
        shell.run_cell_magic("agent", "", "Fix {nowhere}")


def test_unreachable_server_mentions_local(shell: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPEN_AGENT_URL", "http://127.0.0.1:9/")
    with pytest.raises(UsageError, match="--local"):
        shell.run_line_magic("agent", "Create hello.py")
    r = shell.run_line_magic("agent", "--local Create hello.py")
    assert r.status == "completed"


def test_option_splitting_keeps_the_task_verbatim() -> None:
    assert split_options('--model "a b" --background Say "hi" --now') == (
        "--model 'a b' --background", 'Say "hi" --now')
    assert split_options("--local -- --literal task") == ("--local", "--literal task")
    assert split_options("--model=x task") == ("--model=x", "task")
    assert fill_task("{n!r} and {d[k]}", {"n": "x", "d": {"k": 2}}) == "'x' and 2"
    # braces around anything but a name or expression stay as written (JSON, code, "{}")
    assert fill_task("{}", {}) == "{}"
    assert fill_task("unbalanced {", {}) == "unbalanced {"
    assert fill_task('Write config.json containing {"a": 1}', {}) == \
        'Write config.json containing {"a": 1}'
    assert fill_task('{"a": {"b": [1, 2]}} for {n}', {"n": 3}) == '{"a": {"b": [1, 2]}} for 3'
    assert fill_task("{ n } {:>3} {'k': n} {{n}} {n:>3}", {"n": 7}) == \
        "{ n } {:>3} {'k': n} {n}   7"
    with pytest.raises(UsageError, match="no variable 'missing'"):
        fill_task("{missing}", {})
    with pytest.raises(UsageError):
        fill_task("{d[missing]}", {"d": {}})
    with pytest.raises(UsageError):
        fill_task("{n[0]}", {"n": 3})


def test_the_widget_exports_its_task_as_a_notebook(shell: Any, local_engine: Path,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat

    from open_agent_jupyter.notebook import local
    from open_agent_jupyter.notebook.widgets import TaskWidget

    r = shell.run_line_magic("agent", "Create hello.py that prints Hello World")
    monkeypatch.chdir(tmp_path)  # a kernel's cwd: the notebook's folder
    widget = TaskWidget(local.local_runner(), r.id)
    assert widget.export_bar.note.value == ""  # no server: no download link
    widget.export_bar.button.click()
    (path,) = tmp_path.glob("open-agent-*.ipynb")
    assert path.name.endswith(f"-{r.id[:8]}.ipynb")
    assert f"href='{path.name}'" in widget.export_bar.note.value
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "code"] == [
        "%%writefile hello.py", "%%bash"]
    widget.close()


def test_a_server_task_links_to_its_download() -> None:
    from open_agent_jupyter.notebook.client import AgentClient
    from open_agent_jupyter.notebook.widgets import TaskWidget

    with AgentClient("http://127.0.0.1:9/user/ann/", "t") as client:
        widget = TaskWidget(client, "0b3c5d6e-1")
        assert ("href='/user/ann/api/task/0b3c5d6e-1/notebook' download"
                in widget.export_bar.note.value)
        assert widget.export_bar.export() is None  # the server is unreachable: said, not raised
        assert "could not export" in widget.export_bar.note.value
        widget.close()
