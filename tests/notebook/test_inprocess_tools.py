"""The notebook tools of the in-kernel engine: the agent's code runs in the user's namespace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat

from tests.fakellm import FakeLLM, call, fault, text


def tool_results(result: Any) -> list[dict[str, Any]]:
    return [e for e in result.log if e["entry_type"] == "tool_result"]


def test_python_shares_variables_both_ways(shell: Any, agent_llm: FakeLLM) -> None:
    shell.run_cell("prices = [3, 1, 4, 1, 5]")
    agent_llm.script(
        call("list_variables", {"filter": "pri*"}),
        call("python", {"code": "import sys\ntotal = sum(prices)\nprint('total', total)\n"
                                "print('warn', file=sys.stderr)\ntotal * 2"}),
        text("done"))
    shell.run_cell("r = %agent --max-iterations 5 Sum the prices")
    r = shell.user_ns["r"]
    assert r.status == "completed", r.error
    listed, ran = tool_results(r)
    assert listed["ok"] and "prices: list (len=5) = [3, 1, 4, 1, 5]" in listed["content"]
    assert ran["ok"], ran["content"]
    assert "stdout:\ntotal 14" in ran["content"] and "stderr:\nwarn" in ran["content"]
    assert "result:\n28" in ran["content"]
    assert shell.user_ns["total"] == 14  # the agent's variable is the user's now
    live = [(e["stream"], e["content"]) for e in r.log if e["entry_type"] == "tool_output"]
    assert live == [("stdout", "total 14\n"), ("stderr", "warn\n")]
    system = agent_llm.chat_requests()[0]["messages"][0]["content"]
    assert "`python` runs code in the user's notebook kernel" in system


def test_python_error_and_runaway_code_are_results(shell: Any, agent_llm: FakeLLM) -> None:
    agent_llm.script(
        call("python", {"code": "x = 1\n1 / 0"}),
        call("python", {"code": "while True: pass", "timeout_secs": 0.5}),
        call("python", {"code": "x + 1"}),
        text("done"))
    shell.run_cell("r = %agent --max-iterations 5 Try things")
    r = shell.user_ns["r"]
    error, runaway, after = tool_results(r)
    assert not error["ok"] and "ZeroDivisionError: division by zero" in error["content"]
    assert "Traceback" in error["content"] and "\x1b[" not in error["content"]
    assert not runaway["ok"] and "Timed out after 0.5 s: the code was interrupted" in \
        runaway["content"]
    assert after["ok"] and "result:\n2" in after["content"]


def test_rich_output_reaches_the_log_and_the_model(shell: Any, agent_llm: FakeLLM) -> None:
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAYAAAC56t6BAAAAEklEQVR4nGP4z8DwHwyBJBAMAEQAAf+"
           "Jl7lqAAAAAElFTkSuQmCC")
    code = ("from IPython.display import display, Image, HTML\nimport base64\n"
            f"display(Image(data=base64.b64decode('{png}')))\n"
            "HTML('<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>')")
    agent_llm.script(call("python", {"code": code}), text("done"))
    shell.run_cell("r = %agent --max-iterations 3 Plot")
    r = shell.user_ns["r"]
    (ran,) = tool_results(r)
    assert "image/png image 2×3" in ran["content"]
    assert "HTML table 1 rows × 2 columns" in ran["content"]
    kinds = [o["output_type"] for o in ran["outputs"]]
    assert kinds == ["display_data", "execute_result"]
    assert ran["outputs"][0]["data"]["image/png"].startswith("iVBOR")
    second = agent_llm.chat_requests()[1]["messages"]
    parts = second[-1]["content"]
    assert second[-1]["role"] == "user" and parts[-1]["type"] == "image_url"
    assert parts[-1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")


def test_read_and_edit_a_notebook_file(shell: Any, agent_llm: FakeLLM, work: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title", id="title"),
                nbformat.v4.new_code_cell("1 + 1", id="sum")]
    nbformat.write(nb, work / "n.ipynb")
    (work / "bad.ipynb").write_text('{"cells": "nope"}')
    agent_llm.script(
        call("read_notebook", {"path": "n.ipynb"}),
        call("edit_notebook", {"action": "insert", "path": "n.ipynb", "cell_id": "title",
                               "source": "import math"}),
        call("edit_notebook", {"action": "replace", "path": "n.ipynb", "index": 2,
                               "source": "math.pi", "cell_type": "code"}),
        call("edit_notebook", {"action": "insert", "path": "bad.ipynb", "source": "x"}),
        call("edit_notebook", {"action": "delete", "path": "n.ipynb", "cell_id": "nope"}),
        text("done"))
    shell.run_cell("r = %agent --max-iterations 8 Edit")
    read, insert, replace, bad, missing = tool_results(shell.user_ns["r"])
    assert "--- [1] id=sum code" in read["content"] and "1 + 1" in read["content"]
    assert insert["ok"] and "inserted cell" in insert["content"]
    assert replace["ok"] and "replaced cell sum at index 2" in replace["content"]
    assert not bad["ok"] and "bad.ipynb is not a valid notebook" in bad["content"]
    assert (work / "bad.ipynb").read_text() == '{"cells": "nope"}'
    assert not missing["ok"] and "no cell with id 'nope'" in missing["content"]
    saved = nbformat.read(work / "n.ipynb", as_version=4)
    nbformat.validate(saved)
    assert [c.source for c in saved.cells] == ["# Title", "import math", "math.pi"]
    assert saved.cells[2].id == "sum" and saved.cells[1].id not in ("title", "sum")
    assert json.loads((work / "n.ipynb").read_text())["nbformat_minor"] == 5


def test_an_endpoint_that_refuses_images_gets_descriptions(shell: Any,
                                                           agent_llm: FakeLLM) -> None:
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAYAAAC56t6BAAAAEklEQVR4nGP4z8DwHwyBJBAMAEQAAf+"
           "Jl7lqAAAAAElFTkSuQmCC")
    code = ("from IPython.display import display, Image\nimport base64\n"
            f"display(Image(data=base64.b64decode('{png}')))")
    agent_llm.script(call("python", {"code": code}),
                     fault(400, "this model does not accept image input"),
                     call("python", {"code": code}), text("done"))
    shell.run_cell("r = %agent --max-iterations 5 Plot twice")
    r = shell.user_ns["r"]
    assert r.status == "completed", r.error
    requests = agent_llm.chat_requests()
    assert "image_url" in json.dumps(requests[1]["messages"])  # refused with the image
    for later in requests[2:]:
        sent = json.dumps(later["messages"], ensure_ascii=False)
        assert '"image_url"' not in sent and "image/png image 2×3" in sent, sent[-600:]
