"""The JupyterHub guide: what the local hub cannot run is at least parsed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "jupyterhub.md"


def blocks(language: str) -> list[str]:
    """The guide's fenced code blocks of ``language``."""
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_every_block_of_the_guide_parses() -> None:
    assert [json.loads(b) for b in blocks("json")]
    for block in blocks("python"):
        compile(block, "jupyterhub.md", "exec")
    helm = [yaml.safe_load(b) for b in blocks("yaml")]
    assert helm and helm[0]["singleuser"]["extraEnv"]["APPROVALS_MAX"] == "ask"
    docker = blocks("dockerfile")
    assert docker and docker[0].startswith("FROM ")


def test_the_helm_values_say_what_the_tested_config_says() -> None:
    """The Helm values carry the same settings and scopes as docs/jupyterhub_config.py."""
    class Section(dict):
        def __getattr__(self, name: str) -> Section:
            return self.setdefault(name, Section())

        def __setattr__(self, name: str, value: object) -> None:
            self[name] = value

    config = Section()
    exec((GUIDE.parent / "jupyterhub_config.py").read_text(),  # noqa: S102 - our own file
         {"get_config": lambda: config})
    helm = yaml.safe_load(blocks("yaml")[0])
    assert helm["singleuser"]["extraEnv"] == config["Spawner"]["environment"]
    hub_config = helm["hub"]["config"]
    assert set(hub_config["JupyterHub"]["custom_scopes"]) == set(
        config["JupyterHub"]["custom_scopes"])
    assert hub_config["Spawner"]["oauth_client_allowed_scopes"] == config["Spawner"][
        "oauth_client_allowed_scopes"]
    user_role = next(r for r in config["JupyterHub"]["load_roles"] if r["name"] == "user")
    assert helm["hub"]["loadRoles"]["user"]["scopes"] == user_role["scopes"]
    authorizer = helm["singleuser"]["extraFiles"]["open-agent-authorizer"]["data"]
    assert config["Spawner"]["args"] == [
        f"--ServerApp.authorizer_class={authorizer['ServerApp']['authorizer_class']}"]
