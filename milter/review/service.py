"""What a reviewer or admin can do to held messages, each action an audit record (its own
hash-chained trail, `review.audit_path`: the daemon's trail has one writer, the daemon).

A release goes over the message's route (Postfix kept the FILTER when it held it) and
never meets the milter again; a release as-is (admin, with a justification) resubmits the
message through sendmail(1) with the signed release marker, so the milter delivers it
without inspecting it (the rule that held it cannot hold it again), then deletes the held copy."""

from __future__ import annotations

import fcntl
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outguard.core.config import Config
from outguard.core.headers import HeaderNames
from outguard.notify.marker import HEADER, Origin, OriginMarker, prepend_header, review_secret
from outguard.notify.submit import sendmail
from outguard.ops import queue
from outguard.ops.audit import AuditLog
from outguard.review import held as held_view
from outguard.review.users import User, UsersFile
from outguard.rules.override import Claim, redacted_reason
from outguard.unsubscribe.tokens import TokenCodec

log = logging.getLogger("outguard.review")
MIN_JUSTIFICATION = 10
MAX_JUSTIFICATION = 500


class Refused(Exception):
    """The action is not allowed (role, shadow copy, missing justification); says why."""


@dataclass(frozen=True)
class Actor:
    user: User
    client: str

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"


class Review:
    def __init__(self, config: Config) -> None:
        section = config.section("review")
        self.config = config
        self.section = section
        self.secret = review_secret(section)
        self.names = HeaderNames.from_config(config.headers)
        self.postfix_config: str | None = section.get("postfix_config")
        self.users = UsersFile(Path(section["users_file"]))
        self.audit_path = Path(section["audit_path"])
        self.fsync = str(config.section("audit").get("fsync", "always"))
        daemon_audit = config.section("audit").get("path")
        self.daemon_audit = Path(daemon_audit) if daemon_audit else None
        self.sendmail = [str(c) for c in config.section("notify").get("sendmail") or ["/usr/sbin/sendmail"]]
        self.marker = OriginMarker(self.secret)

    def codec(self, context: bytes, seconds: int) -> TokenCodec:
        return TokenCodec(self.secret, context=context, max_age_seconds=seconds)

    def record(self, actor: str, action: str, item: queue.Held | None = None, **extra: Any) -> None:
        """One audit record per action (never a message's content). `serve` and `digest` both
        write this trail: each write takes a file lock and picks the chain up from the file."""
        self.audit_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.audit_path.with_name(self.audit_path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            AuditLog(self.audit_path, fsync=self.fsync).write({
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"), "source": "review",
                "actor": actor, "action": action,
                **({"queue_id": item.queue_id, "message_id": item.message_id, "sender": item.sender,
                    "recipients": len(item.recipients), "rules": held_view.rules_of(item.verdict),
                    "shadow": bool(item.shadow)} if item else {}),
                **extra})

    def held(self) -> list[queue.Held]:
        return queue.list_held(self.names, self.postfix_config)

    def items(self) -> list[held_view.Item]:
        return held_view.items(self.held(), self.daemon_audit, self.review_requested())

    def review_requested(self) -> set[str]:
        """Queue ids whose sender asked for a review from their digest (from this trail)."""
        return {r["queue_id"] for r in self._tail(self.audit_path, 5000) if r.get("action") == "digest-review-request"}

    @staticmethod
    def _tail(path: Path | None, limit: int) -> list[dict[str, Any]]:
        if path is None or not path.exists():
            return []
        out = []
        for line in path.read_bytes().splitlines()[-limit:]:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def find(self, queue_id: str) -> queue.Held:
        item = next((h for h in self.held() if h.queue_id == queue_id), None)
        if item is None:
            raise Refused("no such held message (released or deleted meanwhile?)")
        return item

    def detail(self, queue_id: str) -> tuple[held_view.Item, list[held_view.Part]]:
        item = next((i for i in self.items() if i.queue_id == queue_id), None)
        if item is None:
            raise Refused("no such held message (released or deleted meanwhile?)")
        return item, held_view.structure(queue.message_of(queue_id, self.postfix_config))

    def release(self, actor: Actor, queue_id: str) -> None:
        """Deliver over the message's own route (an encrypt route stays)."""
        self.release_held(self.find(queue_id), actor.user.name, "release")

    def release_held(self, item: queue.Held, who: str, action: str) -> None:
        if item.shadow:
            raise Refused("a shadow copy is never released: the original was delivered; delete it")
        queue.release([item.queue_id], self.postfix_config)
        self.record(who, action, item, route=item.route or None)

    def delete(self, actor: Actor, queue_id: str) -> None:
        item = self.find(queue_id)
        queue.delete([queue_id], self.postfix_config)
        self.record(actor.user.name, "delete", item)

    def release_as_is(self, actor: Actor, queue_id: str, justification: str) -> None:
        """Admin only, with a justification: deliver without the route that held it."""
        if not actor.is_admin:
            raise Refused("only an admin may release a message as-is")
        reason = " ".join(justification.split())[:MAX_JUSTIFICATION]
        if len(reason) < MIN_JUSTIFICATION:
            raise Refused(f"a release as-is needs a justification of at least {MIN_JUSTIFICATION} characters")
        item = self.find(queue_id)
        if item.shadow:
            raise Refused("a shadow copy is never released: the original was delivered; delete it")
        if not item.message_id or not item.recipients:
            raise Refused("this message has no Message-ID or no recipients left; it cannot be resubmitted")
        raw = queue.message_of(queue_id, self.postfix_config)
        rules = held_view.rules_of(item.verdict)
        token = self.marker.make(Origin("release", item.message_id, ",".join(rules), actor=actor.user.name))
        sendmail(self.sendmail, prepend_header(raw, HEADER, token), item.sender, list(item.recipients))
        queue.delete([queue_id], self.postfix_config)
        self.record(actor.user.name, "release-as-is", item,
                    justification=redacted_reason(Claim(reason, "review"), []))

    def original(self, actor: Actor, queue_id: str) -> str:
        """The full held message, for an admin who asked (audited before it is shown)."""
        if not actor.is_admin:
            raise Refused("only an admin may see the original")
        item = self.find(queue_id)
        self.record(actor.user.name, "view-original", item)
        return queue.message_of(queue_id, self.postfix_config).decode("utf-8", "replace")

    def trail(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest review actions and daemon decisions with an override, newest first."""
        out = self._tail(self.audit_path, limit) + [r for r in self._tail(self.daemon_audit, 20 * limit) if r.get("override")]
        return sorted(out, key=lambda r: r.get("time", ""), reverse=True)[:limit]


def new_csrf() -> str:
    return secrets.token_urlsafe(24)
