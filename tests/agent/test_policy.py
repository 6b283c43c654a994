"""The approval policy: presets, rule order, remember, floors and the max preset."""

from __future__ import annotations

import pytest

from open_agent_jupyter.agent.policy import (
    RISKY,
    Policy,
    configured_preset,
    effective_preset,
    parse_rules,
    subject,
    task_policy,
)
from open_agent_jupyter.exceptions import ConfigError

READS = ("read_file", "list_directory", "search_files", "grep_search", "web_search",
         "fetch_url", "git_status", "git_diff", "git_log")


@pytest.mark.parametrize(("preset", "risky", "reads"), [
    ("auto", "allow", "allow"), ("ask", "ask", "allow"), ("read-only", "deny", "allow")])
def test_each_preset(preset: str, risky: str, reads: str) -> None:
    policy = Policy(preset)
    for tool in RISKY:
        assert policy.decide(tool, {"command": "ls"}).action == risky, tool
    for tool in READS:
        assert policy.decide(tool, {"path": "x"}).action == reads, tool
    assert {"run_command", "write_file", "delete_file", "git_commit", "python",
                     "edit_notebook"} == RISKY


def test_first_matching_rule_wins_in_order() -> None:
    rules = parse_rules([
        {"tool": "run_command", "pattern": "*git push*", "action": "deny"},
        {"tool": "run_command", "pattern": "pytest*", "action": "allow"},
        {"tool": "run_command", "pattern": "*", "action": "ask"},
        {"tool": "run_command", "pattern": "pytest -x", "action": "deny"},  # never reached
    ])
    policy = Policy("auto", rules)
    assert policy.decide("run_command", {"command": "cd x && git push origin"}).action == "deny"
    decision = policy.decide("run_command", {"command": "pytest -x"})
    assert decision.action == "allow" and decision.reason.startswith("rule 2")
    assert policy.decide("run_command", {"command": "ls"}).action == "ask"
    # the same rules reversed: the catch-all now decides everything
    backwards = Policy("auto", tuple(reversed(rules)))
    assert backwards.decide("run_command", {"command": "pytest -x"}).action == "deny"
    assert backwards.decide("run_command", {"command": "git push"}).action == "ask"


def test_rules_match_paths_urls_code_and_tool_globs() -> None:
    policy = Policy("auto", parse_rules([
        {"tool": "write_file", "pattern": "/etc/*", "action": "deny"},
        {"tool": "fetch_url", "pattern": "https://internal.*", "action": "ask"},
        {"tool": "python", "pattern": "*os.remove*", "action": "ask"},
        {"tool": "git_*", "action": "deny"},
    ]))
    assert policy.decide("write_file", {"path": "/etc/passwd", "content": "x"}).action == "deny"
    assert policy.decide("write_file", {"path": "notes.md", "content": "x"}).action == "allow"
    assert policy.decide("fetch_url", {"url": "https://internal.corp/a"}).action == "ask"
    assert policy.decide("python", {"code": "import os\nos.remove('a')"}).action == "ask"
    assert policy.decide("git_log", {}).action == "deny"


def test_remember_allows_the_rule_pattern_or_the_exact_subject() -> None:
    policy = Policy("ask", parse_rules([{"tool": "run_command", "pattern": "make *",
                                         "action": "ask"}]))
    by_rule = policy.decide("run_command", {"command": "make test"})
    policy.remember(by_rule.remember_key)
    assert policy.decide("run_command", {"command": "make lint"}).action == "allow"
    by_preset = policy.decide("write_file", {"path": "a.txt"})
    policy.remember(by_preset.remember_key)
    assert policy.decide("write_file", {"path": "a.txt"}).action == "allow"
    assert policy.decide("write_file", {"path": "b.txt"}).action == "ask"
    assert policy.decide("run_command", {"command": "rm -rf x"}).action == "ask"


def test_a_deny_rule_beats_remember() -> None:
    policy = Policy("ask", parse_rules([{"tool": "run_command", "pattern": "*push*",
                                         "action": "deny"}]))
    policy.remember(("run_command", "*"))
    assert policy.decide("run_command", {"command": "ls"}).action == "allow"
    assert policy.decide("run_command", {"command": "git push"}).action == "deny"


def test_a_stricter_task_preset_is_a_floor_for_allow_rules() -> None:
    rules = parse_rules([{"tool": "run_command", "pattern": "pytest*", "action": "allow"}])
    server = task_policy("ask", "auto", rules)
    assert server.decide("run_command", {"command": "pytest"}).action == "allow"
    strict = task_policy("ask", "auto", rules, requested="read-only")
    assert strict.decide("run_command", {"command": "pytest"}).action == "deny"
    loose = task_policy("ask", "auto", rules, requested="auto")
    assert loose.decide("run_command", {"command": "ls"}).action == "allow"


def test_a_task_may_not_be_looser_than_the_max() -> None:
    with pytest.raises(ConfigError, match="^approvals 'auto' is looser"):
        task_policy("ask", "ask", (), requested="auto")
    assert task_policy("auto", "ask", ()).preset == "ask"  # the server's preset is tightened
    assert effective_preset("read-only", "ask") == "read-only"
    with pytest.raises(ConfigError, match="approvals must be one of"):
        task_policy("auto", "auto", (), requested="yolo")


def test_opencode_permissive_is_an_alias_when_approvals_is_unset() -> None:
    assert configured_preset(None, "opencode", True) == "auto"
    assert configured_preset(None, "opencode", False) == "read-only"
    assert configured_preset(None, "local", False) == "auto"
    assert configured_preset("ask", "opencode", True) == "ask"


def test_subject_and_bad_rules() -> None:
    assert subject({"cwd": "/x", "command": "ls"}) == "ls"
    assert subject({"_raw": "{not json"}) == ""
    with pytest.raises(ConfigError, match="'action' must be one of"):
        parse_rules([{"tool": "x", "action": "maybe"}])
    with pytest.raises(ConfigError, match="unknown key"):
        parse_rules([{"tool": "x", "action": "deny", "colour": "red"}])
    with pytest.raises(ConfigError, match="must be a list"):
        parse_rules({"tool": "x"})
