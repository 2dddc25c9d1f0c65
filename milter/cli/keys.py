"""`outguard keys import|list|remove|check`: the recipients' S/MIME certificates (and CRLs)
and OpenPGP keys that `encrypt: auto` encrypts to (`encryption.keys_dir`)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_OK, EXIT_PROBLEM, config_args, load
from outguard.encryption.keystore import KeyInfo, KeyRefused, Keystore


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("keys", help="recipients' certificates and OpenPGP keys for encrypt: auto")
    config_args(p)
    p.add_argument("--keys-dir", type=Path, help="default: encryption.keys_dir")
    sub = p.add_subparsers(dest="keys_command", required=True)
    i = sub.add_parser("import", help="certificates (PEM/DER), CRLs, OpenPGP public keys; expired or revoked refused")
    i.add_argument("files", nargs="+", type=Path)
    lst = sub.add_parser("list", help="every certificate and key, with its addresses, expiry and problems")
    lst.add_argument("--json", action="store_true")
    r = sub.add_parser("remove", help="by address or fingerprint")
    r.add_argument("which", nargs="+")
    c = sub.add_parser("check", help="exit 1 when a key is unusable or expires within --days")
    c.add_argument("--days", type=int, help="default: encryption.expiry_warning_days")
    return p


def _describe(info: KeyInfo) -> str:
    expiry = info.not_after.strftime("%Y-%m-%d") if info.not_after else "never"
    state = info.problem or "ok"
    return f"{info.kind:5} {info.fingerprint[:16]}  {','.join(info.addresses) or '-'}  expires {expiry}  {state}"


def run(args: argparse.Namespace) -> int:
    config = load(args, "warning")
    settings = config.section("encryption")
    store = Keystore(args.keys_dir, str(settings.get("gpg_binary") or "gpg")) if args.keys_dir \
        else Keystore.from_settings(settings)
    if args.keys_command == "import":
        status = EXIT_OK
        for path in args.files:
            try:
                added = store.add(path.read_bytes())
            except (KeyRefused, ValueError, OSError) as exc:
                print(f"{path}: refused: {exc}", file=sys.stderr)
                status = EXIT_PROBLEM
                continue
            print(f"{path}: " + ("; ".join(_describe(i) for i in added) if added else "revocation list imported"))
        return status
    if args.keys_command == "remove":
        status = EXIT_OK
        for which in args.which:
            gone = store.remove(which)
            if not gone:
                print(f"{which}: no such certificate or key", file=sys.stderr)
                status = EXIT_PROBLEM
            for fp in gone:
                print(f"removed {fp}")
        return status
    infos = store.infos()
    if args.keys_command == "list":
        if args.json:
            for info in infos:
                print(json.dumps({"kind": info.kind, "fingerprint": info.fingerprint, "addresses": list(info.addresses),
                                  "not_after": info.not_after.isoformat() if info.not_after else None,
                                  "problem": info.problem}))
        else:
            for info in infos:
                print(_describe(info))
        return EXIT_OK
    days = args.days if args.days is not None else int(settings.get("expiry_warning_days", 30))
    now = dt.datetime.now(dt.UTC)
    bad = [i for i in infos if i.problem or i.expires_within(days, now)]
    for info in bad:
        why = info.problem or f"expires within {days} days"
        print(f"warning: {_describe(info)}: {why}", file=sys.stderr)
    print(f"{len(infos)} certificates and keys, {len(bad)} unusable or expiring within {days} days")
    return EXIT_PROBLEM if bad else EXIT_OK
