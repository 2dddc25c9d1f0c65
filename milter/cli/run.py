"""`outguard run`: serve the milter protocol for Postfix until stopped."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_BROKEN, EXIT_OK, config_args, include_defaults, load, rules_args
from outguard.core.config import Config, merge

log = logging.getLogger("outguard.cli")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("run", help="serve the milter protocol for Postfix until stopped")
    config_args(p)
    rules_args(p)
    p.add_argument("--socket", help="libmilter socket: unix:/path or inet:PORT@127.0.0.1 (default: config)")
    p.add_argument("--workers", type=int, help="inspection worker processes; 0 = in the milter process")
    p.add_argument("--store", metavar="URL", help="suppression store (SQLAlchemy URL or SQLite file; default: config)")
    p.add_argument("--audit-log", type=Path, metavar="FILE", help="audit trail file (overrides audit.path)")
    return p


def run(args: argparse.Namespace) -> int:
    from outguard.daemon.milter import Daemon, block_signals, serve
    from outguard.daemon.runner import InlineRunner, InspectionFailed, Setup, WorkerPool

    block_signals()  # before any thread: see docs/postfix-and-pymilter.md#trap-3
    config = load(args)
    if args.audit_log:
        config = Config(raw=merge(config.raw, {"audit": {"path": str(args.audit_log)}}), source=config.source)
    settings = config.section("daemon")
    setup = Setup(args.config, tuple(args.rules), include_defaults(args), store_url=args.store)
    setup.validate()
    workers = settings["workers"] if args.workers is None else args.workers
    timeout = float(settings["inspect_timeout_seconds"])
    try:
        runner = WorkerPool(setup, workers, timeout) if workers > 0 else InlineRunner(setup, timeout)
    except InspectionFailed as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    daemon = Daemon.create(runner, config)
    spec = args.socket or settings["socket"]
    log.info("starting: %s, %s", f"{workers} worker processes" if workers else "inline inspection", config.source)
    try:
        serve(daemon, spec, int(settings["milter_timeout_seconds"]))
    finally:
        runner.close()
    log.info("stopped after %d messages", daemon.messages)
    return EXIT_OK
