"""Throw-away Postfix instances and SMTP sinks: the quick start's sandbox, the end-to-end
tests' Postfix and the benchmark's.

Stdlib only; importable without pytest. Everything here needs root (Postfix's
``master`` must start as root) and a Debian/Ubuntu-like Postfix >= 3.4 (for
``maillog_file`` + ``postlogd``); it was written against Debian 12 / Postfix 3.7.

Typical use::

    base = make_shared_tmpdir()                # reachable by the postfix user
    with PostfixInstance(base / "pf", milter=f"unix:{base}/m/outguard.sock") as pf:
        code, text = pf.send(raw, "a@example.org", ["b@example.com"])
        msgs = pf.sink.wait_for(1)             # relayed, plaintext
        routed = pf.tls_sink.wait_for(1)       # FILTERed to outguard-tls

Nothing an instance does can leave the machine: smtpd listens on 127.0.0.1 only,
every transport points at a local ``smtp-sink``, DNS is disabled and local
delivery is an error.

Design notes (things that were not obvious):

* ``postfix -c DIR`` / ``sendmail -C DIR`` / ``postqueue -c DIR`` work as root
  without any change to /etc/postfix: Postfix only demands that a non-default
  config directory be listed in ``alternate_config_directories`` (or
  ``multi_instance_directories``) of the *default* main.cf when the caller is
  not root (mail_conf.c: the check is skipped for euid 0).  Even a missing
  /etc/postfix/main.cf (debconf "No configuration") is fine.  So the harness
  never touches /etc/postfix.  Non-root use is impossible anyway (master).
* Postfix refuses to trust a main.cf modified within the last second and
  re-reads it every 300 ms until it is older: writing a config and starting
  at once costs ~2 s per command.  Written config files are back-dated.
* ``maillog_file`` is only honoured below a prefix in ``maillog_file_prefixes``
  (default ``/var, /dev/stdout``), so each instance sets that to its own dir, and
  master.cf carries the ``postlog`` (postlogd) service.  No syslog is needed.
* ``smtp-sink`` refuses to run as root without ``-u USER``; the dump files are
  then written as that user.  The sink is therefore chrooted (``-R``) into its
  own dump directory owned by that user, so the permissions of the caller's temp
  directories (pytest's are 0700) do not matter.  A dump file is complete once
  the sink process no longer holds it open (checked via /proc/PID/fd), which is
  exact, unlike polling for a size or a trailing blank line.
* ``master`` opens ``$data_directory/master.lock`` as the postfix user, so an
  instance's state must sit below directories that user can search.  When the
  caller's base_dir is not (pytest's tmp_path), the state moves to a 0755 dir in
  /tmp (symlinked as base_dir/postfix), removed by stop() after the maillog was
  copied to base_dir/maillog.
* Postfix daemons run as the ``postfix`` user.  A milter's *unix socket* must be
  reachable (x on every parent directory) for that user; pytest's tmp_path is
  not.  Use :func:`make_shared_tmpdir` for socket directories.
  :class:`PostfixInstance` checks this up front instead of failing with a 451.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import itertools
import json
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "HarnessError",
    "PostfixInstance",
    "SendResult",
    "SinkMessage",
    "SmtpSink",
    "ensure_postfix_installed",
    "free_port",
    "make_shared_tmpdir",
    "postfix_missing_reason",
]

SBIN = Path("/usr/sbin")
DEFAULT_CONFIG_DIR = Path("/etc/postfix")
POSTFIX_USER = "postfix"

#: Macros the milter gets, per stage.  Postfix's defaults plus what outguard
#: reads: ``i`` (queue id; only known after the first accepted RCPT),
#: ``{auth_authen}``, ``{client_addr}``, ``{mail_addr}``, ``{rcpt_addr}``.
#: libmilter keeps the values of earlier stages, so getsymval() in eom() still
#: sees connect/MAIL macros (checked: also when the milter does not implement
#: connect()); the repetition at DATA/EOH/EOM is belt and braces.
DEFAULT_MILTER_MACROS: dict[str, str] = {
    "milter_connect_macros": "j {daemon_name} {daemon_addr} v _ {client_addr} {client_name} {client_port}",
    "milter_helo_macros": "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
    "milter_mail_macros": "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer} {client_addr}",
    "milter_rcpt_macros": "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
    "milter_data_macros": "i {auth_authen} {client_addr} {mail_addr}",
    "milter_end_of_header_macros": "i {auth_authen} {client_addr} {mail_addr}",
    "milter_end_of_data_macros": "i {auth_type} {auth_authen} {auth_author} {client_addr} {client_name} {mail_addr}",
}

_APT_PACKAGES = ("postfix", "postfix-pcre", "libmilter-dev", "swaks")
_counter = itertools.count(1)
_live: weakref.WeakSet[Any] = weakref.WeakSet()
_live_lock = threading.Lock()


class HarnessError(RuntimeError):
    """Something in the test MTA setup failed; the message says what and where."""


# --------------------------------------------------------------------------- helpers


def _sbin(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(SBIN))
    return found or str(SBIN / name)


def _run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 60.0,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
    full_env.setdefault("LANG", "C")
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            env=full_env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{' '.join(argv)} timed out after {timeout}s") from exc
    if check and proc.returncode != 0:
        raise HarnessError(
            f"{' '.join(argv)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout.decode(errors='replace')}\n"
            f"stderr: {proc.stderr.decode(errors='replace')}"
        )
    return proc


def _backdate(*paths: Path) -> None:
    """Set mtime a few seconds into the past.

    Postfix refuses to read a main.cf whose mtime is within the last second
    (it may be half-written) and sleeps in 300 ms steps until it is older: a
    freshly written config costs every Postfix command ~2 s.
    """
    past = time.time() - 10
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.utime(p, (past, past))


def _is_root() -> bool:
    return os.geteuid() == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (callers retry on a bind race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def make_shared_tmpdir(prefix: str = "outguard-e2e-", parent: str | os.PathLike[str] = "/tmp") -> Path:
    """Create a fresh 0755 directory the ``postfix`` user can traverse.

    Use it for milter sockets (Postfix daemons connect to them as ``postfix``);
    pytest's ``tmp_path`` lives below a 0700 directory and is unreachable.
    The caller removes it (``shutil.rmtree``) when done.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=os.fspath(parent)))
    path.chmod(0o755)
    unreachable = _unreachable_ancestor(path, POSTFIX_USER)
    if unreachable is not None:
        raise HarnessError(f"{unreachable} is not searchable by user {POSTFIX_USER!r}; choose another parent")
    return path


