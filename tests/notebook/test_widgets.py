"""The live widget fed a recorded event sequence; Stop through a real loopback API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from open_agent_jupyter.notebook.client import AgentClient
from open_agent_jupyter.notebook.panel import age, task_label
from open_agent_jupyter.notebook.rows import FOLD_CHARS, ToolRow
from open_agent_jupyter.notebook.widgets import TaskWidget
from tests.notebook.flakysse import FlakySSE

LONG = "line of output\n" * 400  # 6000 characters: folded


def log(seq: int, entry_type: str, content: str = "", **extra: Any) -> tuple[str, dict]:
    return "log", {"seq": seq, "timestamp": "2025-01-01T00:00:00+00:00",
                   "entry_type": entry_type, "content": content, **extra}


RECORDED = [
    log(1, "thinking", "I will look at the file first."),
    log(2, "tool_call", "", tool="read_file", call_id="c1", arguments={"path": "notes.txt"}),
    log(3, "tool_result", "hello", tool="read_file", call_id="c1", ok=True, duration_ms=3.2),
    log(4, "tool_call", "", tool="run_command", call_id="c2",
        arguments={"command": "python build.py --all", "timeout_secs": 60}),
    log(5, "tool_result", LONG, tool="run_command", call_id="c2", ok=False, duration_ms=1500.0),
    log(6, "response", "Done: **notes.txt** says `hello`."),
    ("done", {"status": "completed", "result": "Done: **notes.txt** says `hello`.",
              "iterations": 3, "usage": {"prompt_tokens": 300, "completion_tokens": 60,
                                         "cost_usd": 0.0018}}),
]


@pytest.fixture
def api() -> Iterator[FlakySSE]:
    server = FlakySSE()
    yield server
    server.close()


def test_recorded_sequence_builds_rows_answer_and_header() -> None:
    widget = TaskWidget(task_id="t1")
    widget.apply_task({"id": "t1", "status": "running", "task": "Read notes.txt",
                       "model": "fake/model", "max_iterations": 20, "iterations": 1,
                       "estimate": {"iterations": 4, "cost_usd": 0.002},
                       "started_at": "2025-01-01T00:00:00+00:00"})
    assert "expected ≈4 iterations, ≈$0.0020" in widget.header.value
    for event, data in RECORDED:
        widget.apply(event, data)

    rows = widget.tool_row_list
    assert [r.tool for r in rows] == ["read_file", "run_command"]
    assert rows[0].ok is True and "✔" in rows[0].summary.value and "3 ms" in rows[0].summary.value
    assert rows[1].ok is False and "✘ error" in rows[1].summary.value
    assert "command=python build.py --all" in rows[1].summary.value
    assert len(widget.rows) == 3  # the thinking text, then two tool rows
    assert widget.status == "completed"
    assert "● completed" in widget.header.value and "iteration 3/20" in widget.header.value
    assert "360 tokens" in widget.header.value and "$0.0018" in widget.header.value
    assert widget.answer.outputs[0]["data"]["text/markdown"] == RECORDED[5][1]["content"]
    assert len(widget.answer.outputs) == 1, "the answer is not shown twice"
    assert widget.stop_button.disabled


def test_rows_open_and_long_results_fold() -> None:
    widget = TaskWidget(task_id="t1")
    for event, data in RECORDED[:5]:
        widget.apply(event, data)
    row = widget.tool_row_list[1]
    assert row.details is None and not row.expanded, "details are built on first open"
    row.toggle.value = True
    assert row.details is not None and row.details.layout.display == ""
    assert '"timeout_secs": 60' in row.details.children[0].value
    assert f"{len(LONG) - FOLD_CHARS:,} more characters" in row.result_html.value
    assert LONG not in row.result_html.value
    row.unfold_button.click()
    assert row.result_html.value.count("line of output") == 400
    row.toggle.value = False
    assert row.details.layout.display == "none"


def test_result_without_call_and_error_entry_are_shown() -> None:
    widget = TaskWidget(task_id="t1")
    widget.apply(*log(7, "tool_result", "late", tool="git_status", call_id="x", ok=True))
    widget.apply(*log(8, "error", "LLM endpoint said 401"))
    widget.apply("done", {"status": "failed", "error": "invalid API key", "usage": {}})
    assert isinstance(widget.rows[0], ToolRow) and widget.rows[0].ok is True
    assert "LLM endpoint said 401" in widget.rows[1].value
    assert "invalid API key" in widget.message.value and widget.status == "failed"


def test_a_call_cut_short_by_the_end_says_so() -> None:
    widget = TaskWidget(task_id="t1")
    widget.apply(*RECORDED[3])
    row = widget.tool_row_list[0]
    assert "running" in row.summary.value
    widget.apply("done", {"status": "cancelled", "error": "stopped", "usage": {}})
    assert "no result" in row.summary.value and "running" not in row.summary.value


def test_five_hundred_tool_calls_render_a_window() -> None:
    widget = TaskWidget(task_id="t1", page_size=50, visible_pages=4)
    for i in range(500):
        widget.apply(*log(2 * i + 1, "tool_call", tool="read_file", call_id=f"c{i}",
                          arguments={"path": f"f{i}.py"}))
        widget.apply(*log(2 * i + 2, "tool_result", "x", tool="read_file", call_id=f"c{i}",
                          ok=True, duration_ms=1))
    assert len(widget.tool_row_list) == 500
    assert all(r.ok for r in widget.tool_row_list)
    assert widget.rendered_rows == 200
    assert all(len(page.children) <= 50 for page in widget.pages)
    assert widget.earlier_button.description == "show 300 earlier rows"
    widget.earlier_button.click()
    assert widget.rendered_rows == 500
    assert widget.earlier_button.layout.display == "none"


def test_stop_button_calls_the_api(api: FlakySSE) -> None:
    client = AgentClient(api.url, "secret")
    widget = TaskWidget(client, "t1")
    widget.apply(*RECORDED[1])
    widget.stop_button.click()
    assert ("POST", "/api/task/t1/stop") in [(m, p) for m, p, _h in api.requests]
    assert widget.status == "cancelled" and widget.stop_button.disabled


def test_stop_failure_is_shown_and_button_comes_back() -> None:
    client = AgentClient("http://127.0.0.1:9/", "secret")  # nothing listens on port 9
    widget = TaskWidget(client, "t1")
    widget.stop_button.click()
    assert "could not stop the task" in widget.message.value
    assert not widget.stop_button.disabled



def test_closing_the_widget_cancels_its_stream(api: FlakySSE) -> None:
    from open_agent_jupyter.notebook.follow import follow
    from tests.notebook.flakysse import Step

    api.plan = [Step(3, end="hang")]
    widget = follow(AgentClient(api.url, "secret"), "t1")
    while len(widget.rows) < 3:
        widget.follower.join(0.01)
    assert widget.connection == "connected"
    widget.close()
    assert widget.follower.join(10), "the follower ended"
    assert widget.connection == "disconnected"
    assert widget.follower.error is None


def test_a_view_closed_before_its_stream_never_opens_it(api: FlakySSE) -> None:
    from open_agent_jupyter.notebook.follow import Follower
    from tests.notebook.flakysse import Step

    api.plan = [Step(3, end="hang")]
    client = AgentClient(api.url, "secret")
    widget = TaskWidget(client, "t1")
    widget.close()
    follower = Follower(client, "t1", widget).start()
    assert follower.join(10) and follower.error is None
    assert [p for _m, p, _h in api.requests if p.endswith("/stream")] == []
    assert widget.connection == "disconnected"


def test_closing_closes_every_part_of_the_view() -> None:
    widget = TaskWidget(task_id="t1", page_size=5, visible_pages=1)
    for i in range(12):
        widget.apply(*log(i + 1, "tool_call", tool="read_file", call_id=f"c{i}",
                          arguments={"path": f"f{i}.py"}))
    widget.tool_row_list[0].toggle.value = True  # built details
    parts = [widget, *widget.rows, *widget.pages, widget.header, widget.stop_button,
             widget.tool_row_list[0].details, widget.tool_row_list[0].toggle.layout]
    assert all(w.comm is not None for w in parts)
    widget.close()
    assert [w for w in parts if w.comm is not None] == []
    widget.apply(*log(13, "tool_call", tool="read_file", call_id="late", arguments={}))
    assert len(widget.rows) == 12, "a closed view takes no more events"


def test_panel_labels() -> None:
    assert age("2025-01-01T00:00:00+00:00", now=_t("2025-01-01T00:03:10+00:00")) == "3 min ago"
    assert age("2025-01-01T00:00:00+00:00", now=_t("2025-01-01T00:00:09+00:00")) == "9 s ago"
    label = task_label({"status": "running", "task": "Make\na thing", "iterations": 4,
                        "usage": {"cost_usd": 0.01234}, "created_at": None})
    assert label == "◐ Make a thing · 4 it · $0.01"
    assert "4 it" in label and "$0.01" in label and "Make a thing" in label
    long = task_label({"status": "completed", "task": "word " * 40, "iterations": 12,
                       "usage": {"cost_usd": 1.5}, "created_at": "2025-01-01T00:00:00+00:00"})
    assert len(long) <= 42 and "…" in long and long.endswith("12 it · $1.50")


def _t(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_a_python_plot_shows_inline_in_its_row() -> None:
    widget = TaskWidget(task_id="t1")
    widget.apply(*log(1, "tool_call", "python(...)", tool="python", call_id="p",
                      arguments={"code": "plot()"}))
    plot = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=",
                                                    "text/plain": "<Figure>"}, "metadata": {}}
    widget.apply(*log(2, "tool_result", "display: image/png image", tool="python",
                      call_id="p", ok=True, outputs=[plot]))
    row = widget.tool_row_list[0]
    assert row.rich is not None and row.rich in row.children
    assert row.rich.outputs[0]["data"]["image/png"] == "iVBORw0KGgo="
    assert not row.expanded  # visible without opening the row


def test_live_output_notices_and_git_diff_rows() -> None:
    widget = TaskWidget(task_id="t1")
    widget.apply(*log(1, "notice", "LLM call failed (HTTP 429); retry 1 of 4 in 1.0 s",
                      kind="retry", details={"attempt": 1}))
    widget.apply(*log(2, "tool_call", "", tool="run_command", call_id="c1",
                      arguments={"command": "make"}))
    for i in range(20):
        widget.apply(*log(3 + i, "tool_output", f"line {i}\n", tool="run_command",
                          call_id="c1", stream="stdout"))
    row = widget.tool_row_list[0]
    assert "line 19" in row.live.value and "line 11" not in row.live.value
    assert "12 earlier lines" in row.live.value and "running" in row.summary.value
    row.toggle_output()
    assert "line 0\n" in row.live.value  # "show all output"
    widget.apply(*log(30, "tool_result", "Exit code: 0", tool="run_command", call_id="c1",
                      ok=True, duration_ms=2000.0))
    assert row.live.layout.display == "none"  # the result takes over
    widget.apply(*log(31, "tool_call", "", tool="git_diff", call_id="c2", arguments={}))
    widget.apply(*log(32, "tool_result", "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n"
                      "-old\n+new\n", tool="git_diff", call_id="c2", ok=True))
    diff_row = widget.tool_row_list[1]
    diff_row.toggle.value = True
    assert "rgba(248, 81, 73" in diff_row.result_html.value
    assert "rgba(46, 160, 67" in diff_row.result_html.value
    assert "ⓘ LLM call failed" in widget.rows[0].value
    widget.apply(*log(33, "error", "budget spent"))
    widget.apply("done", {"status": "failed", "error": "budget spent", "iterations": 2})
    assert widget.message.value == ""  # the error row already says it: once
    assert widget.stop_button.layout.display == "none"
    assert widget.conn_label.layout.display == "none"
