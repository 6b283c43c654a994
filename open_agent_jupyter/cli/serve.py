"""``open-agent serve``: a Jupyter server running only the Open Agent extension.

It defaults to ``HOST``/``PORT`` from the environment (127.0.0.1:3000), keeps token
authentication on (a random token unless ``--token`` or ``JUPYTER_TOKEN`` gives one)
and prints the URL with the token. Options after ``--`` go to Jupyter unchanged
(e.g. ``-- --OpenAgent.max_running=2``) and win over the ones built here.

Once Jupyter has read its options and config files, and before it listens, the server is
refused (a usage error, exit 2) when authentication would be off (an empty token and no
password), or when it would listen beyond loopback without TLS (``ServerApp.certfile`` and
``keyfile``) unless ``--allow-remote`` says so; then it says plainly what it exposes.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Any

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 3000


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``serve`` subcommand."""
    parser = sub.add_parser(
        "serve", help="run a standalone Jupyter server with only the Open Agent API",
        description="Run a Jupyter server with only the Open Agent extension "
                    "(REST + SSE task API). Options after -- go to Jupyter.")
    parser.add_argument("--host", default=None,
                        help=f"interface to listen on (default: $HOST or {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (default: $PORT or {DEFAULT_PORT})")
    parser.add_argument("--token", default=None,
                        help="Jupyter token clients must send (default: $JUPYTER_TOKEN or random)")
    parser.add_argument("--base-url", default="/", help="URL prefix of every path (default: /)")
    parser.add_argument("--root-dir", default=None,
                        help="server root, the default working dir (default: current dir)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback HOST without TLS (plain HTTP on the network)")
    parser.add_argument("--no-browser", action="store_true",
                        help="accepted for familiarity; this server never opens a browser")
    parser.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                        help="extra Jupyter options after --")
    parser.set_defaults(handler=main)


def jupyter_argv(args: argparse.Namespace, env: dict[str, str] | None = None) -> list[str]:
    """The Jupyter command line for ``args``; ``ValueError`` names a bad variable."""
    env = dict(os.environ if env is None else env)
    host = args.host or env.get("HOST") or DEFAULT_HOST
    port = args.port
    if port is None:
        raw = env.get("PORT") or str(DEFAULT_PORT)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ValueError(f"PORT must be a port number (1-65535), not {raw!r}")
        port = int(raw)
    elif not 0 < port < 65536:
        raise ValueError(f"--port must be a port number (1-65535), not {port}")
    extra = [a for a in args.jupyter_args if a != "--"]
    built = {"ServerApp.ip": host, "ServerApp.port": port, "ServerApp.port_retries": 0,
             "ServerApp.open_browser": False, "ServerApp.base_url": args.base_url,
             "ServerApp.default_url": "/api/health"}
    if args.root_dir:
        built["ServerApp.root_dir"] = args.root_dir
    if args.token is not None:
        if not args.token.strip():
            raise ValueError("--token must not be empty (token authentication stays on)")
        built["IdentityProvider.token"] = args.token
    argv = [f"--{name}={value}" for name, value in built.items() if not _given(extra, name)]
    return argv + extra


#: Short Jupyter flags that set the same trait as a built option.
_ALIASES = {"ServerApp.ip": ("ip",), "ServerApp.port": ("port",),
            "ServerApp.base_url": ("base_url",), "ServerApp.root_dir": ("notebook-dir",),
            "IdentityProvider.token": ("ServerApp.token",)}


def _given(extra: list[str], name: str) -> bool:
    """Whether the options after ``--`` set trait ``name`` (they win: traitlets refuses two)."""
    names = (name, *_ALIASES.get(name, ()))
    return any(arg.split("=", 1)[0] in {f"--{n}" for n in names} for arg in extra)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable only from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # "", "*", "0.0.0.0"-likes and names: every interface or a network name


def exposure_problem(serverapp: Any, allow_remote: bool) -> str | None:
    """Why ``serverapp`` must not start, or None; prints what ``--allow-remote`` exposes."""
    identity = serverapp.identity_provider
    token = getattr(identity, "token", "") or ""
    if not token.strip() and not getattr(identity, "hashed_password", ""):
        return ("an empty token turns authentication off, and anyone who can reach the port "
                "could run commands as this user; give --token, or leave it out for a random one")
    if is_loopback(serverapp.ip) or _tls(serverapp):
        return None
    where = f"{serverapp.ip or 'every interface'}:{serverapp.port}"
    if not allow_remote:
        return (f"HOST {where} is not loopback and no TLS is configured: the token and every "
                "task would cross the network in plain HTTP. Configure TLS (-- "
                "--ServerApp.certfile=CERT --ServerApp.keyfile=KEY), or pass --allow-remote")
    print(f"open-agent serve: --allow-remote: listening on {where} (every network interface "
          "for 0.0.0.0, ::, * or an empty HOST) over plain HTTP: anyone on the network who "
          f"has the token can run commands with full access as user {_user()}, and the token "
          "and every task travel unencrypted.", file=sys.stderr, flush=True)
    return None


def _tls(serverapp: Any) -> bool:
    return bool(serverapp.certfile and serverapp.keyfile)


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _guard(allow_remote: bool) -> Any:
    """The ``OpenAgent.serve_guard`` for ``serve``: a usage error (exit 2) when refused."""
    def guard(serverapp: Any) -> None:
        problem = exposure_problem(serverapp, allow_remote)
        if problem:
            print(f"open-agent serve: {problem}", file=sys.stderr, flush=True)
            raise SystemExit(2)
    return guard


def main(args: argparse.Namespace) -> int:
    """Run the server until interrupted; returns the exit code."""
    try:
        argv = jupyter_argv(args)
    except ValueError as err:
        print(f"open-agent serve: {err}", file=sys.stderr)
        return 2
    from ..server.app import OpenAgent

    # Only this extension: no JupyterLab, no terminals, nothing found in config dirs.
    OpenAgent.load_other_extensions = False
    OpenAgent.announce = True
    OpenAgent.serve_guard = staticmethod(_guard(args.allow_remote))
    OpenAgent.launch_instance(argv)
    return 0
