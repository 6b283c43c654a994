"""The in-kernel engine in a real kernel (nbclient): its news goes to the task's log only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.fakellm import FakeLLM, call, fault, text
from tests.notebook.conftest import engine_env


def run_cells(cells: list[str], cwd: Path, timeout: int = 120) -> Any:
    """Execute ``cells`` in a fresh python3 kernel; the executed notebook."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def streams(cell: Any, name: str) -> str:
    return "".join(o["text"] for o in cell.outputs
                   if o["output_type"] == "stream" and o["name"] == name)


@pytest.fixture
def kernel_env(agent_llm: FakeLLM, work: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel inherits an environment that points the in-kernel engine at the fake LLM."""
    for name in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN", "OPEN_AGENT_LOCAL_DB"):
        monkeypatch.delenv(name, raising=False)
    for key, value in engine_env(agent_llm, work).items():
        monkeypatch.setenv(key, value)
    return work


def test_the_in_kernel_engine_writes_nothing_to_stderr(agent_llm: FakeLLM,
                                                       kernel_env: Path) -> None:
    agent_llm.script(fault(429, "busy", headers={"Retry-After": "0"}),
                     call("run_command", {"command": "echo to-the-log >&2"}),
                     call("read_file", {"path": "missing.txt"}), text("all done"))
    nb = run_cells(["%load_ext open_agent_jupyter",
                    "r = %agent --local say hi",
                    "print(r.status, [e.get('kind') or e.get('stream') for e in r.log "
                    "if e['entry_type'] in ('notice', 'tool_output')][:2])"], kernel_env)
    assert [streams(cell, "stderr") for cell in nb.cells] == ["", "", ""]
    assert "completed ['retry', 'stderr']" in streams(nb.cells[2], "stdout")


FIND_VIEW = ("from ipywidgets.widgets.widget import _instances\n"
             "from open_agent_jupyter.notebook.widgets import TaskWidget\n"
             "w = [x for x in list(_instances.values()) if isinstance(x, TaskWidget)][-1]\n")

WATCH = FIND_VIEW + """import time
rows, seen_live, headers, running = w.tool_row_list, [], set(), set()
while r.status not in ('completed', 'failed', 'cancelled') or w.status not in ('completed', 'failed', 'cancelled'):
    row = w.tool_row_list[0] if w.tool_row_list else None
    if row is not None and row.ok is None and row.live.layout.display == '':
        seen_live.append(row.live.value.count('line '))
        running.add(row.summary.value.split('running ')[-1].split(' s')[0])
    headers.add(w.header.value)
    time.sleep(0.05)
    r.refresh()
print('LIVE', max(seen_live) >= 3, 'earlier lines' in row.live.value or len(seen_live) > 0)
print('TICKS', len(running) >= 2, len(headers) >= 3)
print('STOP', w.stop_button.layout.display, w.conn_label.layout.display)
print('TIMELINE', w.timeline.layout.max_height, w.timeline.layout.flex_flow, w.timeline.layout.overflow)
"""

INSPECT = """rows = w.tool_row_list
for row in rows:
    row.toggle.value = True
new, over = rows[1], rows[2]
print('CODE', 'color' in new.details.children[0].value and 'more lines' in new.details.children[0].value)
print('FOLDED', 'rgba(248, 81, 73' in over.result_html.value, 'rgba(46, 160, 67' in over.result_html.value)
over.unfold()
print('DIFF', 'rgba(248, 81, 73' in over.result_html.value and 'rgba(46, 160, 67' in over.result_html.value)
print('ANSWERS', len(w.answer.outputs))
"""

LONG_SCRIPT = "".join(f"def f{i}():\n    return {i}\n" for i in range(30))


def test_the_live_view_in_a_kernel(agent_llm: FakeLLM, kernel_env: Path) -> None:
    ticking = "for i in $(seq 1 25); do echo line $i; sleep 0.1; done"
    agent_llm.script(call("run_command", {"command": ticking}),
                     call("write_file", {"path": "app.py", "content": LONG_SCRIPT}),
                     call("write_file", {"path": "app.py", "content": "def f0():\n    return 'new'\n"}),
                     text("All **done**."))
    nb = run_cells(["%load_ext open_agent_jupyter",
                    "r = %agent --local --background Tick, then write app.py twice",
                    WATCH, INSPECT], kernel_env)
    out = streams(nb.cells[2], "stdout") + streams(nb.cells[3], "stdout")
    assert "LIVE True True" in out  # the running row showed the output's last lines
    assert "TICKS True True" in out  # "running N s" and the header's elapsed time moved
    assert "STOP none none" in out  # no Stop and no connection line once final
    assert "TIMELINE 420px column-reverse hidden auto" in out
    assert "CODE True" in out and "FOLDED True False" in out  # long content and diff fold
    assert "DIFF True" in out and "ANSWERS 1" in out
    assert [streams(cell, "stderr") for cell in nb.cells] == ["", "", "", ""]


def test_one_rendering_of_the_answer_and_of_an_error(agent_llm: FakeLLM,
                                                     kernel_env: Path) -> None:
    agent_llm.script(text("The **answer**."), fault(401, "bad key"))
    nb = run_cells(["%load_ext open_agent_jupyter",
                    "%agent --local Answer me",
                    "%agent --local Fail please",
                    FIND_VIEW + "print('ERR', [type(x).__name__ for x in w.rows], "
                    "repr(w.message.value), w.status)",
                    "_agent"], kernel_env)
    for cell in nb.cells[1:3]:
        kinds = [o["output_type"] for o in cell.outputs]
        assert kinds == ["display_data"], kinds  # the one display; no Out[] of the value
    assert "ERR ['HTML'] '' failed" in streams(nb.cells[3], "stdout")  # the error row only
    [shown] = nb.cells[4].outputs  # in a later cell the value shows its summary and error
    assert "invalid API key" in shown["data"]["text/markdown"]


def test_a_blocking_cell_shows_stop_unavailable(agent_llm: FakeLLM, kernel_env: Path) -> None:
    nb = run_cells(["%load_ext open_agent_jupyter",
                    "def run():\n    return get_ipython().run_line_magic('agent', '--local hi')\n"
                    "r = run()",
                    FIND_VIEW + "print('STOP', w.stop_button.description, '|', "
                    "w.stop_button.tooltip)"], kernel_env)
    line = streams(nb.cells[2], "stdout")
    assert "STOP Stop unavailable | Stop is unavailable: this cell blocks the kernel" in line


def test_the_kernel_engine_takes_a_key_set_after_a_failure(agent_llm: FakeLLM,
                                                          kernel_env: Path) -> None:
    nb = run_cells(["import os\nos.environ.pop('OPENROUTER_API_KEY')",
                    "%load_ext open_agent_jupyter",
                    "first = %agent --local Say hi",
                    "os.environ['OPENROUTER_API_KEY'] = 'set-later-key'",
                    'second = %agent --local Write config.json containing {"a": 1}',
                    "print('RUNS', first.status, second.status)"], kernel_env)
    assert "RUNS failed completed" in streams(nb.cells[5], "stdout")
    sent = [m["content"] for m in agent_llm.chat_requests()[-1]["messages"]
            if m["role"] == "user"]
    assert sent[0] == 'Write config.json containing {"a": 1}'  # the braces stay as written
