"""The lab extension in a real JupyterLab and headless Chromium: the sidebar submits, follows,
stops and survives a reload; it fits 300 px and the dark theme; task outputs render from the
server after their kernel is gone. Screenshots go to test-artifacts/."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest

from tests.fakellm import FakeLLM, call, text
from tests.notebook.conftest import ANSWER, JupyterProcess, engine_env, hello_world
from tests.notebook.test_browser import (
    ARTIFACTS,
    BROWSER_ARGS,
    CHROMIUM,
    pytestmark,
    wait_for_process,
)
from tests.process_utils import processes_running

__all__ = ["pytestmark"]
SIDEBAR = "#open-agent-sidebar"


def serve_lab(tmp_path: Path, llm: FakeLLM, *cells: str) -> JupyterProcess:
    """JupyterLab on loopback; ``agent.ipynb`` made of ``cells`` when given."""
    root = tmp_path / "root"
    root.mkdir()
    if cells:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, root / "agent.ipynb")
    # Settings and workspaces of its own: a theme or layout chosen in one test must not leak.
    env = {**engine_env(llm, root), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces")}
    return JupyterProcess(root, env, app="lab")


@pytest.fixture
def hello_lab(tmp_path: Path) -> Iterator[JupyterProcess]:
    with FakeLLM(default=hello_world) as llm:
        server = serve_lab(tmp_path, llm)
        yield server
        server.close()


@pytest.fixture
def slow_lab(tmp_path: Path) -> Iterator[tuple[JupyterProcess, str]]:
    """JupyterLab whose first task runs a uniquely marked 30 s sleep after a quick step."""
    marker = f"sleep 30.{random.randrange(10**6)}"
    with FakeLLM() as llm:
        llm.script(call("run_command", {"command": "echo first step"}),
                   call("run_command", {"command": marker}), text("never reached"))
        server = serve_lab(tmp_path, llm)
        yield server, marker
        server.close()


@contextmanager
def lab_page(lab: JupyterProcess, screenshot: str, *, width: int = 1300,
             path: str = "lab") -> Iterator[Any]:
    """JupyterLab open in headless Chromium; a screenshot at the end."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            page.goto(f"{lab.url}{path}?token={lab.token}")
            page.wait_for_selector(".jp-LabShell", timeout=60_000)
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / screenshot))
            browser.close()


def open_sidebar(page: Any) -> Any:
    """Click the sidebar's tab; return the sidebar."""
    from playwright.sync_api import expect

    page.locator('.jp-SideBar [data-id="open-agent-sidebar"]').click()
    sidebar = page.locator(SIDEBAR)
    expect(sidebar).to_be_visible(timeout=30_000)
    return sidebar


def submit(sidebar: Any, task: str) -> None:
    sidebar.locator("textarea").fill(task)
    sidebar.get_by_role("button", name="Submit").click()


def test_submit_from_the_sidebar_and_see_rows_and_answer(hello_lab: JupyterProcess) -> None:
    from playwright.sync_api import expect

    with lab_page(hello_lab, "lab-sidebar-completed.png") as page:
        sidebar = open_sidebar(page)
        expect(sidebar.locator("textarea")).to_be_visible()
        submit(sidebar, "Create hello.py that prints Hello World, then run it.")
        timeline = sidebar.locator(".oa-Timeline")
        rows = timeline.locator(".oa-Row-tool")
        expect(rows).to_have_count(2, timeout=60_000)
        expect(rows.nth(0)).to_contain_text("write_file")
        expect(rows.nth(1)).to_contain_text("run_command")
        expect(timeline.locator(".oa-Status")).to_contain_text("completed", timeout=60_000)
        expect(timeline.locator(".oa-Row-response strong")).to_have_text("hello.py")
        rows.nth(1).locator("summary").click()
        expect(rows.nth(1)).to_contain_text("Hello World")
        expect(sidebar.locator(".oa-TaskRow").first).to_contain_text("completed")
        expect(sidebar.locator("textarea")).to_be_visible()  # the form stays above


def test_stop_kills_the_command_and_a_reload_keeps_following(
        slow_lab: tuple[JupyterProcess, str]) -> None:
    from playwright.sync_api import expect

    lab, marker = slow_lab
    with lab_page(lab, "lab-sidebar-stopped.png") as page:
        sidebar = open_sidebar(page)
        submit(sidebar, "Run the long command.")
        expect(sidebar.locator(".oa-Row-tool")).to_have_count(2, timeout=60_000)
        wait_for_process(marker)
        page.reload()
        page.wait_for_selector(".jp-LabShell", timeout=60_000)
        sidebar = page.locator(SIDEBAR)
        if not sidebar.is_visible():
            sidebar = open_sidebar(page)
        timeline = sidebar.locator(".oa-Timeline")
        expect(timeline.locator(".oa-Row-tool")).to_have_count(2, timeout=60_000)
        expect(timeline.locator(".oa-Status")).to_contain_text("running")
        expect(timeline.locator(".oa-Connection")).to_have_text("connected")
        timeline.get_by_role("button", name="Stop").click()
        expect(timeline.locator(".oa-Status")).to_contain_text("cancelled", timeout=60_000)
        expect(timeline.locator(".oa-Row-tool").nth(1)).to_contain_text("⊘")
        assert processes_running(marker) == []


