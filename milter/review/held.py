"""What the review page shows of a held message: envelope facts, the rules and findings
(ids and counts from the audit trail, never a value), its MIME structure. Nothing of the
text: subject and body stay out unless an admin asks for the original."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from outguard.ops.queue import Held

MAX_AUDIT_BYTES = 64 << 20  # findings are looked up in the newest part of the trail


@dataclass(frozen=True)
class Part:
    depth: int
    content_type: str
    size: int
    disposition: str
    extension: str  # of an attachment's file name: the name itself may carry PHI


@dataclass
class Item:
    held: Held
    rules: list[str]
    findings: list[tuple[str, int]] = field(default_factory=list)
    review_requested: bool = False

    @property
    def queue_id(self) -> str:
        return self.held.queue_id

    @property
    def is_shadow(self) -> bool:
        return bool(self.held.shadow)

    @property
    def age(self) -> str:
        seconds = max(0, int(time.time()) - self.held.arrival_time)
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds // size} {unit}"
        return f"{seconds} s"


def rules_of(verdict_header: str) -> list[str]:
    """`quarantine; rules=a,b` -> [a, b]."""
    _, _, rules = verdict_header.partition("rules=")
    return [r for r in rules.strip().split(",") if r and r != "none"]


def audit_findings(path: Path | None) -> dict[str, list[tuple[str, int]]]:
    """queue id -> finding ids and counts, from the audit trail (ids and counts only)."""
    out: dict[str, list[tuple[str, int]]] = {}
    if path is None or not path.exists():
        return out
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - MAX_AUDIT_BYTES))
        for line in fh:
            try:
                record: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            if record.get("queue_id"):
                out[record["queue_id"]] = [(f["id"], int(f.get("count", 1))) for f in record.get("findings", [])]
    return out


def items(held: list[Held], audit_path: Path | None, requested: set[str] | None = None) -> list[Item]:
    found = audit_findings(audit_path)
    return [Item(h, rules_of(h.verdict), found.get(h.queue_id, []), h.queue_id in (requested or set()))
            for h in sorted(held, key=lambda h: h.arrival_time)]


def structure(raw: bytes) -> list[Part]:
    """The MIME tree, one row per part: type, decoded size, disposition, file extension."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    parts: list[Part] = []

    def walk(part: Message, depth: int) -> None:
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        name = part.get_filename() or ""
        extension = name.rsplit(".", 1)[-1].lower()[:8] if "." in name else ""
        parts.append(Part(depth, part.get_content_type(), size, (part.get("Content-Disposition") or "inline")
                          .split(";")[0].strip().lower(), extension if extension.isalnum() else ""))
        if part.is_multipart():
            for sub in part.get_payload():
                if isinstance(sub, Message):
                    walk(sub, depth + 1)
    walk(msg, 0)
    return parts