def _unreachable_ancestor(path: Path, user: str) -> Path | None:
    """First directory on the way to *path* that *user* may not search, else None."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    groups = {pw.pw_gid} | {g for g in os.getgrouplist(user, pw.pw_gid)}
    current = Path(path).resolve()
    chain = [*reversed(current.parents)]
    if current.is_dir():
        chain.append(current)
    for d in chain:
        try:
            st = d.stat()
        except FileNotFoundError:
            return d
        if st.st_uid == pw.pw_uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return d
    return None


def _wait_for_banner(
    host: str, port: int, timeout: float, expect: str | None = None, alive: Callable[[], bool] | None = None
) -> str:
    """Connect until an SMTP 220 banner arrives (containing *expect*); QUIT politely."""
    deadline = time.monotonic() + timeout
    last_err: str = "no attempt"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise HarnessError(f"server for {host}:{port} died before answering ({last_err})")
        try:
            with socket.create_connection((host, port), timeout=2.0) as s:
                f = s.makefile("rb")
                line = f.readline(4096).decode("ascii", errors="replace").strip()
                # Multi-line banners: read until "220 ".
                while line.startswith("220-"):
                    line = f.readline(4096).decode("ascii", errors="replace").strip()
                with contextlib.suppress(OSError):
                    s.sendall(b"QUIT\r\n")
                    f.readline(4096)
                if line.startswith("220") and (expect is None or expect in line):
                    return line
                last_err = f"unexpected banner {line!r}"
        except OSError as exc:
            last_err = str(exc)
        time.sleep(0.05)
    raise HarnessError(f"no SMTP banner from {host}:{port} within {timeout}s ({last_err})")


def _tcp_listening(host: str, port: int) -> bool | None:
    """Is something LISTENing on host:port (IPv4)?  None when /proc can't tell."""
    try:
        table = Path("/proc/net/tcp").read_text()
    except OSError:
        return None
    want = f"{socket.htonl(int.from_bytes(socket.inet_aton(host), 'big')):08X}:{port:04X}"
    any_addr = f"00000000:{port:04X}"
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and fields[1] in (want, any_addr):
            return True
    return False


