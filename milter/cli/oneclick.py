"""`outguard oneclick serve|url`: the one-click unsubscribe endpoint (RFC 8058) and its links."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from outguard.core.config import ConfigError, load_config
from outguard.store import SuppressionStore
from outguard.unsubscribe.server import Endpoint, serve
from outguard.unsubscribe.tokens import SecretError, TokenCodec, load_secret, unsubscribe_headers

log = logging.getLogger("outguard.unsubscribe")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("oneclick", help="one-click unsubscribe (RFC 8058): the endpoint and its links")
    p.add_argument("--config", type=Path, help="site config (default /etc/outguard/outguard.yaml if present)")
    p.add_argument("--store", metavar="URL", help="SQLAlchemy URL or SQLite file (default: config store.url)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="oneclick_command", required=True)
    s = sub.add_parser("serve", help="run the HTTP endpoint")
    s.add_argument("--listen", metavar="HOST:PORT", help="default: oneclick.listen (127.0.0.1:8025)")
    u = sub.add_parser("url", help="the List-Unsubscribe headers for one recipient")
    u.add_argument("address")
    u.add_argument("--scope", default="global", help="global (default), list:<List-Id> or domain:<sender domain>")
    u.add_argument("--base-url", help="default: oneclick.base_url")
    return p


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        cfg = config.section("oneclick") if "oneclick" in config.raw else {}
        codec = TokenCodec(load_secret(cfg.get("secret_file")), int(cfg.get("max_age_days") or 0))
    except (ConfigError, SecretError, OSError) as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=getattr(logging, (args.log_level or "info").upper()), stream=sys.stderr,
                        format="outguard oneclick: %(message)s")
    if args.oneclick_command == "url":
        base = (args.base_url or cfg.get("base_url") or "").rstrip("/")
        if not base:
            print("outguard: no base URL (oneclick.base_url or --base-url)", file=sys.stderr)
            return 2
        for name, value in unsubscribe_headers(codec, base, args.address, args.scope):
            print(f"{name}: {value}")
        return 0
    store = SuppressionStore.from_config(config, args.store, create=True)
    host, _, port = (args.listen or cfg.get("listen") or "127.0.0.1:8025").rpartition(":")
    server = serve(Endpoint(codec, store), host.strip("[]") or "127.0.0.1", int(port))
    log.info("listening on %s:%d", *server.server_address[:2])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
    return 0
