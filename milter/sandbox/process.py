"""Process and file-system helpers of the sandbox: running Postfix's tools, free ports,
waiting for a listener or a banner, directories the ``postfix`` user can reach, and a
safety net that stops whatever is still running at exit.

Notes (things that were not obvious):

* Postfix refuses to trust a main.cf modified within the last second and
  re-reads it every 300 ms until it is older: writing a config and starting
  at once costs ~2 s per command.  Written config files are back-dated.
* Postfix daemons run as the ``postfix`` user.  A milter's *unix socket* must be
  reachable (x on every parent directory) for that user; pytest's tmp_path is
  not.  Use :func:`make_shared_tmpdir` for socket directories.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

SBIN = Path("/usr/sbin")
POSTFIX_USER = "postfix"

_live: weakref.WeakSet[Any] = weakref.WeakSet()
_live_lock = threading.Lock()


class HarnessError(RuntimeError):
    """Something in the test MTA setup failed; the message says what and where."""


def sbin(name: str) -> str:
    """A Postfix program by name: on PATH, else in /usr/sbin (root's PATH need not hold it)."""
    found = shutil.which(name) or shutil.which(name, path=str(SBIN))
    return found or str(SBIN / name)


def run_tool(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 60.0,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run a tool without the caller's MAIL_CONFIG; a failure or timeout is a HarnessError saying what."""
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


def backdate(*paths: Path) -> None:
    """Set mtime a few seconds into the past.

    Postfix refuses to read a main.cf whose mtime is within the last second
    (it may be half-written) and sleeps in 300 ms steps until it is older: a
    freshly written config costs every Postfix command ~2 s.
    """
    past = time.time() - 10
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.utime(p, (past, past))


def is_root() -> bool:
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
    unreachable = unreachable_ancestor(path, POSTFIX_USER)
    if unreachable is not None:
        raise HarnessError(f"{unreachable} is not searchable by user {POSTFIX_USER!r}; choose another parent")
    return path


def unreachable_ancestor(path: Path, user: str) -> Path | None:
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


def wait_for_banner(
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


def tcp_listening(host: str, port: int) -> bool | None:
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


def wait_listening(host: str, port: int, timeout: float, alive: Callable[[], bool]) -> None:
    """Wait for a LISTEN socket without connecting (a probe connection would
    open an SMTP session and with it a milter session)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = tcp_listening(host, port)
        if state is None:
            wait_for_banner(host, port, max(0.1, deadline - time.monotonic()), alive=alive)
            return
        if state:
            return
        if not alive():
            raise HarnessError(f"Postfix died before listening on {host}:{port}")
        time.sleep(0.02)
    raise HarnessError(f"nothing listens on {host}:{port} after {timeout}s")


def stop_at_exit(obj: Any) -> None:
    """Remember a running sink or instance: whatever a crashed caller left running is stopped at exit."""
    with _live_lock:
        _live.add(obj)


@atexit.register
def _stop_leftovers() -> None:  # pragma: no cover - safety net
    with _live_lock:
        leftovers = list(_live)
    for obj in leftovers:
        with contextlib.suppress(Exception):
            obj.stop()


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
