"""The first call's prompt: what it tells the model about the notebook tools, and its size."""

from __future__ import annotations

from pathlib import Path

from open_agent_jupyter.agent.prompt import system_prompt
from open_agent_jupyter.llm.tokens import estimate_tokens
from open_agent_jupyter.tools import default_registry
from open_agent_jupyter.types import NotebookContext

TASK = "Load sales.csv, plot revenue by month and tell me which month is odd."


def first_call_tokens(notebook: NotebookContext | None) -> int:
    messages = [{"role": "system", "content": system_prompt(Path("/work/project"), notebook)},
                {"role": "user", "content": TASK}]
    tools = default_registry(notebook is not None).schemas()
    return estimate_tokens(messages) + estimate_tokens(tools)


def test_first_call_with_notebook_tools_stays_within_2500_tokens() -> None:
    attached = NotebookContext(kernel=None, notebooks=None, path="analysis/sales.ipynb",  # type: ignore[arg-type]
                               attached=True)
    assert first_call_tokens(attached) <= 2_500
    assert first_call_tokens(None) < first_call_tokens(attached)


def test_the_prompt_says_which_kernel_and_notebook_the_tools_touch() -> None:
    attached = system_prompt(Path("/w"), NotebookContext(None, None, "a.ipynb", True))  # type: ignore[arg-type]
    assert "the user's notebook kernel" in attached and "(the task's notebook: a.ipynb)" in attached
    own = system_prompt(Path("/w"), NotebookContext(None, None))  # type: ignore[arg-type]
    assert "a Python kernel of this task's own" in own and "task's notebook" not in own
    assert "Notebook tools" not in system_prompt(Path("/w"))
