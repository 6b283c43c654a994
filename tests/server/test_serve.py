"""``open-agent serve``: a standalone Jupyter server with only this extension."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from open_agent_jupyter.cli.serve import jupyter_argv
from tests.fakellm import FakeLLM
from tests.server.liveserver import ROOT_ARGS, free_port


def _args(**kw: object) -> argparse.Namespace:
    base = {"host": None, "port": None, "token": None, "base_url": "/", "root_dir": None,
            "no_browser": False, "jupyter_args": []}
    return argparse.Namespace(**{**base, **kw})


def test_host_and_port_default_from_the_environment() -> None:
    argv = jupyter_argv(_args(), {"HOST": "0.0.0.0", "PORT": "4321"})
    assert "--ServerApp.ip=0.0.0.0" in argv and "--ServerApp.port=4321" in argv
    argv = jupyter_argv(_args(port=5000), {"PORT": "4321"})
    assert "--ServerApp.port=5000" in argv
    argv = jupyter_argv(_args(), {})
    assert "--ServerApp.ip=127.0.0.1" in argv and "--ServerApp.port=3000" in argv


@pytest.mark.parametrize(("kw", "env", "word"), [
    ({}, {"PORT": "http"}, "PORT"), ({"port": 70000}, {}, "--port"), ({"token": ""}, {}, "token")])
def test_bad_options_name_the_culprit(kw: dict, env: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        jupyter_argv(_args(**kw), env)


def test_bad_port_exits_with_a_message(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "open_agent_jupyter.cli", "serve"],
                         env={**os.environ, "PORT": "abc"}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "PORT must be a port number" in out.stderr
    assert "Traceback" not in out.stderr


def _serve_env(tmp_path: Path, fake_llm: FakeLLM, port: int, host: str) -> dict[str, str]:
    env = {**os.environ, "PORT": str(port), "HOST": host,
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "OPENROUTER_API_KEY": "test-key", "OPENROUTER_BASE_URL": fake_llm.base_url}
    env.pop("JUPYTER_TOKEN", None)
    return env


@contextlib.contextmanager
def _serve(tmp_path: Path, fake_llm: FakeLLM, *args: str, host: str = "127.0.0.1",
           jupyter: tuple[str, ...] = ()) -> Iterator[tuple[int, Path]]:
    """``open-agent serve`` as a subprocess, until it prints its API URL."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "open_agent_jupyter.cli", "serve", "--no-browser",
             "--root-dir", str(tmp_path), *args, "--", *ROOT_ARGS, *jupyter],
            env=_serve_env(tmp_path, fake_llm, port, host), stdout=out,
            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "Open Agent API:" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(20)


def _refused(tmp_path: Path, fake_llm: FakeLLM, *args: str, host: str = "127.0.0.1",
             jupyter: tuple[str, ...] = ()) -> str:
    """Run ``open-agent serve`` expecting a usage error; its stderr."""
    port = free_port()
    out = subprocess.run(
        [sys.executable, "-m", "open_agent_jupyter.cli", "serve", "--root-dir", str(tmp_path),
         *args, "--", *ROOT_ARGS, *jupyter],
        env=_serve_env(tmp_path, fake_llm, port, host), capture_output=True, text=True,
        timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "Open Agent API:" not in out.stdout
    with socket.socket() as sock:  # nothing was left listening
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    return out.stderr


@pytest.fixture
def served(tmp_path: Path, fake_llm: FakeLLM) -> Iterator[tuple[int, Path]]:
    with _serve(tmp_path, fake_llm) as running:
        yield running


@pytest.mark.parametrize("option", ["--IdentityProvider.token=", "--ServerApp.token=",
                                    "--IdentityProvider.token=  "])
def test_an_empty_token_is_a_usage_error(tmp_path: Path, fake_llm: FakeLLM,
                                         option: str) -> None:
    err = _refused(tmp_path, fake_llm, jupyter=(option,))
    assert "token" in err and "authentication" in err


@pytest.mark.parametrize(("host", "jupyter"), [
    ("0.0.0.0", ()), ("*", ()), ("127.0.0.1", ("--ServerApp.ip=0.0.0.0",)),
    ("::", ()), ("127.0.0.1", ("--ip=*",))])
def test_a_remote_host_without_tls_is_a_usage_error(
        tmp_path: Path, fake_llm: FakeLLM, host: str, jupyter: tuple[str, ...]) -> None:
    err = _refused(tmp_path, fake_llm, host=host, jupyter=jupyter)
    assert "--allow-remote" in err and "TLS" in err


def test_allow_remote_serves_and_says_what_it_exposes(tmp_path: Path,
                                                     fake_llm: FakeLLM) -> None:
    with _serve(tmp_path, fake_llm, "--allow-remote", host="0.0.0.0") as (port, log):
        text = log.read_text()
        assert "every network interface" in text and "plain HTTP" in text
        assert "commands" in text
        assert httpx.get(f"http://127.0.0.1:{port}/api/health").json()["status"] == "ok"


def test_a_remote_host_with_tls_serves_https(tmp_path: Path, fake_llm: FakeLLM) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to test TLS with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    tls = (f"--ServerApp.certfile={cert}", f"--ServerApp.keyfile={key}")
    with _serve(tmp_path, fake_llm, host="0.0.0.0", jupyter=tls) as (port, log):
        health = httpx.get(f"https://127.0.0.1:{port}/api/health", verify=False)
        assert health.json()["status"] == "ok"
        assert "plain HTTP" not in log.read_text()


def test_serve_runs_only_this_extension_with_a_token(served: tuple[int, Path]) -> None:
    port, log = served
    line = next(x for x in log.read_text().splitlines() if "Open Agent API:" in x)
    url = line.split("Open Agent API:", 1)[1].strip()
    assert url.startswith(f"http://127.0.0.1:{port}/?token=")
    token = url.split("token=", 1)[1]
    assert len(token) >= 16
    base = f"http://127.0.0.1:{port}/"
    assert httpx.get(base + "api/health").json()["status"] == "ok"
    assert httpx.get(base + "api/tasks").status_code == 403
    auth = {"Authorization": f"token {token}"}
    assert httpx.get(base + "api/tasks", headers=auth).json()["total"] == 0
    assert httpx.get(base + "lab", headers=auth).status_code == 404
    assert httpx.get(base + "api/terminals", headers=auth).status_code == 404
