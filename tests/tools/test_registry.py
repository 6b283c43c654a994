"""The default registry: the 13 contract tools, compact schemas, bad calls as ok=false results."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from open_agent_jupyter.tools import Tool, ToolContext, ToolRegistry, ToolResult, default_tools

#: DESIGN.md §5: name -> (required, optional) parameters.
CONTRACT = {
    "read_file": ({"path"}, {"start_line", "end_line"}),
    "write_file": ({"path", "content"}, set()),
    "delete_file": ({"path"}, set()),
    "list_directory": ({"path"}, {"max_depth"}),
    "search_files": ({"pattern"}, {"path"}),
    "run_command": ({"command"}, {"cwd", "timeout_secs"}),
    "grep_search": ({"pattern"}, {"path", "file_pattern", "case_sensitive"}),
    "web_search": ({"query"}, {"num_results"}),
    "fetch_url": ({"url"}, set()),
    "git_status": (set(), {"repo_path"}),
    "git_diff": (set(), {"repo_path", "staged", "file"}),
    "git_commit": ({"message"}, {"repo_path", "files"}),
    "git_log": (set(), {"repo_path", "num_commits", "oneline"}),
}


def test_names_order_and_parameters_match_the_contract(registry: ToolRegistry) -> None:
    assert registry.names == list(CONTRACT)
    for tool in default_tools():
        required, optional = CONTRACT[tool.name]
        assert set(tool.parameters.get("required", [])) == required, tool.name
        assert set(tool.parameters["properties"]) == required | optional, tool.name
        jsonschema.Draft7Validator.check_schema(tool.parameters)


def test_documented_defaults() -> None:
    props = {t.name: t.parameters["properties"] for t in default_tools()}
    assert props["list_directory"]["max_depth"]["default"] == 3
    assert props["run_command"]["timeout_secs"]["default"] == 60
    assert props["grep_search"]["case_sensitive"]["default"] is False
    assert props["web_search"]["num_results"]["default"] == 5
    assert props["web_search"]["num_results"]["maximum"] == 10
    assert props["git_log"]["num_commits"]["default"] == 10
    assert props["git_log"]["oneline"]["default"] is True


def test_schemas_stay_small(registry: ToolRegistry) -> None:
    # The system prompt and all schemas must fit well under 2,500 tokens.
    assert len(json.dumps(registry.schemas())) <= 6000


async def test_unknown_tool(registry: ToolRegistry, ctx: ToolContext) -> None:
    result = await registry.execute("rm_everything", "{}", ctx)
    assert not result.ok and "unknown tool" in result.output and "read_file" in result.output


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("read_file", '{"path": "a.txt"', "not valid JSON"),
    ("read_file", '["a.txt"]', "must be a JSON object"),
    ("read_file", "{}", "must contain ['path']"),
    ("write_file", '{"path": "a.txt"}', "must contain ['content']"),
    ("read_file", '{"path": "a.txt", "start_line": "five"}', "start_line"),
    ("run_command", '{"command": "true", "timeout_secs": -1}', "timeout_secs"),
    ("git_commit", '{"message": "m", "files": "a.txt"}', "files"),
])
async def test_bad_arguments_are_results(registry: ToolRegistry, ctx: ToolContext,
                                         name: str, raw: str, message: str) -> None:
    result = await registry.execute(name, raw, ctx)
    assert not result.ok and message in result.output
    assert result.for_model().startswith("Error: ")


async def test_extra_arguments_are_ignored(registry: ToolRegistry, ctx: ToolContext) -> None:
    result = await registry.execute("write_file", {"path": "a.txt", "content": "x",
                                                   "mode": "w"}, ctx)
    assert result.ok


class _Broken(Tool):
    """A tool with a bug: it raises something no tool should."""

    name = "broken"
    description = "Always fails with a programming error."
    parameters = {"type": "object", "properties": {}}

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Raise a bug."""
        raise KeyError("missing")


async def test_a_tool_bug_is_a_result(ctx: ToolContext) -> None:
    result = await ToolRegistry([_Broken()]).execute("broken", "{}", ctx)
    assert not result.ok and "broken failed unexpectedly (KeyError" in result.output
