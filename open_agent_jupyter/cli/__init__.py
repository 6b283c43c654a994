"""``open-agent``: serve | run | calibrate | export. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from . import calibrate, export, run, serve

    parser = argparse.ArgumentParser(
        prog="open-agent", description="An autonomous coding agent that lives inside Jupyter."
    )
    parser.add_argument("--version", action="version", version=f"open-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (serve, run, calibrate, export):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``open-agent`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
