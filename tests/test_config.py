"""Settings from the environment, per-task overrides, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from open_agent_jupyter.config import ENV_NAMES, TASK_OVERRIDES, Settings
from open_agent_jupyter.exceptions import ConfigError


def test_defaults_match_the_design() -> None:
    settings = Settings.from_env({})
    assert settings.api_key is None
    assert settings.base_url == "https://openrouter.ai/api/v1"
    assert settings.model == "anthropic/claude-sonnet-4.5"
    assert settings.max_iterations == 50 and settings.budget_cents == 1000
    assert settings.backend == "local"
    assert settings.opencode_base_url == "http://127.0.0.1:4096"
    assert settings.opencode_agent == "build" and settings.opencode_permissive is True


def test_every_field_is_read_from_its_variable() -> None:
    env = {
        "OPENROUTER_API_KEY": "k", "OPENROUTER_BASE_URL": "http://127.0.0.1:1/v1",
        "DEFAULT_MODEL": "m/x", "WORKING_DIR": "/tmp", "MAX_ITERATIONS": "7",
        "BUDGET_CENTS": "0", "AGENT_BACKEND": "opencode",
        "OPENCODE_BASE_URL": "http://127.0.0.1:2", "OPENCODE_AGENT": "plan",
        "OPENCODE_PERMISSIVE": "false", "OPENCODE_IDLE_TIMEOUT": "1.5",
        "WEB_SEARCH_URL": "http://127.0.0.1:3/html/", "LLM_STREAM": "no",
        "LLM_CONNECT_TIMEOUT": "2", "LLM_READ_TIMEOUT": "3", "LLM_MAX_RETRIES": "0",
        "CONTEXT_TOKENS": "5000", "OPENROUTER_API_KEY_FILE": "/nonexistent/key",
        "ALLOW_PRIVATE_URLS": "yes", "SANDBOX": "none", "SANDBOX_NETWORK": "false",
        "APPROVALS": "ask", "APPROVAL_RULES": '[{"tool": "run_command", "action": "deny"}]',
        "APPROVALS_MAX": "ask", "APPROVAL_TIMEOUT": "0", "DAILY_BUDGET_CENTS": "250",
        "ALLOWED_MODELS": "m/*, other",
    }
    assert set(env) == set(ENV_NAMES.values())
    settings = Settings.from_env(env)
    assert (settings.api_key, settings.model, settings.working_dir) == ("k", "m/x", "/tmp")
    assert (settings.max_iterations, settings.budget_cents, settings.backend) == (7, 0, "opencode")
    assert settings.opencode_permissive is False and settings.stream is False
    assert settings.opencode_idle_timeout == 1.5 and settings.max_retries == 0
    assert settings.context_tokens == 5000
    assert settings.allow_private_urls is True and settings.sandbox_network is False
    assert settings.api_key_file == "/nonexistent/key"  # not read: OPENROUTER_API_KEY wins
    assert (settings.approvals, settings.approvals_max, settings.approval_timeout) == (
        "ask", "ask", 0.0)
    assert settings.approval_rules == ({"tool": "run_command", "pattern": "*", "action": "deny"},)
    assert settings.daily_budget_cents == 250 and settings.model_globs == ["m/*", "other"]


@pytest.mark.parametrize(("env", "words"), [
    ({"MAX_ITERATIONS": "lots"}, "MAX_ITERATIONS must be a whole number"),
    ({"MAX_ITERATIONS": "0"}, "MAX_ITERATIONS must be a whole number >= 1"),
    ({"BUDGET_CENTS": "-1"}, "BUDGET_CENTS must be a whole number >= 0"),
    ({"AGENT_BACKEND": "docker"}, "AGENT_BACKEND must be one of local, opencode"),
    ({"OPENCODE_PERMISSIVE": "maybe"}, "OPENCODE_PERMISSIVE must be true or false"),
    ({"LLM_READ_TIMEOUT": "soon"}, "LLM_READ_TIMEOUT must be a number"),
    ({"OPENROUTER_BASE_URL": "openrouter.ai"}, "OPENROUTER_BASE_URL must be an http(s) URL"),
    ({"APPROVALS": "sometimes"}, "APPROVALS must be one of auto, ask, read-only"),
    ({"APPROVALS_MAX": "none"}, "APPROVALS_MAX must be one of auto, ask, read-only"),
    ({"APPROVAL_TIMEOUT": "-1"}, "APPROVAL_TIMEOUT must be a number >= 0"),
    ({"APPROVAL_RULES": "[{"}, "APPROVAL_RULES must be a JSON list"),
    ({"APPROVAL_RULES": '[{"tool": "x", "action": "maybe"}]'}, "APPROVAL_RULES: 'action'"),
    ({"DAILY_BUDGET_CENTS": "-5"}, "DAILY_BUDGET_CENTS must be a whole number >= 0"),
])
def test_bad_values_name_the_variable(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_blank_variables_keep_the_default() -> None:
    assert Settings.from_env({"MAX_ITERATIONS": "  ", "DEFAULT_MODEL": ""}).max_iterations == 50


def test_task_overrides_are_validated_and_none_ignored() -> None:
    base = Settings.from_env({"DEFAULT_MODEL": "a/b"})
    task = base.with_overrides(model="c/d", max_iterations=3, budget_cents=None, backend=None)
    assert (task.model, task.max_iterations, task.budget_cents) == ("c/d", 3, 1000)
    assert base.model == "a/b"  # the base settings are not changed
    assert set(TASK_OVERRIDES) <= set(Settings.__dataclass_fields__)
    with pytest.raises(ConfigError, match="AGENT_BACKEND"):
        base.with_overrides(backend="nope")
    with pytest.raises(ConfigError, match="unknown setting"):
        base.with_overrides(colour="red")
    with pytest.raises(ConfigError, match="MAX_ITERATIONS"):
        base.with_overrides(max_iterations=True)


def test_public_view_hides_the_key() -> None:
    public = Settings(api_key="sk-or-secret").public()
    assert "api_key" not in public and public["api_key_configured"] is True
    assert "sk-or-secret" not in repr(public)


def test_the_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-or-from-file\n")
    settings = Settings.from_env({"OPENROUTER_API_KEY_FILE": str(key_file)})
    assert settings.api_key == "sk-or-from-file"
    assert settings.with_overrides(model="m/other").api_key == "sk-or-from-file"
    key_file.write_text("  \n")
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY_FILE: .* is empty"):
        Settings.from_env({"OPENROUTER_API_KEY_FILE": str(key_file)})
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY_FILE: cannot read .*missing"):
        Settings.from_env({"OPENROUTER_API_KEY_FILE": str(tmp_path / "missing")})


def test_sandbox_values_and_a_missing_bwrap(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="SANDBOX must be one of none, bubblewrap"):
        Settings.from_env({"SANDBOX": "docker"})
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap there: an error, never a fallback
    with pytest.raises(ConfigError, match="SANDBOX=bubblewrap needs the bwrap program"):
        Settings.from_env({"SANDBOX": "bubblewrap"})
