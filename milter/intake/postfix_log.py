"""Postfix's own delivery log: `status=bounced|deferred|sent` lines become delivery events.

A recipient refused at RCPT time (a 5xx from the remote server) shows up here even when
no bounce message reaches us, and a `sent` line resets soft-bounce counts. The log is read
from a maillog file (followed like `tail -F`: rotation and truncation survive, the position
is saved in a state file so a restart resumes where it stopped) or from the journal
(`journalctl --cursor-file`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from outguard.intake.events import DeliveryEvent, assess, find_code
from outguard.store.policy import Policy

log = logging.getLogger("outguard.intake")

_LINE = re.compile(
    r"postfix(?:-[\w.-]+)?/(?:[\w-]+/)?(?P<service>smtp|lmtp|local|virtual|pipe|error|discard|retry)\[\d+\]: "
    r"(?P<qid>[0-9A-Za-z]+): to=<(?P<to>[^>]*)>(?:, orig_to=<(?P<orig>[^>]*)>)?, (?P<rest>.*)$")
_FIELD = re.compile(r"(\w+)=([^,]*)(?:, |$)")
_STATUS = re.compile(r"status=(?P<status>sent|bounced|deferred|undeliverable|expired)(?: \((?P<text>.*)\))?$")
_RELAY = re.compile(r"relay=([^,\s]+)")
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)")


@dataclass(frozen=True)
class LogEvent:
    queue_id: str
    event: DeliveryEvent
    line: str


def _when(line: str) -> int | None:
    m = _ISO.match(line)
    if not m:
        return None  # syslog's "Nov 27 20:00:00" has no year: use the time it is read
    try:
        return int(datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def parse_line(line: str, policy: Policy | None = None) -> LogEvent | None:
    """One log line -> a delivery event, or None for every other line."""
    m = _LINE.search(line)
    if not m:
        return None
    rest = m.group("rest")
    sm = _STATUS.search(rest)
    if not sm:
        return None
    status_word, text = sm.group("status"), (sm.group("text") or "").strip()
    dsn_m = re.search(r"dsn=([245]\.\d{1,3}\.\d{1,3})", rest)
    dsn = dsn_m.group(1) if dsn_m else None
    relay_m = _RELAY.search(rest)
    relay = relay_m.group(1) if relay_m and relay_m.group(1) != "none" else None
    recipient = m.group("orig") or m.group("to")  # the address we were given, before aliasing
    if "@" not in recipient:
        return None
    when = _when(line)
    if status_word == "sent":
        ev = DeliveryEvent(recipient, "delivered", dsn, None, "delivered", relay, at=when, cause="delivered")
    else:
        code = find_code(re.sub(r"^host \S+ said: ", "", text)) if "said:" in text else find_code(text)
        final = status_word in ("bounced", "undeliverable", "expired")
        v = assess(dsn, code, text, policy, final=final)
        ev = DeliveryEvent(recipient, v.kind, v.status, code, v.reason, relay, text[:1000] or None, at=when,
                           cause=v.cause)
    return LogEvent(m.group("qid"), ev, line)


class FileFollower:
    """Follow a maillog file like `tail -F`, remembering where it stopped in `state`."""

    def __init__(self, path: Path, state: Path | None = None, from_start: bool = False) -> None:
        self.path = Path(path)
        self.state = Path(state) if state else None
        self.from_start = from_start
        self._ino: int | None = None
        self._offset = 0
        self._load()

    def _load(self) -> None:
        if self.state and self.state.exists():
            try:
                data = json.loads(self.state.read_text())
                self._ino, self._offset = int(data["inode"]), int(data["offset"])
                return
            except (ValueError, KeyError, OSError):
                log.warning("unreadable log-follower state %s: starting over", self.state)
        if not self.from_start and self.path.exists():
            st = self.path.stat()
            self._ino, self._offset = st.st_ino, st.st_size  # like tail -F: only new lines

    def save(self) -> None:
        if self.state is None or self._ino is None:
            return
        tmp = self.state.with_suffix(self.state.suffix + ".tmp")
        tmp.write_text(json.dumps({"path": str(self.path), "inode": self._ino, "offset": self._offset}))
        os.replace(tmp, self.state)

    def read_available(self) -> Iterator[str]:
        """Complete lines written since the last call (the rest of a rotated file first)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        if self._ino is not None and st.st_ino != self._ino:
            yield from self._read_rotated()
            self._ino, self._offset = st.st_ino, 0
        if self._ino is None:
            self._ino, self._offset = st.st_ino, 0
        if st.st_size < self._offset:  # truncated in place
            self._offset = 0
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            while True:
                raw = fh.readline()
                if not raw or not raw.endswith(b"\n"):
                    break  # a partial line: read it whole next time
                self._offset += len(raw)
                yield raw.decode("utf-8", "replace").rstrip("\n")

    def _read_rotated(self) -> Iterator[str]:
        # logrotate renamed the file: finish the old one (path.1) if it is still there
        old = self.path.with_name(self.path.name + ".1")
        try:
            if old.exists() and old.stat().st_ino == self._ino:
                with old.open("rb") as fh:
                    fh.seek(self._offset)
                    for raw in fh:
                        if raw.endswith(b"\n"):
                            yield raw.decode("utf-8", "replace").rstrip("\n")
        except OSError:
            pass

    def follow(self, handle: Callable[[str], None], stop: Callable[[], bool], interval: float = 1.0) -> None:
        while not stop():
            for line in self.read_available():
                handle(line)
            self.save()
            time.sleep(interval)


def journal_lines(cursor_file: Path | None, follow: bool) -> Iterator[str]:
    """Postfix's lines from the journal, resuming after the cursor saved in `cursor_file`."""
    argv = ["journalctl", "--no-pager", "-o", "short-iso", "SYSLOG_IDENTIFIER=postfix/smtp",
            "SYSLOG_IDENTIFIER=postfix/lmtp", "SYSLOG_IDENTIFIER=postfix/local", "SYSLOG_IDENTIFIER=postfix/virtual",
            "SYSLOG_IDENTIFIER=postfix/error"]
    if cursor_file is not None:
        argv.append(f"--cursor-file={cursor_file}")
    if follow:
        argv.append("--follow")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, errors="replace")
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            yield line.rstrip("\n")
    finally:
        proc.terminate()
        proc.wait(timeout=5)