def _wait_listening(host: str, port: int, timeout: float, alive: Callable[[], bool]) -> None:
    """Wait for a LISTEN socket without connecting (a probe connection would
    open an SMTP session and with it a milter session)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _tcp_listening(host, port)
        if state is None:
            _wait_for_banner(host, port, max(0.1, deadline - time.monotonic()), alive=alive)
            return
        if state:
            return
        if not alive():
            raise HarnessError(f"Postfix died before listening on {host}:{port}")
        time.sleep(0.02)
    raise HarnessError(f"nothing listens on {host}:{port} after {timeout}s")


def _register(obj: Any) -> None:
    with _live_lock:
        _live.add(obj)


@atexit.register
def _stop_leftovers() -> None:  # pragma: no cover - safety net
    with _live_lock:
        leftovers = list(_live)
    for obj in leftovers:
        with contextlib.suppress(Exception):
            obj.stop()


# --------------------------------------------------------------------------- install


def postfix_missing_reason() -> str | None:
    """Why the Postfix tool chain is unusable here, or None when it is complete."""
    missing = [
        name
        for name in ("postconf", "postfix", "postqueue", "postsuper", "sendmail", "smtp-sink")
        if not Path(_sbin(name)).exists()
    ]
    if missing:
        return f"missing Postfix programs: {', '.join(missing)}"
    if not _pcre_available():
        return "Postfix has no pcre map support (package postfix-pcre)"
    return None


@functools.lru_cache(maxsize=1)
def _pcre_available() -> bool:
    with tempfile.TemporaryDirectory() as d:
        # Explicit names: an empty main.cf makes postconf look up the FQDN.
        Path(d, "main.cf").write_text("myhostname = probe.invalid\nmydomain = invalid\n")
        _backdate(Path(d, "main.cf"))
        proc = _run([_sbin("postconf"), "-c", d, "-m"], check=False)
    return proc.returncode == 0 and "pcre" in proc.stdout.decode().split()


def ensure_postfix_installed() -> None:
    """Install Postfix and friends with apt when any piece is missing.

    Preseeds debconf with "No configuration" so the package neither asks nor
    writes a main.cf, and never starts the system Postfix.  Needs root; raises
    :class:`HarnessError` with a clear message otherwise.
    """
    reason = postfix_missing_reason()
    need_extras = not Path("/usr/include/libmilter/mfapi.h").exists() or shutil.which("swaks") is None
    if reason is None and not need_extras:
        return
    if not _is_root():
        if reason is None:
            return  # libmilter-dev/swaks are nice to have, not needed by the harness
        raise HarnessError(
            f"{reason}; run as root so the harness can "
            f"`apt-get install -y {' '.join(_APT_PACKAGES)}`, or install them yourself"
        )
    if shutil.which("apt-get") is None:
        raise HarnessError(f"{reason}; apt-get not found, install {' '.join(_APT_PACKAGES)} manually")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if shutil.which("debconf-set-selections"):
        _run(
            ["debconf-set-selections"],
            input=b"postfix postfix/main_mailer_type select No configuration\n",
            env=env,
        )
    _run(["apt-get", "update"], env=env, timeout=600)
    _run(
        [
            "apt-get",
            "install",
            "-y",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            *_APT_PACKAGES,
        ],
        env=env,
        timeout=900,
    )
    _pcre_available.cache_clear()
    reason = postfix_missing_reason()
    if reason is not None:
        raise HarnessError(f"apt-get install finished but Postfix is still unusable: {reason}")


# --------------------------------------------------------------------------- smtp-sink


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
        argv = [_sbin("smtp-sink"), "-h", self.hostname]
        if _is_root():
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
        _register(self)
        try:
            _wait_for_banner(self.host, self.port, 10.0, expect=self.hostname, alive=lambda: self.running)
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


# --------------------------------------------------------------------------- Postfix


@dataclasses.dataclass(frozen=True)
class SendResult:
    """Outcome of one SMTP transaction: the last reply that decided it."""

    code: int
    text: str
    stage: str  # "connect", "mail", "rcpt", "data" (final reply after the dot)
    rcpt_replies: dict[str, tuple[int, str]] = dataclasses.field(default_factory=dict)


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)


_MASTER_CF_HEADER = """\
# Generated by outguard's test harness.  No chroot anywhere (column 5 = n).
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
# ==========================================================================
"""

_MASTER_CF_SERVICES = """\
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance:
    """A private Postfix instance (own config, queue, data dir, log, port).

    Config lives in ``runtime_dir/config``, the queue in ``runtime_dir/queue``,
    the log in ``runtime_dir/log/maillog`` (``log_path``); ``runtime_dir`` is
    ``base_dir`` unless the postfix user cannot reach it (see module notes).
    ``sink`` (everything) and ``tls_sink`` (what ``milter_header_checks``
    FILTERs to ``outguard-tls``) are smtp-sinks in ``base_dir/sink`` and
    ``base_dir/tls-sink`` unless passed in (then the caller owns and stops them).
    ``main_cf`` overrides/extends the generated main.cf parameters.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        milter: str | None = None,
        milter_default_action: str = "tempfail",
        milter_connect_macros: str | None = None,
        milter_helo_macros: str | None = None,
        milter_mail_macros: str | None = None,
        milter_rcpt_macros: str | None = None,
        milter_data_macros: str | None = None,
        milter_end_of_header_macros: str | None = None,
        milter_end_of_data_macros: str | None = None,
        milter_header_checks: str | None = None,
        sink: SmtpSink | None = None,
        tls_sink: SmtpSink | None = None,
        name: str | None = None,
        port: int | None = None,
        main_cf: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.name = name or f"og{os.getpid()}n{next(_counter)}"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", self.name):
            raise ValueError(f"instance name must be [A-Za-z0-9-]+, got {self.name!r}")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        # Postfix opens data_directory (master.lock) and the milter socket as the
        # postfix user, so its state must sit below directories that user can
        # search.  pytest's tmp_path does not (pytest-of-root is 0700): then the
        # state goes to a private 0755 dir in /tmp, linked as base_dir/postfix,
        # removed again by stop() after the log was copied to base_dir/maillog.
        self._auto_runtime = _unreachable_ancestor(self.base_dir, POSTFIX_USER) is not None
        if self._auto_runtime:
            self.runtime_dir = make_shared_tmpdir(prefix=f"outguard-{self.name}-")
            link = self.base_dir / "postfix"
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(self.runtime_dir)
        else:
            self.runtime_dir = self.base_dir
        self.config_dir = self.runtime_dir / "config"
        self.queue_dir = self.runtime_dir / "queue"
        self.data_dir = self.runtime_dir / "data"
        self.log_dir = self.runtime_dir / "log"
        self.log_path = self.log_dir / "maillog"
        self.header_checks_path = self.config_dir / "milter_header_checks"
        self.host = "127.0.0.1"
        self._requested_port = port
        self.port: int = port or 0
        self.myhostname = f"{self.name}.outguard-test.invalid"
        self.syslog_name = f"postfix-{self.name}"
        self.milter = milter
        self.milter_default_action = milter_default_action
        macros = dict(DEFAULT_MILTER_MACROS)
        for key, value in (
            ("milter_connect_macros", milter_connect_macros),
            ("milter_helo_macros", milter_helo_macros),
            ("milter_mail_macros", milter_mail_macros),
            ("milter_rcpt_macros", milter_rcpt_macros),
            ("milter_data_macros", milter_data_macros),
            ("milter_end_of_header_macros", milter_end_of_header_macros),
            ("milter_end_of_data_macros", milter_end_of_data_macros),
        ):
            if value is not None:
                macros[key] = value
        self.milter_macros = macros
        self._custom_header_checks = milter_header_checks
        self._owns_sink = sink is None
        self._owns_tls_sink = tls_sink is None
        self.sink = sink or SmtpSink(self.base_dir / "sink", name=f"{self.name}-relay")
        self.tls_sink = tls_sink or SmtpSink(self.base_dir / "tls-sink", name=f"{self.name}-tls")
        self.extra_main_cf = dict(main_cf or {})
        self.start_timeout = start_timeout
        self._started = False

    # -- configuration
    @property
    def env(self) -> dict[str, str]:
        return {"MAIL_CONFIG": str(self.config_dir)}

    def main_cf_params(self) -> dict[str, str]:
        """The complete main.cf this instance is started with."""
        relay = f"smtp:{self.sink.nexthop}"
        params: dict[str, str] = {
            "compatibility_level": "3.6",
            # Own everything that could collide with another instance.
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "syslog_name": self.syslog_name,
            "myhostname": self.myhostname,
            "mydomain": "outguard-test.invalid",
            "myorigin": "$myhostname",
            "smtpd_banner": "$myhostname ESMTP outguard-test",
            # Logging without syslog: postlogd writes this file.  Postfix only
            # opens a maillog_file below one of maillog_file_prefixes.
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(self.log_dir),
            # Loopback only, nothing can leave.
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "mydestination": "",
            "relay_domains": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "relayhost": self.sink.nexthop,
            "default_transport": relay,
            "relay_transport": relay,
            "local_transport": "error:local delivery disabled",
            "smtp_dns_support_level": "disabled",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_peername_lookup": "no",
            "smtp_tls_security_level": "none",
            "biff": "no",
            "append_dot_mydomain": "no",
            # Fast retries, no throttling, quick failure detection.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "maximal_queue_lifetime": "1h",
            "bounce_queue_lifetime": "1h",
            "delay_warning_time": "0h",
            "in_flow_delay": "0s",
            "smtpd_error_sleep_time": "0s",
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
            "smtp_connect_timeout": "5s",
            # Milter wiring.
            "milter_protocol": "6",
            "milter_default_action": self.milter_default_action,
            "milter_connect_timeout": "10s",
            "milter_command_timeout": "10s",
            "milter_content_timeout": "30s",
            "milter_header_checks": f"pcre:{self.header_checks_path}",
            "smtpd_milters": self.milter or "",
            "non_smtpd_milters": self.milter or "",
            **self.milter_macros,
        }
        params.update(self.extra_main_cf)
        return params

    def master_cf_text(self) -> str:
        return (
            _MASTER_CF_HEADER
            + f"{self.host}:{self.port} inet n - n - - smtpd\n"
            + _MASTER_CF_SERVICES
            + "# Production: smtp with -o smtp_tls_security_level=encrypt (see\n"
            + "# systemd/postfix/master.cf.snippet).  Here: same name, plaintext, so it\n"
            + "# can deliver to the second smtp-sink.\n"
            + "outguard-tls unix -       -       n       -       -       smtp\n"
            + "  -o smtp_tls_security_level=none\n"
            + f"  -o syslog_name={self.syslog_name}/outguard-tls\n"
        )

    def header_checks_text(self) -> str:
        if self._custom_header_checks is not None:
            return self._custom_header_checks
        return (
            "# Only headers added by a milter are checked here.  Same pattern as\n"
            "# systemd/postfix/milter_header_checks; nexthop = the second smtp-sink.\n"
            f"/^X-Outguard-Route:\\s*tls-required\\s*$/ FILTER outguard-tls:{self.tls_sink.nexthop}\n"
        )

    def _write_config(self) -> None:
        for d in (self.config_dir, self.log_dir, self.queue_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
        pw = pwd.getpwnam(POSTFIX_USER)
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)  # master.lock is opened as postfix
        self.data_dir.chmod(0o700)
        # postfix check wants root-owned, not group/world-writable config.
        self.config_dir.chmod(0o755)
        lines = ["# Generated by outguard.sandbox.harness (a throw-away instance)."]
        lines += [f"{k} = {v}" for k, v in self.main_cf_params().items()]
        (self.config_dir / "main.cf").write_text("\n".join(lines) + "\n")
        (self.config_dir / "master.cf").write_text(self.master_cf_text())
        self.header_checks_path.write_text(self.header_checks_text())
        _backdate(self.config_dir / "main.cf", self.config_dir / "master.cf", self.header_checks_path)

    def _check_milter_reachable(self) -> None:
        if not self.milter or not self.milter.startswith("unix:"):
            return
        sock_dir = Path(self.milter[len("unix:") :]).parent
        bad = _unreachable_ancestor(sock_dir, POSTFIX_USER)
        if bad is not None:
            raise HarnessError(
                f"milter socket directory {sock_dir} is not reachable by user {POSTFIX_USER!r} "
                f"({bad} lacks search permission); Postfix would answer 451. "
                "Put the socket in a directory from make_shared_tmpdir()."
            )

    # -- commands
    def _postfix(self, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        return _run([_sbin("postfix"), "-c", str(self.config_dir), *args], env=self.env, check=check, timeout=timeout)

    def _master_pid(self) -> int | None:
        try:
            pid = int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            stat_line = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # A zombie (state Z) is dead; it lingers when PID 1 does not reap.
        if stat_line.rpartition(")")[2].split()[:1] == ["Z"]:
            return None
        return pid

    @property
    def running(self) -> bool:
        return self._master_pid() is not None

    def start(self) -> PostfixInstance:
        """Start sinks and Postfix (idempotent); return once smtpd listens."""
        if self._started and self.running:
            return self
        reason = postfix_missing_reason()
        if reason is not None:
            raise HarnessError(f"{reason}; call ensure_postfix_installed() first (needs root)")
        if not _is_root():
            raise HarnessError("Postfix's master must be started as root")
        self._check_milter_reachable()
        if self._auto_runtime and not self.runtime_dir.exists():
            self.runtime_dir.mkdir(mode=0o755)
            self.runtime_dir.chmod(0o755)
            with contextlib.suppress(FileNotFoundError):
                (self.base_dir / "postfix").unlink()
            (self.base_dir / "postfix").symlink_to(self.runtime_dir)
            self.log_path = self.log_dir / "maillog"
        self.sink.start()
        self.tls_sink.start()
        _register(self)
        attempts = 1 if self._requested_port else 3
        last: Exception | None = None
        for _ in range(attempts):
            self.port = self._requested_port or free_port(self.host)
            self._write_config()
            try:
                # "postfix start" runs "master -w", which returns once master
                # has bound its listeners, so this normally succeeds at once.
                self._postfix("start", timeout=self.start_timeout)
                _wait_listening(self.host, self.port, self.start_timeout, alive=lambda: self.running)
                self._started = True
                return self
            except HarnessError as exc:
                log = self.log_text()
                last = HarnessError(f"{exc}\n--- maillog tail ---\n{log[-3000:]}")
                self._stop_postfix()
                port_taken = "Address already in use" in log or bool(_tcp_listening(self.host, self.port))
                if not port_taken:
                    break  # only a lost port race is worth another attempt
        self.stop()
        raise HarnessError(f"Postfix instance {self.name} did not start: {last}")

    def _stop_postfix(self) -> None:
        pid = self._master_pid()
        if pid is None:
            return
        self._postfix("stop", check=False, timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self._master_pid() is not None:
            time.sleep(0.05)
        if self._master_pid() is not None:
            self._postfix("abort", check=False, timeout=30)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self._master_pid() is not None:
                time.sleep(0.05)
        if (pid := self._master_pid()) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._reap_children()

    def _reap_children(self) -> None:
        """Wait briefly for this instance's daemons (they exit once master is gone)."""
        deadline = time.monotonic() + 5
        marker = b"MAIL_CONFIG=" + os.fsencode(self.config_dir) + b"\0"
        while time.monotonic() < deadline:
            alive = False
            for proc_dir in Path("/proc").iterdir():
                if not proc_dir.name.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    if marker in (proc_dir / "environ").read_bytes():
                        alive = True
                        break
            if not alive:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop Postfix (orderly, then abort/kill) and the sinks this instance owns."""
        try:
            self._stop_postfix()
        finally:
            self._started = False
            if self._auto_runtime and self.runtime_dir.exists():
                kept = self.base_dir / "maillog"
                with contextlib.suppress(OSError):
                    shutil.copyfile(self.log_path, kept)
                shutil.rmtree(self.runtime_dir, ignore_errors=True)
                with contextlib.suppress(OSError):
                    (self.base_dir / "postfix").unlink()
                self.log_path = kept
            if self._owns_sink:
                self.sink.stop()
            if self._owns_tls_sink:
                self.tls_sink.stop()

    def __enter__(self) -> PostfixInstance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def postconf(self, **params: str) -> None:
        """Set main.cf parameters (``postconf -e``) and ``postfix reload``.

        Returns once the master has logged the reload and smtpd listens again;
        new SMTP sessions then get freshly started smtpd processes (reload
        retires the idle old ones).  Before start() the values are only kept.
        """
        if not params:
            return
        self.extra_main_cf.update(params)  # survives restarts (start rewrites main.cf)
        if not self.running:
            return
        _run(
            [_sbin("postconf"), "-c", str(self.config_dir), "-e", *(f"{k}={v}" for k, v in params.items())],
            env=self.env,
        )
        _backdate(self.config_dir / "main.cf")
        before = self.log_text().count("reload -- version")
        self._postfix("reload")
        deadline = time.monotonic() + 15
        while self.log_text().count("reload -- version") <= before:
            if time.monotonic() > deadline:
                raise HarnessError(f"no reload confirmation in {self.log_path}")
            time.sleep(0.05)
        _wait_listening(self.host, self.port, 15, alive=lambda: self.running)

    # -- mail in
    def send_ex(
        self,
        raw: bytes,
        sender: str,
        recipients: Iterable[str],
        *,
        helo: str = "client.outguard-test.invalid",
        timeout: float = 60.0,
    ) -> SendResult:
        """One SMTP transaction; never raises for 4xx/5xx replies."""
        rcpts = list(recipients)
        try:
            with smtplib.SMTP(self.host, self.port, local_hostname=helo, timeout=timeout) as smtp:
                code, text = smtp.ehlo()
                if code != 250:
                    return SendResult(code, _decode(text), "ehlo")
                code, text = smtp.mail(sender)
                if code != 250:
                    return SendResult(code, _decode(text), "mail")
                replies: dict[str, tuple[int, str]] = {}
                for r in rcpts:
                    rc, rt = smtp.rcpt(r)
                    replies[r] = (rc, _decode(rt))
                accepted = [r for r, (rc, _t) in replies.items() if rc in (250, 251)]
                if not accepted:
                    first_code, first_text = next(iter(replies.values()), (554, "no recipients"))
                    with contextlib.suppress(smtplib.SMTPException, OSError):
                        smtp.rset()
                    return SendResult(first_code, first_text, "rcpt", replies)
                try:
                    code, text = smtp.data(raw)
                except smtplib.SMTPDataError as exc:  # DATA itself refused
                    return SendResult(exc.smtp_code, _decode(exc.smtp_error), "data", replies)
                return SendResult(code, _decode(text), "data", replies)
        except smtplib.SMTPConnectError as exc:
            return SendResult(exc.smtp_code, _decode(exc.smtp_error), "connect")
        except smtplib.SMTPResponseException as exc:
            return SendResult(exc.smtp_code, _decode(exc.smtp_error), "unknown")
        except smtplib.SMTPServerDisconnected as exc:
            return SendResult(-1, f"server disconnected: {exc}", "unknown")

    def send(self, raw: bytes, sender: str, recipients: Iterable[str]) -> tuple[int, str]:
        """Submit over SMTP; return the deciding (code, text), e.g. (250, '2.0.0 Ok: queued as X')."""
        result = self.send_ex(raw, sender, recipients)
        return result.code, result.text

    def sendmail(self, raw: bytes, sender: str, recipients: Iterable[str], *, check: bool = True) -> int:
        """Submit through ``sendmail -C CONFDIR`` (the non_smtpd_milters path).

        Returns sendmail's exit status.  Note a milter reject does not show here:
        Postfix turns it into a bounce to *sender* and sendmail still exits 0.
        """
        body = raw.replace(b"\r\n", b"\n")
        proc = _run(
            [_sbin("sendmail"), "-C", str(self.config_dir), "-f", sender, "-i", "--", *recipients],
            env=self.env,
            input=body,
            check=check,
        )
        return proc.returncode

    # -- queue
    def queue(self) -> list[dict[str, Any]]:
        """``postqueue -j``: one dict per message (queue_name, queue_id, sender, recipients, ...)."""
        proc = _run([_sbin("postqueue"), "-c", str(self.config_dir), "-j"], env=self.env)
        return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]

    def wait_for_queue(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Poll :meth:`queue` until ``predicate(entries)`` is true; return the entries."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.queue()
            if predicate(entries):
                return entries
            if time.monotonic() >= deadline:
                raise TimeoutError(f"queue condition not met within {timeout}s; queue={entries}")
            time.sleep(0.1)

    def wait_until_queue_empty(self, timeout: float = 15.0) -> None:
        self.wait_for_queue(lambda entries: not entries, timeout)

    def release_all_held(self, flush: bool = True) -> None:
        """``postsuper -H ALL`` (hold -> deferred), then flush so delivery is immediate."""
        _run([_sbin("postsuper"), "-c", str(self.config_dir), "-H", "ALL"], env=self.env)
        if flush:
            self.flush()

    def flush(self) -> None:
        """``postqueue -f``: retry all deferred mail now."""
        _run([_sbin("postqueue"), "-c", str(self.config_dir), "-f"], env=self.env)

    # -- log
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        """Wait for a regex to show up in the maillog; return the match."""
        rx = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text())
            if m:
                return m
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{pattern!r} not in {self.log_path} within {timeout}s")
            time.sleep(0.05)


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (from /proc): the daemon, its forkserver and workers."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out
