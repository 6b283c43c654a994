"""Traits, environment defaults, bad configuration, base_url and the authorizer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jupyter_core.paths import jupyter_data_dir
from jupyter_server.auth import Authorizer

from tests.fakellm import FakeLLM
from tests.server.liveserver import free_port


def _server_config(agent: dict[str, Any], **server: Any) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"open_agent_jupyter": True}, **server},
            "OpenAgent": agent}


class TestEnvironmentDefaults:
    @pytest.fixture
    def jp_server_config(self, monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLM,
                         tmp_path: Path) -> dict[str, Any]:
        monkeypatch.setenv("DEFAULT_MODEL", "env/model")
        monkeypatch.setenv("MAX_ITERATIONS", "7")
        monkeypatch.setenv("AGENT_BACKEND", "local")
        monkeypatch.setenv("OPENROUTER_API_KEY", "env-secret-key")
        return _server_config({"max_iterations": 9, "db_path": str(tmp_path / "t.db")})

    async def test_env_gives_defaults_and_config_wins(self, api: Any, extension: Any,
                                                      jp_root_dir: Path) -> None:
        _, health = await api("GET", "api/health")
        assert (health["model"], health["max_iterations"]) == ("env/model", 9)
        assert health["api_key_configured"] is True
        assert "env-secret-key" not in str(health)
        assert extension.working_dir == str(jp_root_dir)
        assert extension.agent_settings.api_key == "env-secret-key"


class TestDefaultDatabase:
    @pytest.fixture
    def jp_server_config(self) -> dict[str, Any]:
        return _server_config({})

    async def test_db_in_the_jupyter_data_dir(self, api: Any, extension: Any) -> None:
        assert extension.db_path == str(Path(jupyter_data_dir()) / "open_agent" / "tasks.db")
        status, _ = await api("GET", "api/tasks")
        assert status == 200 and Path(extension.db_path).exists()
        _, health = await api("GET", "api/health")
        assert health["api_key_configured"] is False


@pytest.mark.parametrize(("env", "agent", "words"), [
    ({"MAX_ITERATIONS": "lots"}, {}, ["MAX_ITERATIONS"]),
    ({}, {"backend": "nope"}, ["AGENT_BACKEND", "c.OpenAgent.backend"]),
    ({}, {"max_iterations": 0}, ["MAX_ITERATIONS", "c.OpenAgent.max_iterations"]),
    ({}, {"max_running": 0}, ["max_running"]),
    ({}, {"db_path": "/proc/no/such/dir/tasks.db"}, ["task database", "db_path"]),
    ({}, {"approvals": "sometimes"}, ["APPROVALS", "c.OpenAgent.approvals"]),
    ({}, {"approval_rules": [{"tool": "x", "action": "maybe"}]},
     ["APPROVAL_RULES", "c.OpenAgent.approval_rules"]),
    ({"DAILY_BUDGET_CENTS": "-1"}, {}, ["DAILY_BUDGET_CENTS"]),
])
async def test_bad_configuration_disables_the_api_with_a_clear_message(
        jp_configurable_serverapp: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        env: dict[str, str], agent: dict[str, Any], words: list[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    agent = {"db_path": str(tmp_path / "t.db"), **agent}
    app = jp_configurable_serverapp(config=_server_config(agent))
    extension = app.web_app.settings["open_agent"]
    assert await extension.ensure_started() is None
    for word in words:
        assert word in extension.config_error


async def test_approvals_and_opencode_permissive_both_set_warn_once(
        jp_configurable_serverapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = {"db_path": str(tmp_path / "t.db"), "approvals": "ask", "opencode_permissive": False,
             "approval_rules": [{"tool": "run_command", "pattern": "pytest*", "action": "allow"}]}
    app = jp_configurable_serverapp(config=_server_config(agent))
    extension = app.web_app.settings["open_agent"]
    settings = extension.agent_settings
    assert settings.approvals == "ask" and settings.approval_rules == (
        {"tool": "run_command", "pattern": "pytest*", "action": "allow"},)
    warnings: list[str] = []
    monkeypatch.setattr(extension.log, "warning", lambda msg, *args: warnings.append(msg % args))
    extension._warn_permissive_alias()
    assert len(warnings) == 1 and "APPROVALS=ask applies to OpenCode tasks" in warnings[0]


class TestMisconfigured:
    @pytest.fixture
    def jp_server_config(self, tmp_path: Path) -> dict[str, Any]:
        return _server_config({"backend": "nope", "db_path": str(tmp_path / "t.db")})

    async def test_503_and_health_error(self, api: Any) -> None:
        status, body = await api("GET", "api/tasks")
        assert status == 503 and "AGENT_BACKEND" in body["error"]
        status, body = await api("POST", "api/task", {"task": "x"})
        assert status == 503
        status, health = await api("GET", "api/health", headers={"Authorization": ""})
        assert status == 200 and health["status"] == "error"


class TestBaseUrl:
    @pytest.fixture
    def jp_base_url(self) -> str:
        return "/user/alice/"

    async def test_every_path_under_base_url(self, api: Any, jp_fetch: Any,
                                             jp_serverapp: Any) -> None:
        status, _ = await api("GET", "api/health")
        assert status == 200
        status, created = await api("POST", "api/task", {"task": "x"})
        assert status == 201
        status, _ = await api("GET", f"api/task/{created['id']}")
        assert status == 200
        assert os.environ["OPEN_AGENT_URL"].endswith(f":{jp_serverapp.port}/user/alice/")
        response = await jp_fetch("..", "..", "api", "health", raise_error=False)
        assert response.code == 404


class DenyOpenAgent(Authorizer):
    """Allows everything except the extension's own resource."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource != "open_agent"


