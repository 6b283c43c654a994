"""The task panel over the in-process engine: submit, list, follow, filter, stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from open_agent_jupyter.notebook.local import local_runner
from open_agent_jupyter.notebook.panel import TaskPanel, agent_panel
from tests.fakellm import FakeLLM, text
from tests.notebook.conftest import ANSWER


def test_submit_follow_filter(local_engine: Path) -> None:
    panel = TaskPanel(local_runner(), auto_refresh=0)
    assert panel.task_list.options == ()
    panel.submit_button.click()
    assert "type a task first" in panel.message.value

    panel.task_input.value = "Create hello.py that prints Hello World"
    panel.submit_button.click()
    assert panel.task_input.value == ""
    current = panel.current
    assert current is not None and panel.detail.children == (current,)
    assert current.follower.join(60)
    assert current.status == "completed" and current.answer_text == ANSWER
    assert [r.tool for r in current.tool_row_list] == ["write_file", "run_command"]

    panel.refresh()
    (label, task_id), = panel.task_list.options
    assert task_id == current.task_id and panel.task_list.value == task_id
    assert label.startswith("✔ ") and "3 it" in label and "Create hello" in label
    panel.status_filter.value = "failed"
    assert panel.task_list.options == ()
    panel.status_filter.value = "all"
    assert len(panel.task_list.options) == 1
    panel.close()
    assert current.connection == "disconnected"


def test_stop_from_the_panel(local_engine: Path, agent_llm: FakeLLM) -> None:
    agent_llm.script(text("too late", delay=5.0))
    panel = agent_panel(auto_refresh=0)
    assert isinstance(panel.client, type(local_runner()))
    panel.task_input.value = "Think for a long time"
    task_id = panel.submit()
    while not agent_llm.chat_requests():
        panel.current.follower.join(0.02)
    panel.current.stop_button.click()
    assert panel.current.follower.join(30)
    assert panel.current.status == "cancelled"
    assert local_runner().get(task_id)["status"] == "cancelled"
    panel.close()


def test_agent_panel_magic(shell: Any, capsys: Any) -> None:
    shell.run_line_magic("agent_panel", "--local")
    assert "TaskPanel" in capsys.readouterr().out
