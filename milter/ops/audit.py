"""The audit trail: one JSON line per decision, hash-chained so that an edited, deleted or
reordered line is detected (`outguard audit verify`), rotated by size without losing one.

A record holds ids, counts and the verdict, never a matched value: what an auditor needs
to see that the policy ran, not the PHI it ran on.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outguard.core.decision import Decision
from outguard.core.verdict import Verdict

GENESIS = "0" * 64


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def record_of(decision: Decision, queue_id: str | None, message_id: str | None, sender: str,
              recipients: int, source: str) -> dict[str, Any]:
    """The audit fields of one decision (ids, counts, verdict: no message content)."""
    actions = [a for a, on in (("encrypt", decision.route or decision.encryption),
                               ("quarantine", decision.verdict == Verdict.QUARANTINE),
                               ("reply", decision.reply), ("subject_prefix", decision.subject_prefix)) if on]
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "source": source,
        "queue_id": queue_id,
        "message_id": message_id,
        "sender": sender,
        "recipients": recipients,
        "verdict": decision.verdict,
        "rules": list(decision.rule_ids),
        "deciding_rule": decision.deciding_rule,
        "findings": [{"id": f.id, "count": f.count, "confidence": round(f.confidence, 3)} for f in decision.findings],
        "actions": actions + [f"tag:{h}" for h, _ in decision.add_headers]
        + ([f"drop_recipients:{len(decision.drop_recipients)}"] if decision.drop_recipients else [])
        + ([f"notify:{len(decision.notify)}"] if decision.notify else [])
        + [f"monitor:{r}={w}" for r, w in decision.monitored],
        "route": decision.route,
        **({"encryption": decision.encryption.method} if decision.encryption else {}),
        "rules_version": decision.rules_version,
        **({"origin": decision.origin} if decision.origin != "inspected" else {}),
        **({"shadow": [{"rule": r, "would": w} for r, w in decision.shadowed]} if decision.shadowed else {}),
        **({"override": [{"rule": r, "kind": k} for r, k in decision.overrides],
            "justification": decision.justification} if decision.overrides else {}),
        **({"notice": {"template": decision.notice[0], "rule": decision.notice[1]}} if decision.notice else {}),
    }


def _last_line(path: Path) -> bytes | None:
    """The last complete line of `path` (read from the end: logs grow large)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            pos, chunk, tail = end, 4096, b""
            while pos > 0:
                pos = max(0, pos - chunk)
                fh.seek(pos)
                tail = fh.read(end - pos)
                lines = tail.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or pos == 0:
                    return lines[-1] or None
            return None
    except FileNotFoundError:
        return None


