"""The live view in JupyterLab + headless Chromium: a running command's output, a diff, a long
task's bounded timeline, and the task panel in a 300 px side area (screenshots in
``test-artifacts/``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakellm import FakeLLM, call, text
from tests.notebook.conftest import JupyterProcess
from tests.notebook.test_browser import (
    ARTIFACTS,
    CHROMIUM,
    notebook_page,
    serve_notebook,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent")]

TICKING = "for i in $(seq 1 80); do echo line $i; sleep 0.1; done"
LONG_FILE = "".join(f"def step_{i}(x):\n    return x + {i}\n\n" for i in range(40))
PANEL_CELL = ("import ipywidgets as W\n"
              "from open_agent_jupyter.notebook import agent_panel\n"
              "panel = agent_panel(auto_refresh=0)\n"
              "panel.open_task(r.id)\n"
              "W.Box([panel], layout=W.Layout(width='300px', border='1px solid #999'))")
#: Elements of the panel whose content is cut off (wider than their box), for the browser.
CLIPPED = """(root) => [...root.querySelectorAll('button, label, .widget-label, select, textarea')]
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.tagName + ':' + (e.textContent || '').trim().slice(0, 30))"""
OVERFLOW = """(root) => { const box = root.getBoundingClientRect();
  return [...root.querySelectorAll('*')].filter(e => e.offsetParent !== null &&
    e.getBoundingClientRect().right > box.right + 1).length }"""


@pytest.fixture
def live_lab(tmp_path: Path) -> Iterator[JupyterProcess]:
    with FakeLLM() as llm:
        llm.script(call("run_command", {"command": TICKING}),
                   call("write_file", {"path": "steps.py", "content": LONG_FILE}),
                   call("write_file", {"path": "steps.py",
                                       "content": LONG_FILE.replace("x + 3", "x * 3")}),
                   *[call("run_command", {"command": f"echo step {i}"}) for i in range(30)],
                   text("Wrote **steps.py** and ran 30 steps."))
        server = serve_notebook(tmp_path, llm, "%load_ext open_agent_jupyter",
                                "r = %agent Tick, write steps.py, then take 30 steps.",
                                PANEL_CELL)
        yield server
        server.close()


def test_live_output_diff_long_task_and_narrow_panel(live_lab: JupyterProcess) -> None:
    from playwright.sync_api import expect

    with notebook_page(live_lab, "live-final.png") as page:
        prompts = page.locator(".jp-NotebookPanel .jp-Cell .jp-InputPrompt")
        expect(prompts.nth(0)).to_have_text("[1]:", timeout=60_000)
        page.keyboard.press("Shift+Enter")  # the %agent cell
        page.keyboard.press("Shift+Enter")  # the panel cell waits for it
        task = page.locator(".open-agent-task").first
        row = task.locator(".open-agent-tool-row").first
        expect(row).to_contain_text("running", timeout=60_000)
        expect(row).to_contain_text("line 12", timeout=60_000)  # its output, live
        expect(row).to_contain_text("earlier lines", timeout=60_000)  # the last lines only
        task.screenshot(path=str(ARTIFACTS / "live-running-command.png"))
        expect(task).to_contain_text("completed", timeout=120_000)
        timeline = task.locator(".open-agent-timeline")
        # The final update re-renders the rows: wait until the timeline is laid out again.
        timeline.evaluate("e => new Promise(done => { const t = Date.now(); (function poll() {"
                          " if (e.clientHeight > 0 || Date.now() - t > 10000) done();"
                          " else setTimeout(poll, 50); })(); })")
        height = timeline.evaluate("e => [e.clientHeight, e.scrollHeight, e.scrollTop]")
        assert height[0] <= 430 and height[1] > height[0]  # bounded, and it scrolls
        assert abs(height[2]) < 2  # it follows the newest row (column-reverse: 0 = bottom)
        expect(task.get_by_role("button", name="Stop")).to_have_count(0)
        expect(task).not_to_contain_text("disconnected")
        task.screenshot(path=str(ARTIFACTS / "live-long-task.png"))
        diff_row = task.locator(".open-agent-tool-row").nth(2)
        timeline.evaluate("e => { e.scrollTop = -e.scrollHeight }")  # up to the first rows
        diff_row.locator("button").first.click()
        expect(diff_row).to_contain_text("changes", timeout=30_000)
        expect(diff_row).to_contain_text("+    return x * 3")
        diff_row.get_by_text("changes", exact=True).scroll_into_view_if_needed()
        timeline.screenshot(path=str(ARTIFACTS / "live-diff.png"))
        panel = page.locator(".open-agent-panel").first
        expect(panel.locator(".open-agent-task")).to_contain_text("completed", timeout=60_000)
        panel.screenshot(path=str(ARTIFACTS / "live-panel-300px.png"))
        assert panel.evaluate(CLIPPED) == []
        assert panel.evaluate(OVERFLOW) == 0
