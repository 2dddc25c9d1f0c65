"""`outguard quarantine`: Postfix's hold queue is the quarantine; this reads and acts on it."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from outguard.core.headers import HeaderNames

SHADOW_HEADER = "X-Outguard-Shadow"  # written on shadow copies (outguard.notify.loop)


class QueueError(Exception):
    """A Postfix queue tool failed; the message says which and why."""


@dataclass(frozen=True)
class Held:
    queue_id: str
    arrival_time: int
    sender: str
    recipients: tuple[str, ...]
    size: int
    verdict: str
    reason: str
    message_id: str = ""
    route: str = ""
    shadow: str = ""   # "rule=R; would=V" on a shadow copy (never to be released: the original went out)


def _run(cmd: list[str], input_: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(cmd, input=input_, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise QueueError(f"{cmd[0]}: {exc}") from None
    if proc.returncode != 0:
        raise QueueError(f"{' '.join(cmd)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def _conf(config_dir: str | None) -> list[str]:
    return ["-c", config_dir] if config_dir else []


def headers_of(queue_id: str, config_dir: str | None = None) -> dict[str, str]:
    raw = _run(["postcat", *_conf(config_dir), "-h", "-q", queue_id])
    msg = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    return {k: str(v) for k, v in msg.items()}


def list_held(names: HeaderNames, config_dir: str | None = None) -> list[Held]:
    out = []
    for line in _run(["postqueue", *_conf(config_dir), "-j"]).splitlines():
        entry: dict[str, Any] = json.loads(line)
        if entry.get("queue_name") != "hold":
            continue
        try:
            headers = headers_of(entry["queue_id"], config_dir)
        except QueueError:
            headers = {}  # delivered or deleted meanwhile
        out.append(Held(
            queue_id=entry["queue_id"], arrival_time=int(entry.get("arrival_time", 0)),
            sender=entry.get("sender", ""), recipients=tuple(r["address"] for r in entry.get("recipients", [])),
            size=int(entry.get("message_size", 0)),
            verdict=headers.get(names.verdict, "-"), reason=headers.get(names.quarantine, "-"),
            message_id=headers.get("Message-ID", "").strip(), route=headers.get(names.route, ""),
            shadow=headers.get(SHADOW_HEADER, ""),
        ))
    return out


def show(queue_id: str, config_dir: str | None = None) -> str:
    """The held message's headers only: the body may carry the very PHI that held it."""
    return _run(["postcat", *_conf(config_dir), "-h", "-q", queue_id]).decode("utf-8", "replace")


def message_of(queue_id: str, config_dir: str | None = None) -> bytes:
    """The held message, headers and body, as Postfix keeps it (for a release as-is, or an
    admin who asked for the original)."""
    return _run(["postcat", *_conf(config_dir), "-bh", "-q", queue_id])


def release(queue_ids: list[str], config_dir: str | None = None) -> None:
    for qid in queue_ids:
        _run(["postsuper", *_conf(config_dir), "-H", qid])
    _run(["postqueue", *_conf(config_dir), "-f"])


def delete(queue_ids: list[str], config_dir: str | None = None) -> None:
    for qid in queue_ids:
        _run(["postsuper", *_conf(config_dir), "-d", qid, "hold"])
