"""The `outguard` command: one module per command, each with `add_parser(subparsers)` and
`run(args) -> exit code`. Exit codes:

  0  done (check: every message inspected, whatever its verdict; lint/test: all good)
  1  check: a message could not be read, or a verdict listed in --fail-on occurred;
     rules lint/test, check-config: an error or a failing rule test
  2  the configuration, a rule file or a check is broken, or the command line is wrong
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from outguard import __version__
from outguard.checks.host import PluginError
from outguard.cli.common import EXIT_BROKEN, EXIT_OK
from outguard.core.config import ConfigError
from outguard.rules.loader import RuleSetError

# Command -> module under outguard.cli. Imported on demand: `outguard check` does not load the
# store (SQLAlchemy), the intake parsers or the sandbox just to build the parser.
COMMANDS: dict[str, str] = {
    "check": "check", "rules": "rules", "check-config": "check_config", "run": "run", "quarantine": "quarantine",
    "audit": "audit", "suppress": "suppress", "ingest": "ingest", "oneclick": "oneclick", "sandbox": "sandbox",
    "review": "review",
    "keys": "keys", "edm": "edm", "postfix-snippets": "snippets",
    "reputation": "reputation", "doctor": "doctor",
}


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"outguard.cli.{COMMANDS[name]}")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with `argv` naming a command first, only that command's module is imported."""
    parser = argparse.ArgumentParser(prog="outguard", description="Inspect outgoing mail by YAML rules.")
    parser.add_argument("--version", action="version", version=f"outguard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    first = next(iter(argv or ()), None)
    for name in [first] if first in COMMANDS else COMMANDS:
        command_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(command_module(args.command).run(args))
    except (ConfigError, RuleSetError, PluginError) as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
