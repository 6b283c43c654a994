"""``open-agent serve``: a Jupyter server running only the Open Agent extension.

It defaults to ``HOST``/``PORT`` from the environment (127.0.0.1:3000), keeps token
authentication on (a random token unless ``--token`` or ``JUPYTER_TOKEN`` gives one)
and prints the URL with the token. Options after ``--`` go to Jupyter unchanged
(e.g. ``-- --OpenAgent.max_running=2``).
"""

from __future__ import annotations

import argparse
import os
import sys

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
    argv = [f"--ServerApp.ip={host}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False", f"--ServerApp.base_url={args.base_url}",
            "--ServerApp.default_url=/api/health"]
    if args.root_dir:
        argv.append(f"--ServerApp.root_dir={args.root_dir}")
    if args.token is not None:
        if not args.token.strip():
            raise ValueError("--token must not be empty (token authentication stays on)")
        argv.append(f"--IdentityProvider.token={args.token}")
    extra = [a for a in args.jupyter_args if a != "--"]
    return argv + extra


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
    OpenAgent.launch_instance(argv)
    return 0
