"""`outguard quarantine list|show|release|delete`: Postfix's hold queue is the quarantine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_OK, EXIT_PROBLEM
from outguard.core.config import load_config
from outguard.core.headers import HeaderNames
from outguard.ops import queue


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("quarantine", help="messages held in Postfix's hold queue")
    p.add_argument("--config", type=Path, help="site config (its `headers:` names what outguard wrote)")
    p.add_argument("--postfix-config", metavar="DIR", help="Postfix config dir of a non-default instance")
    q_sub = p.add_subparsers(dest="quarantine_command", required=True)
    q_list = q_sub.add_parser("list", help="held messages with their verdict and rules")
    q_list.add_argument("--json", action="store_true")
    q_show = q_sub.add_parser("show", help="headers of a held message (never its body)")
    q_show.add_argument("queue_id")
    for name, text in (("release", "deliver held messages"), ("delete", "delete held messages")):
        qp = q_sub.add_parser(name, help=text)
        qp.add_argument("queue_ids", nargs="+", metavar="QUEUE_ID")
    return p


def run(args: argparse.Namespace) -> int:
    conf = args.postfix_config
    try:
        if args.quarantine_command == "list":
            names = HeaderNames.from_config(load_config(args.config).headers)
            held = queue.list_held(names, conf)
            for h in held:
                if args.json:
                    print(json.dumps(h.__dict__))
                else:
                    print(f"{h.queue_id}  {h.size:>8}  from=<{h.sender}> nrcpt={len(h.recipients)}  "
                          f"verdict: {h.verdict}  reason: {h.reason}")
            if not args.json:
                print(f"{len(held)} held")
        elif args.quarantine_command == "show":
            print(queue.show(args.queue_id, conf), end="")
        elif args.quarantine_command == "release":
            queue.release(args.queue_ids, conf)
        else:
            queue.delete(args.queue_ids, conf)
    except queue.QueueError as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK
