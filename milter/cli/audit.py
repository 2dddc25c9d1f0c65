"""`outguard audit verify|search`: prove the trail unbroken, or find records in it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_OK, EXIT_PROBLEM
from outguard.core.verdict import VERDICTS
from outguard.ops import audit


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("audit", help="verify or search the audit trail")
    au_sub = p.add_subparsers(dest="audit_command", required=True)
    av = au_sub.add_parser("verify", help="prove a log unbroken, or name its first bad line")
    av.add_argument("--partial", action="store_true", help="the oldest rotated file is gone: do not require record 1")
    av.add_argument("files", nargs="+", type=Path, metavar="FILE", help="oldest first (FILE.2 FILE.1 FILE)")
    asr = au_sub.add_parser("search", help="records by time, queue id, verdict or rule (JSON lines)")
    asr.add_argument("--since", help="ISO time, e.g. 2026-11-27T10:00")
    asr.add_argument("--until", help="ISO time")
    asr.add_argument("--queue-id")
    asr.add_argument("--verdict", choices=VERDICTS)
    asr.add_argument("--rule", help="a rule id that matched")
    asr.add_argument("--override", action="store_true",
                     help="only messages a sender's override marker let past a rule (with rule and justification)")
    asr.add_argument("files", nargs="+", type=Path, metavar="FILE")
    return p


def run(args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        count, head, broken = audit.verify(args.files, partial=args.partial)
        if broken is not None:
            print(f"BROKEN {broken}")
            return EXIT_PROBLEM
        print(f"ok: {count} records, chain head {head}")
        return EXIT_OK
    for record in audit.search(args.files, args.since, args.until, args.queue_id, args.verdict, args.rule,
                               args.override):
        print(json.dumps(record, ensure_ascii=False))
    return EXIT_OK