class TestAuthorizer:
    @pytest.fixture
    def jp_server_config(self, agent_config: dict[str, Any]) -> dict[str, Any]:
        return _server_config(agent_config, authorizer_class=DenyOpenAgent)

    async def test_the_authorizer_is_asked_with_our_resource(self, api: Any,
                                                             jp_fetch: Any) -> None:
        for method, path in [("GET", "api/tasks"), ("GET", "api/stats"),
                             ("POST", "api/task")]:
            status, body = await api(method, path, body={"task": "x"} if method == "POST"
                                     else None, validate=False)
            assert status == 403 and "open_agent" in body["error"]
        assert (await jp_fetch("api", "contents")).code == 200
        status, _ = await api("GET", "api/health")
        assert status == 200


class TestOpenCodeHealth:
    @pytest.fixture
    def opencode_url(self) -> str:
        return f"http://127.0.0.1:{free_port()}"  # nothing listens there

    @pytest.fixture
    def configured_url(self, opencode_url: str) -> str:
        """The same server, named with credentials that health must not show."""
        return opencode_url.replace("http://", "http://oc-user:oc-secret@")

    @pytest.fixture
    def jp_server_config(self, agent_config: dict[str, Any],
                         configured_url: str) -> dict[str, Any]:
        return _server_config({**agent_config, "backend": "opencode",
                               "opencode_base_url": configured_url})

    async def test_health_says_opencode_is_unreachable(self, api: Any, opencode_url: str) -> None:
        _, health = await api("GET", "api/health")
        assert health["backend"] == "opencode"
        assert health["opencode"] == {"base_url": opencode_url, "reachable": False}
        assert "oc-secret" not in str(health)


def test_engine_imports_are_warmed_off_the_request_path() -> None:
    # A fresh interpreter: in this one other tests have imported the engine already.
    code = ("import logging, sys\n"
            "from open_agent_jupyter.server.app import ENGINE_MODULES, warm_imports\n"
            "assert not [m for m in ENGINE_MODULES if m in sys.modules], 'imported too early'\n"
            "warm_imports(logging.getLogger())\n"
            "from open_agent_jupyter.httpclient import tls_context\n"
            "print(sorted(m for m in ENGINE_MODULES if m not in sys.modules),\n"
            "      tls_context.cache_info().currsize)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] 1"  # every module imported, the TLS context built
