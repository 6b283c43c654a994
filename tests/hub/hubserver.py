"""A real JupyterHub on 127.0.0.1 for the tests and the benchmark.

JupyterHub (PyPI) with ``configurable-http-proxy`` (npm, installed into a cache folder when
missing), the dummy authenticator, the simple local spawner and two users. The hub's
configuration is ``docs/jupyterhub_config.py`` — the file the deployment guide gives an
admin — followed by what only a test needs (ports, temporary folders, a service token).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.npmcache import CACHE_ROOT, npm_program
from tests.server.liveserver import free_port

ROOT = Path(__file__).resolve().parents[2]
GUIDE_CONFIG = ROOT / "docs" / "jupyterhub_config.py"
CHP_VERSION = "5"
CACHE = CACHE_ROOT / "configurable-http-proxy"
SERVICE_TOKEN = "hub-test-service-token-0123456789"
PROXY_TOKEN = "hub-test-proxy-token-0123456789"
USERS = ("alice", "bob", "carol")


def find_proxy(cache: Path = CACHE) -> Path:
    """The ``configurable-http-proxy`` binary, installed from npm into ``cache`` when missing."""
    return npm_program("configurable-http-proxy", f"configurable-http-proxy@{CHP_VERSION}",
                       cache, ("node_modules/.bin/configurable-http-proxy",))


def _test_config(home: Path, ports: dict[str, int], llm_url: str, proxy: Path) -> str:
    """What a test adds after the guide's configuration."""
    bin_dir = Path(sys.executable).parent
    key_file = home / "llm-key"
    key_file.write_text("hub-test-key\n")
    root_args = ["--allow-root"] if os.geteuid() == 0 else []
    return f"""
# --- test only: loopback ports, temporary folders, a service that drives the hub ---
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {ports['proxy']}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {ports['hub']}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports['proxy_api']}"
c.ConfigurableHTTPProxy.command = [{str(proxy)!r}]
c.ConfigurableHTTPProxy.auth_token = {PROXY_TOKEN!r}
c.JupyterHub.db_url = "sqlite:///{home}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{home}/cookie_secret"
c.JupyterHub.pid_file = "{home}/hub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {set(USERS)!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{home}/users/{{username}}"
c.Spawner.cmd = [{str(bin_dir / 'jupyterhub-singleuser')!r}]
c.Spawner.args = c.Spawner.args + {root_args!r}
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.environment.update({{
    "OPENROUTER_BASE_URL": {llm_url!r},
    "OPENROUTER_API_KEY_FILE": {str(key_file)!r},
    "MAX_ITERATIONS": "5",
    "PATH": {str(bin_dir) + os.pathsep + os.environ.get('PATH', '')!r},
    "JUPYTER_PLATFORM_DIRS": "1",
}})
c.JupyterHub.services = [{{"name": "test-driver", "api_token": {SERVICE_TOKEN!r}}}]
c.JupyterHub.load_roles = c.JupyterHub.load_roles + [
    {{"name": "test-driver", "services": ["test-driver"],
      "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:users"]}},
    # carol may read bob's server (and only read): the read-only case of the guide.
    {{"name": "bobs-readers", "users": ["carol"],
      "scopes": ["access:servers!user=bob", "custom:jupyter_server:read:*!user=bob"]}},
]
"""


class Hub:
    """Start a hub, drive it through its REST API, stop it and every server it spawned."""

    def __init__(self, home: Path, llm_url: str) -> None:
        self.home = home
        self.ports = {"proxy": free_port(), "hub": free_port(), "proxy_api": free_port()}
        self.url = f"http://127.0.0.1:{self.ports['proxy']}"
        self.proc: subprocess.Popen[bytes] | None = None
        (home / "users").mkdir(parents=True, exist_ok=True)
        for user in USERS:
            (home / "users" / user).mkdir(exist_ok=True)
        self.config_path = home / "jupyterhub_config.py"
        self.config_path.write_text(GUIDE_CONFIG.read_text()
                                    + _test_config(home, self.ports, llm_url, find_proxy()))
        self.api = httpx.Client(base_url=f"{self.url}/hub/api", timeout=30,
                                headers={"Authorization": f"token {SERVICE_TOKEN}"})

    def start(self, timeout: float = 90.0) -> None:
        """Run ``jupyterhub`` and wait until its API answers through the proxy."""
        log = (self.home / "hub.log").open("ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(self.config_path)],
            cwd=self.home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited: {self.log_tail()}")
            try:
                if self.api.get("/").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"jupyterhub did not answer: {self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """The end of the hub's log (servers' logs go there too)."""
        path = self.home / "hub.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def start_server(self, user: str, timeout: float = 120.0) -> str:
        """Start ``user``'s server; its URL through the proxy, once ready."""
        self.api.post(f"/users/{user}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.api.get(f"/users/{user}").json()
            server = (info.get("servers") or {}).get("")
            if server and server.get("ready"):
                return f"{self.url}/user/{user}/"
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s server did not start: {self.log_tail()}")

    def stop_server(self, user: str, timeout: float = 60.0) -> None:
        """Stop ``user``'s server (as the hub does when it culls one) and wait until it is gone."""
        self.api.delete(f"/users/{user}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not (self.api.get(f"/users/{user}").json().get("servers") or {}):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s server did not stop")

    def token(self, user: str, scopes: list[str] | None = None, **extra: Any) -> tuple[str, str]:
        """A new API token of ``user`` (its id and value) with these scopes."""
        body: dict[str, Any] = {"note": "test", **extra}
        if scopes is not None:
            body["scopes"] = scopes
        answer = self.api.post(f"/users/{user}/tokens", json=body)
        answer.raise_for_status()
        data = answer.json()
        return data["id"], data["token"]

    def direct_url(self, user: str) -> str:
        """``user``'s server straight, not through the proxy (from the proxy's routing table)."""
        routes = httpx.get(f"http://127.0.0.1:{self.ports['proxy_api']}/api/routes",
                           headers={"Authorization": f"token {PROXY_TOKEN}"}, timeout=10).json()
        return routes[f"/user/{user}"]["target"].rstrip("/") + f"/user/{user}/"

    def revoke(self, user: str, token_id: str) -> None:
        """Revoke one of ``user``'s tokens."""
        self.api.delete(f"/users/{user}/tokens/{token_id}").raise_for_status()

    def stop(self) -> None:
        """Stop the hub, the proxy and every single-user server."""
        for user in USERS:
            with contextlib.suppress(httpx.HTTPError):
                self.api.delete(f"/users/{user}/server")
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
        self.api.close()
