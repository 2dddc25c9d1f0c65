"""`outguard doctor DOMAIN [--ip IP] [--sample MESSAGE] [--json]`: the sender's posture
(SPF, DKIM, DMARC, reverse DNS, MX/TLS, bulk-sender checklist), each item OPEN or OK with
its impact and fix. Exit 0 when nothing is open, 1 otherwise, 2 on bad input."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_BROKEN, EXIT_OK, EXIT_PROBLEM, config_args, load


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("doctor", help="check SPF, DKIM, DMARC, reverse DNS, MX/TLS and the bulk-sender checklist")
    config_args(p)
    p.add_argument("domain", metavar="DOMAIN", help="the sending (From) domain")
    p.add_argument("--ip", help="the relay's egress IP (SPF permits it, PTR and forward-confirmed reverse DNS)")
    p.add_argument("--sample", type=Path, metavar="MESSAGE", help="a message as the relay sent it (signed)")
    p.add_argument("--selector", action="append", default=[], help="a DKIM selector to check (repeatable)")
    p.add_argument("--nameserver", metavar="IP[:PORT]", help="resolve through this server (default: the system's)")
    p.add_argument("--tls", action="store_true", help="connect to the MX on port 25 and try STARTTLS")
    p.add_argument("--tls-port", type=int, default=25, help=argparse.SUPPRESS)
    p.add_argument("--store", metavar="URL", help="the store whose complaint rate is checked (default: config)")
    p.add_argument("--json", action="store_true", help="the items as a JSON list")
    return p


def _complaint_rate(config: Any, url: str | None, domain: str) -> float | None:
    """The domain's complaint rate over the longest window, if the store has enough volume."""
    try:
        from outguard.cli.reputation import _store
        from outguard.reputation.settings import ReputationSettings

        settings = ReputationSettings.from_config(config)
        store = _store(config, url)
        path = store.location.sqlite_path
        if path is not None and not path.exists():
            return None
        try:
            w = store.window(f"sender:{domain}", max(settings.windows_hours), settings.minimum_volume)
        finally:
            store.close()
        return w.complaint_rate if w.counts else None
    except Exception:   # the posture check goes on without figures
        return None


def run(args: argparse.Namespace) -> int:
    from outguard.doctor.checks import diagnose
    from outguard.doctor.items import OPEN, render
    from outguard.doctor.resolver import Resolver

    config = load(args, "warning")
    sample = None
    if args.sample is not None:
        try:
            sample = args.sample.read_bytes()
        except OSError as exc:
            print(f"outguard: {args.sample}: {exc.strerror}", file=sys.stderr)
            return EXIT_BROKEN
    try:
        resolver = Resolver(args.nameserver)
    except ValueError as exc:
        print(f"outguard: --nameserver {args.nameserver!r}: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    items = diagnose(args.domain, resolver, args.ip, sample, args.selector, args.tls, args.tls_port,
                     _complaint_rate(config, args.store, args.domain.lower()))
    print(json.dumps([i.as_json() for i in items], indent=1) if args.json else render(args.domain, items), end="")
    if args.json:
        print()
    return EXIT_PROBLEM if any(i.status == OPEN for i in items) else EXIT_OK