class AuditLog:
    """Append-only, hash-chained JSON lines. Safe to share between threads of one process."""

    def __init__(self, path: Path, fsync: str = "always", rotate_bytes: int = 100 << 20, keep: int = 10,
                 rotate_seconds: int = 0) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.keep = keep
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        last = _last_line(self.path) or _last_line(self._rotated(1))
        self._prev = line_hash(last) if last else GENESIS
        self._seq = json.loads(last).get("seq", 0) if last else 0
        self._last_sync = time.monotonic()
        self._file_started = self._first_time()
        # Group commit (fsync: always): each writer returns only once an fsync covered its line,
        # but one fsync covers every line written before it, so concurrent writers share it.
        self._written = self._seq      # last seq whose line is in the file
        self._synced = self._seq       # last seq known on disk
        self._syncing = False
        self._sync_done = threading.Condition()
        self._rotations = 0            # rotations so far (a kept fd is of the current file only within one)

    def _first_time(self) -> float:
        """When the current file got its first record (for rotation by age)."""
        try:
            with self.path.open("rb") as fh:
                first = fh.readline(1 << 16)  # bounded: a device like /dev/full never ends a line
            return datetime.fromisoformat(json.loads(first)["time"]).timestamp()
        except (OSError, ValueError, KeyError, TypeError):
            return time.time()

    @property
    def head(self) -> str:
        """Hash of the last line written: the value to keep elsewhere to detect a cut tail."""
        return self._prev

    def _rotated(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; with fsync: always, return only once it is on disk (OSError if not)."""
        kept: int | None = None   # fsync: always: the fd the line went through, for the fsync
        with self._lock:
            self._seq += 1
            mine = self._seq
            generation = self._rotations
            line = json.dumps({"seq": self._seq, **record, "prev": self._prev}, separators=(",", ":"),
                              ensure_ascii=False).encode() + b"\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
                self._written = mine
                if self.fsync == "interval" and time.monotonic() - self._last_sync > 1:
                    os.fsync(fd)
                    self._last_sync = time.monotonic()
                size = os.lseek(fd, 0, os.SEEK_END)   # the file's size, without a stat of the path
            except BaseException:
                os.close(fd)
                raise
            self._prev = line_hash(line)
            too_big = self.rotate_bytes and size >= self.rotate_bytes
            too_old = self.rotate_seconds and time.time() - self._file_started >= self.rotate_seconds
            if self.fsync == "always" and not (too_big or too_old):
                kept = fd
            else:
                os.close(fd)
            if too_big or too_old:
                if self.fsync == "always":
                    self._sync_file(mine)   # the lines about to become FILE.1 first
                self._rotate()
                self._rotations += 1
                self._file_started = time.time()
        if self.fsync == "always":
            self._durable(mine, kept, generation)

    def _durable(self, seq: int, fd: int | None = None, generation: int = -1) -> None:
        """Wait until `seq` is on disk: the first waiter fsyncs for all lines written so far,
        the others wait for it (and retry themselves if it failed). `fd` (closed here) is the
        writer's own descriptor of the file as of rotation `generation`: the leader fsyncs
        through it when no rotation came since (one open and close less a message)."""
        try:
            with self._sync_done:
                while self._synced < seq:
                    if not self._syncing:
                        self._syncing = True
                        break
                    self._sync_done.wait()
                else:
                    return
            try:
                with self._lock:   # the fd is taken with the line count: a later rotation cannot move them apart
                    upto = self._written
                    if fd is None or generation != self._rotations:
                        if fd is not None:
                            os.close(fd)
                        fd = None
                        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                mine, fd = fd, None
                self._sync_file(upto, mine)
            finally:
                with self._sync_done:
                    self._syncing = False
                    self._sync_done.notify_all()
        finally:
            if fd is not None:
                os.close(fd)

    def _sync_file(self, upto: int, fd: int | None = None) -> None:
        """fsync the file (`fd`, else the current path) and note every line up to `upto` durable."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND) if fd is None else fd
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        with self._sync_done:
            self._synced = max(self._synced, upto)

    def _rotate(self) -> None:
        """Shift FILE.n -> FILE.n+1 and FILE -> FILE.1; the chain continues into the new FILE."""
        for n in range(self.keep - 1, 0, -1):
            if self._rotated(n).exists():
                os.replace(self._rotated(n), self._rotated(n + 1))
        os.replace(self.path, self._rotated(1))


@dataclass(frozen=True)
class Break:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def _lines(files: list[Path]) -> Iterator[tuple[str, int, bytes]]:
    for f in files:
        with f.open("rb") as fh:
            for n, line in enumerate(fh, 1):
                yield str(f), n, line


def verify(files: list[Path], partial: bool = False) -> tuple[int, str, Break | None]:
    """Check the chain through `files` (oldest first): (lines checked, head hash, first break).

    Unless `partial` (the oldest rotated file is gone), the chain must start at record 1.
    Lines cut from the end leave no trace in the file itself: compare the head hash with
    one kept elsewhere (the daemon logs it at start and stop).
    """
    prev: str | None = None
    seq: int | None = None
    count = 0
    prev_name, prev_n = "", 0
    for name, n, line in _lines(files):
        count += 1
        try:
            record = json.loads(line)
        except ValueError:
            return count, prev or GENESIS, Break(name, n, "not a JSON record (edited or truncated)")
        if not line.endswith(b"\n"):
            return count, prev or GENESIS, Break(name, n, "incomplete last line")
        if prev is None and not partial and (record.get("seq") != 1 or record.get("prev") != GENESIS):
            return count, GENESIS, Break(name, n, f"chain does not start at record 1 (seq {record.get('seq')}): "
                                                  "lines removed before it (use --partial for a rotated tail)")
        if seq is not None and record.get("seq") != seq + 1:
            jump = f"sequence jumps from {seq} to {record.get('seq')}: lines removed or moved here"
            return count, prev or GENESIS, Break(name, n, jump)
        if prev is not None and record.get("prev") != prev:
            # Sequence intact, link broken: the line before was edited after this one was written.
            return count, prev, Break(prev_name, prev_n,
                                      f"edited: no longer matches the hash recorded by {name}:{n}")
        prev_name, prev_n = name, n
        prev, seq = line_hash(line), record.get("seq")
    return count, prev or GENESIS, None


def search(files: list[Path], since: str | None = None, until: str | None = None, queue_id: str | None = None,
           verdict: str | None = None, rule: str | None = None, override: bool = False) -> Iterator[dict[str, Any]]:
    for _, _, line in _lines(files):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if since and r.get("time", "") < since or until and r.get("time", "") > until:
            continue
        if queue_id and r.get("queue_id") != queue_id or verdict and r.get("verdict") != verdict:
            continue
        if rule and rule not in r.get("rules", []):
            continue
        if override and not r.get("override"):
            continue
        yield r
