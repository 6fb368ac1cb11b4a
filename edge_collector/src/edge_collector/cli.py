"""``edge-collector``: one subcommand per module in ``edge_collector.commands``.

Each module exposes ``register(subparsers)`` and sets ``func`` on its parser.
All modules are imported before any is registered, so a module may extend
another at import time (``upload`` adds flags and hooks to ``run`` that way).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES = ["run", "replay", "status", "export", "upload"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-collector",
        description="In-vehicle collector: OBD-II (ELM327) + NMEA GPS → trips in a durable SQLite buffer → "
        "gzip NDJSON chunks with a sha256 manifest for upload.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [importlib.import_module(f"edge_collector.commands.{name}") for name in COMMAND_MODULES]
    for module in modules:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pint").setLevel(logging.ERROR)  # python-OBD's unit registry warns on every import
    logging.getLogger("obd").setLevel(max(level, logging.ERROR) if args.verbose < 2 else logging.DEBUG)
    from edge_collector.buffer import EventBufferError
    from edge_collector.commands._common import CommandError

    try:
        return int(args.func(args) or 0)
    except (CommandError, EventBufferError) as exc:
        print(f"edge-collector: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