def test_a_300px_sidebar_in_the_dark_theme_clips_no_control(hello_lab: JupyterProcess) -> None:
    from playwright.sync_api import expect

    with lab_page(hello_lab, "lab-sidebar-dark-300px.png", width=1000) as page:
        page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Theme", exact=True).click()
        page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
        expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1,
                                                                                 timeout=30_000)
        sidebar = open_sidebar(page)
        submit(sidebar, "Create hello.py that prints Hello World, then run it.")
        expect(sidebar.locator(".oa-Status").first).to_contain_text("completed", timeout=60_000)
        sidebar.locator(".oa-Options summary").click()
        resize_sidebar(page, 300)
        clipped = page.evaluate(CLIPPED_CONTROLS)
        assert clipped == [], clipped
        background = page.evaluate("getComputedStyle(document.getElementById("
                                   "'open-agent-sidebar')).backgroundColor")
        assert _dark(background), background


def resize_sidebar(page: Any, width: int) -> None:
    """Drag the left area's split handle until the sidebar is ``width`` px wide."""
    sidebar = page.locator(SIDEBAR)
    box = sidebar.bounding_box()
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    grip = handle.bounding_box()
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + width, grip["y"] + grip["height"] / 2, steps=5)
    page.mouse.up()
    assert abs(sidebar.bounding_box()["width"] - width) <= 2, sidebar.bounding_box()


#: Buttons, selects, inputs and textareas of the sidebar wider than the sidebar or whose text
#: overflows them (the issue's "S…" and "compl…").
CLIPPED_CONTROLS = """() => {
    const side = document.getElementById('open-agent-sidebar');
    const box = side.getBoundingClientRect();
    const out = [];
    for (const el of side.querySelectorAll('button, select, input, textarea, .oa-Status')) {
        if (el.offsetParent === null) continue;
        const r = el.getBoundingClientRect();
        const text = (el.textContent || el.value || el.name || '').trim().slice(0, 30);
        if (r.right > box.right + 1 || r.left < box.left - 1) out.push('outside: ' + text);
        if (el.tagName === 'BUTTON' && el.scrollWidth > el.clientWidth + 1) out.push('cut: ' + text);
        if (el.tagName === 'SELECT' && el.scrollWidth > el.clientWidth + 1) out.push('cut: ' + text);
    }
    return out;
}"""


def _dark(css_color: str) -> bool:
    numbers = [int(n) for n in css_color[css_color.index("(") + 1:-1].split(",")[:3]]
    return sum(numbers) / 3 < 100


