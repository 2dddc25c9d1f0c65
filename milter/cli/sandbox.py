"""`outguard sandbox`: outguard inside a throw-away Postfix on loopback (the quick start)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from outguard.cli.common import config_args, load


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("sandbox", help="run outguard inside a throw-away Postfix on loopback (needs root)")
    config_args(p)
    p.add_argument("--rules", type=Path, action="append", default=[], metavar="PATH", help="extra local rules")
    p.add_argument("--send", action="append", default=[], metavar="PATH", help="messages to send through it first")
    p.add_argument("--once", action="store_true", help="exit after sending instead of running until Ctrl-C")
    return p


def run(args: argparse.Namespace) -> int:
    from outguard.sandbox.run import run as run_sandbox

    load(args)
    return run_sandbox(args.config, args.rules, args.send, args.once)
