"""`outguard review serve | user add|remove|list | digest`: the review page, its users, the
daily digest to senders."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from outguard.cli.common import EXIT_BROKEN, EXIT_OK, EXIT_PROBLEM, config_args, load
from outguard.notify.submit import SubmitError
from outguard.ops.queue import QueueError
from outguard.review.users import ROLES, UsersError, UsersFile
from outguard.unsubscribe.tokens import SecretError


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("review", help="the review page for held mail, its users, the senders' digest")
    config_args(p)
    r_sub = p.add_subparsers(dest="review_command", required=True)
    serve = r_sub.add_parser("serve", help="run the review page (loopback; put the site's TLS proxy in front)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="default: review.listen (127.0.0.1:8026)")
    user = r_sub.add_parser("user", help="the users file (review.users_file)")
    u_sub = user.add_subparsers(dest="user_command", required=True)
    add = u_sub.add_parser("add", help="add a user, or set a user's password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="reviewer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    rm = u_sub.add_parser("remove", help="remove a user (their sessions end at the next request)")
    rm.add_argument("name")
    u_sub.add_parser("list", help="user names and roles")
    digest = r_sub.add_parser("digest", help="mail each sender a digest of their held messages (cron: daily)")
    digest.add_argument("--dry-run", action="store_true", help="print who would get one, send nothing")
    return p


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsersError("the passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    config = load(args)
    section = config.section("review")
    if args.review_command == "user":
        users = UsersFile(Path(section["users_file"]))
        try:
            if args.user_command == "add":
                users.add(args.name, args.role, _password(args))
                print(f"{args.name}: {args.role}")
            elif args.user_command == "remove":
                if not users.remove(args.name):
                    print(f"outguard: no user {args.name}", file=sys.stderr)
                    return EXIT_PROBLEM
            else:
                for user in users.list():
                    print(f"{user.name}\t{user.role}")
        except UsersError as exc:
            print(f"outguard: {exc}", file=sys.stderr)
            return EXIT_PROBLEM
        return EXIT_OK

    from outguard.review.service import Review  # the web stack loads only for these commands

    try:
        review = Review(config)
    except (SecretError, OSError) as exc:
        print(f"outguard: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    if args.review_command == "digest":
        from outguard.review.digest import send_digests

        try:
            sent = send_digests(review, dry_run=args.dry_run)
        except (QueueError, SubmitError) as exc:
            print(f"outguard: {exc}", file=sys.stderr)
            return EXIT_PROBLEM
        for sender in sent:
            print(f"{'would send' if args.dry_run else 'sent'} digest to {sender}")
        return EXIT_OK
    return serve(review, args.listen or str(section.get("listen") or "127.0.0.1:8026"))


def serve(review: Any, listen: str) -> int:
    import uvicorn

    from outguard.review.app import make_app
    from outguard.review.used import UsedTokens
    from outguard.store import StoreUnavailable, SuppressionStore

    try:
        used = UsedTokens(SuppressionStore.from_config(review.config, create=True))
    except StoreUnavailable as exc:
        print(f"outguard: the store is unavailable, digest links are off: {exc}", file=sys.stderr)
        used = None
    host, _, port = listen.rpartition(":")
    uvicorn.run(make_app(review, used), host=host.strip("[]") or "127.0.0.1", port=int(port), log_level="warning",
                proxy_headers=False, server_header=False)
    return EXIT_OK