def test_an_agent_output_renders_from_the_server_after_the_kernel_is_gone(
        tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.notebook.test_browser import run_first_cell

    with FakeLLM(default=hello_world) as llm:
        lab = serve_lab(tmp_path, llm, "%load_ext open_agent_jupyter\n"
                        "r = %agent Create hello.py that prints Hello World, then run it.")
        try:
            with lab_page(lab, "lab-output-renderer.png", path="lab/tree/agent.ipynb") as page:
                page.wait_for_selector(".jp-NotebookPanel .jp-Cell .cm-content", timeout=60_000)
                run_first_cell(page)
                output = page.locator(".jp-NotebookPanel .oa-TaskOutput")
                expect(output.locator(".oa-Status")).to_contain_text("completed", timeout=60_000)
                page.keyboard.press("Control+s")
                page.wait_for_timeout(500)
                _shut_down_kernels(lab)
                page.reload()
                output = page.locator(".jp-NotebookPanel .oa-TaskOutput")
                expect(output.locator(".oa-Row-tool")).to_have_count(2, timeout=60_000)
                expect(output.locator(".oa-Status")).to_contain_text("completed")
                expect(output).to_contain_text("running it prints")
                assert ANSWER
        finally:
            lab.close()


def _shut_down_kernels(lab: JupyterProcess) -> None:
    for kernel in httpx.get(f"{lab.url}api/kernels", headers=lab.headers).json():
        httpx.delete(f"{lab.url}api/kernels/{kernel['id']}", headers=lab.headers)
    assert httpx.get(f"{lab.url}api/kernels", headers=lab.headers).json() == []


#: Code for the agent's ``python`` tool that displays a 1x1 PNG (a rich output).
SHOW_PNG = ("import base64\nfrom IPython.display import Image, display\n"
            "display(Image(data=base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAf"
            "FcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')))")


@pytest.fixture
def edit_lab(tmp_path: Path) -> Iterator[JupyterProcess]:
    """JupyterLab with a failing cell; the task inserts a cell into the open notebook."""
    with FakeLLM() as llm:
        llm.script(call("python", {"code": SHOW_PNG}),
                   call("edit_notebook", {"action": "insert", "source": "print('fixed')"}),
                   text("Inserted a cell that prints fixed."))
        server = serve_lab(tmp_path, llm, "1/0")
        yield server
        server.close()


def test_ask_about_a_failing_cell_then_the_edit_lands_in_the_open_notebook(
        edit_lab: JupyterProcess) -> None:
    from playwright.sync_api import expect

    from tests.notebook.test_browser import run_first_cell

    with lab_page(edit_lab, "lab-ask-about-cell.png", path="lab/tree/agent.ipynb") as page:
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell .cm-content", timeout=60_000)
        run_first_cell(page)
        cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        expect(cells.first.locator(".jp-OutputArea")).to_contain_text("ZeroDivisionError",
                                                                      timeout=60_000)
        page.keyboard.press("Control+s")
        expect(page.locator(".jp-NotebookPanel-toolbar")).to_be_visible()
        cells.first.locator(".jp-InputArea").click(button="right")
        page.locator(".lm-Menu-itemLabel", has_text="Ask Open Agent about this cell").click()
        sidebar = page.locator(SIDEBAR)
        box = sidebar.locator("textarea")
        expect(box).to_have_value(re_contains("ZeroDivisionError"), timeout=30_000)
        expect(box).to_have_value(re_contains("1/0"))
        expect(box).to_have_value(re_contains("About cell 1 "))
        expect(sidebar.locator(".oa-Attach")).to_contain_text("agent.ipynb")
        expect(sidebar.locator(".oa-Attach input")).to_be_checked()
        sidebar.get_by_role("button", name="Submit").click()
        timeline = sidebar.locator(".oa-Timeline")
        expect(timeline.locator(".oa-Status")).to_contain_text("completed", timeout=60_000)
        expect(cells).to_have_count(3, timeout=30_000)  # running the cell added an empty one
        expect(cells.nth(2)).to_contain_text("print('fixed')")
        expect(timeline.locator(".oa-Row-tool").first.locator(".oa-Output img")).to_have_count(1)
        timeline.locator(".oa-Row-tool summary").nth(1).click()
        expect(timeline.locator(".oa-Row-tool").nth(1)).to_contain_text("open in JupyterLab")
        expect(page.locator(".jp-Dialog")).to_have_count(0)
        saved = nbformat.read(edit_lab.root / "agent.ipynb", as_version=4)
        assert [c.source for c in saved.cells] == ["1/0", "", "print('fixed')"]
        timeline.get_by_role("button", name="Export as notebook").click()
        expect(page.locator(".lm-TabBar-tabLabel", has_text="open-agent-task-")).to_be_visible(
            timeout=30_000)


def re_contains(text: str) -> Any:
    """A pattern matching any value that contains ``text``."""
    import re

    return re.compile(re.escape(text))


@pytest.fixture
def ask_lab(tmp_path: Path) -> Iterator[JupyterProcess]:
    """JupyterLab whose task writes a file only after someone allows it."""
    with FakeLLM() as llm:
        llm.script(call("write_file", {"path": "allowed.txt", "content": "yes\n"}),
                   text("Wrote allowed.txt."))
        server = serve_lab(tmp_path, llm)
        yield server
        server.close()


def test_allow_an_approval_from_the_sidebar(ask_lab: JupyterProcess) -> None:
    from playwright.sync_api import expect

    with lab_page(ask_lab, "lab-sidebar-approval.png") as page:
        sidebar = open_sidebar(page)
        sidebar.locator(".oa-Options summary").click()
        sidebar.locator("select[name=approvals]").select_option("ask")
        submit(sidebar, "Write allowed.txt")
        timeline = sidebar.locator(".oa-Timeline")
        expect(timeline.locator(".oa-Approval-pending")).to_contain_text("write_file",
                                                                         timeout=60_000)
        assert not (ask_lab.root / "allowed.txt").exists()
        timeline.get_by_role("button", name="Allow").click()
        expect(timeline.locator(".oa-Status")).to_contain_text("completed", timeout=60_000)
        expect(timeline.locator(".oa-Approval-allowed")).to_have_count(1)
        expect(timeline.get_by_role("button", name="Allow")).to_have_count(0)
        assert (ask_lab.root / "allowed.txt").read_text() == "yes\n"
