"""`open-agent serve` (not built yet)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the `serve` subcommand."""
    parser = sub.add_parser("serve", help="(not built yet)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Run the subcommand."""
    print("open-agent serve: not built yet")
    return 2
