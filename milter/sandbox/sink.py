"""An SMTP sink (Postfix's ``smtp-sink``) on loopback that keeps every message it gets.

``smtp-sink`` refuses to run as root without ``-u USER``; the dump files are
then written as that user.  The sink is therefore chrooted (``-R``) into its
own dump directory owned by that user, so the permissions of the caller's temp
directories (pytest's are 0700) do not matter.  A dump file is complete once
the sink process no longer holds it open (checked via /proc/PID/fd), which is
exact, unlike polling for a size or a trailing blank line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import re
import stat
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from outguard.sandbox.process import POSTFIX_USER, HarnessError, free_port, is_root, sbin, stop_at_exit, wait_for_banner


@dataclasses.dataclass(frozen=True)
class SinkMessage:
    """One transaction captured by smtp-sink."""

    path: Path
    client_addr: str
    helo: str
    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes  # message as received (headers Postfix added included), LF line ends

    @property
    def headers(self) -> bytes:
        return self.raw.split(b"\n\n", 1)[0]

    @property
    def body(self) -> bytes:
        parts = self.raw.split(b"\n\n", 1)
        return parts[1] if len(parts) > 1 else b""


def _strip_angle(value: str) -> str:
    value = value.strip()
    addr = value.split(None, 1)[0] if value else ""
    return addr[1:-1] if addr.startswith("<") and addr.endswith(">") else addr


def _parse_dump(path: Path, data: bytes) -> SinkMessage:
    meta: dict[str, list[str]] = {}
    lines = data.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(b"Received: "):  # smtp-sink's own 3-line Received: ends its block
            i += 1
            while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
                i += 1
            break
        key, _, value = line.decode("utf-8", errors="replace").partition(":")
        meta.setdefault(key.strip(), []).append(value.strip())
        i += 1
    content = b"\n".join(lines[i:])
    if content.endswith(b"\n\n"):
        content = content[:-1]  # smtp-sink terminates every dump with one empty line
    return SinkMessage(
        path=path,
        client_addr=(meta.get("X-Client-Addr") or [""])[0],
        helo=(meta.get("X-Helo-Args") or [""])[0],
        mail_from=_strip_angle((meta.get("X-Mail-Args") or [""])[0]),
        rcpt_to=tuple(_strip_angle(v) for v in meta.get("X-Rcpt-Args", [])),
        raw=content,
    )


class SmtpSink:
    """``/usr/sbin/smtp-sink`` on 127.0.0.1, one dump file per received message.

    ``directory`` is created; dumps go to ``directory/dumps`` (the sink's chroot
    when running as root), the sink's own output to ``directory/smtp-sink.log``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        name: str = "sink",
        user: str = POSTFIX_USER,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.directory = Path(directory)
        self.dump_dir = self.directory / "dumps"
        self.log_path = self.directory / "smtp-sink.log"
        self.host = host
        self._requested_port = port
        self.port: int = port or 0
        self.name = name
        self.hostname = f"{re.sub(r'[^A-Za-z0-9-]', '-', name)}.sink.invalid"
        self.user = user
        self.extra_args = tuple(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle
    @property
    def nexthop(self) -> str:
        """Postfix nexthop syntax, e.g. ``[127.0.0.1]:2525``."""
        return f"[{self.host}]:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> SmtpSink:
        if self.running:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dump_dir.mkdir(exist_ok=True)
        attempts = 1 if self._requested_port else 5
        last: Exception | None = None
        for _ in range(attempts):
            self.port = self._requested_port or free_port(self.host)
            try:
                self._spawn()
                return self
            except HarnessError as exc:
                last = exc
                self._kill()
        raise HarnessError(f"smtp-sink {self.name} did not start: {last}")

    def _spawn(self) -> None:
        argv = [sbin("smtp-sink"), "-h", self.hostname]
        if is_root():
            pw = pwd.getpwnam(self.user)
            os.chown(self.dump_dir, pw.pw_uid, pw.pw_gid)
            self.dump_dir.chmod(0o755)
            # chroot into the dump dir, then drop to self.user: dump files land
            # in dump_dir whatever the permissions of its parents are.
            argv += ["-R", str(self.dump_dir), "-u", self.user, "-d", "/%Y%m%d%H%M%S."]
        else:
            argv += ["-d", f"{self.dump_dir}/%Y%m%d%H%M%S."]
        argv += [*self.extra_args, f"{self.host}:{self.port}", "256"]
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            log.close()
        stop_at_exit(self)
        try:
            wait_for_banner(self.host, self.port, 10.0, expect=self.hostname, alive=lambda: self.running)
        except HarnessError as exc:
            raise HarnessError(f"{exc}; log: {self._log_tail()}") from exc

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop(self) -> None:
        self._kill()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- captured mail
    def _open_inodes(self) -> set[tuple[int, int]]:
        if not self.running or self._proc is None:
            return set()
        fd_dir = Path(f"/proc/{self._proc.pid}/fd")
        inodes: set[tuple[int, int]] = set()
        try:
            entries = list(fd_dir.iterdir())
        except OSError:
            return inodes
        for entry in entries:
            with contextlib.suppress(OSError):
                st = entry.stat()
                if stat.S_ISREG(st.st_mode):
                    inodes.add((st.st_dev, st.st_ino))
        return inodes

    def records(self) -> list[SinkMessage]:
        """Completely received messages, oldest first."""
        if not self.dump_dir.is_dir():
            return []
        files = []
        for p in self.dump_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                st = p.stat()
                if stat.S_ISREG(st.st_mode):
                    files.append((st.st_mtime_ns, p.name, p, (st.st_dev, st.st_ino)))
        open_now = self._open_inodes()  # after the listing: anything still open is excluded
        out = []
        for _mtime, _name, p, key in sorted(files):
            if key in open_now:
                continue
            with contextlib.suppress(FileNotFoundError):
                out.append(_parse_dump(p, p.read_bytes()))
        return out

    def messages(self) -> list[bytes]:
        """Raw received messages (LF line ends, Postfix's Received: header included)."""
        return [r.raw for r in self.records()]

    def wait_for_records(self, count: int, timeout: float = 15.0) -> list[SinkMessage]:
        deadline = time.monotonic() + timeout
        while True:
            recs = self.records()
            if len(recs) >= count:
                return recs
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"sink {self.name} ({self.nexthop}) has {len(recs)} message(s), expected {count} within {timeout}s"
                )
            time.sleep(0.05)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[bytes]:
        """Block until at least *count* messages arrived; return all of them."""
        return [r.raw for r in self.wait_for_records(count, timeout)]

    def find(self, needle: bytes) -> list[SinkMessage]:
        """Received messages whose raw text contains *needle*."""
        return [r for r in self.records() if needle in r.raw]

    def wait_for_match(self, needle: bytes, timeout: float = 15.0, count: int = 1) -> list[SinkMessage]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(needle)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"sink {self.name}: {count} message(s) containing {needle!r} not seen in {timeout}s")
            time.sleep(0.05)

    def clear(self) -> None:
        """Delete the completely received dumps (in-flight ones stay)."""
        for r in self.records():
            with contextlib.suppress(FileNotFoundError):
                r.path.unlink()
