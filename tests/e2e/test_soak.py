"""Soak: concurrent SMTP sessions through Postfix and outguard for a while. Nothing is lost,
file descriptors and memory stay flat, latency stays far inside the milter timeouts.

CI runs a short slice (OUTGUARD_SOAK_SECONDS, default 40 s, 20 sessions);
`bench/soak.py` runs the 5-minute version and prints the same figures.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

import pytest

from conftest import E2E_RULES, OutguardDaemon
from helpers import CORPORA, PROJECT
from outguard.sandbox.postfix import PostfixInstance
from outguard.sandbox.process import process_tree

pytestmark = pytest.mark.postfix
SECONDS = float(os.environ.get("OUTGUARD_SOAK_SECONDS", "40"))
SESSIONS = int(os.environ.get("OUTGUARD_SOAK_SESSIONS", "20"))


def bodies() -> list[bytes]:
    """Real message text: SpamAssassin ham when the corpora are there, else the shipped examples."""
    ham = CORPORA / "spamassassin" / "easy-ham-2"
    if ham.is_dir():
        return [p.read_bytes().split(b"\n", 1)[1] for p in sorted(ham.iterdir())[:200]]
    return [p.read_bytes() for p in sorted((PROJECT / "examples" / "messages").iterdir())]


def tree_stats(pid: int) -> tuple[int, int]:
    """(RSS in kB of the daemon and its workers, open fds of the milter process)."""
    pids = process_tree(pid)
    rss = 0
    for p in pids:
        try:
            rss += next(int(line.split()[1]) for line in Path(f"/proc/{p}/status").read_text().splitlines()
                        if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def test_soak(shared_dir: Path) -> None:
    base = shared_dir / "soak"
    (base / "og").mkdir(parents=True)
    for d in (base, base / "og"):
        d.chmod(0o755)
    daemon = OutguardDaemon(base / "og", E2E_RULES, workers=2)
    daemon.start()
    texts = bodies()
    accepted, refused, latencies = [], [], []
    lock = threading.Lock()
    try:
        with PostfixInstance(base / "pf", milter=daemon.spec) as pf:
            assert daemon.proc is not None
            pid = daemon.proc.pid

            def session(n: int, deadline: float) -> None:
                i = n
                while time.monotonic() < deadline:
                    raw = texts[i % len(texts)]
                    i += SESSIONS
                    started = time.monotonic()
                    code, text = pf.send(raw, "soak@clinic.example", ["rcpt@partner.example"])
                    with lock:
                        latencies.append(time.monotonic() - started)
                        (accepted if code == 250 else refused).append((code, text))

            def burst(seconds: float) -> None:
                deadline = time.monotonic() + seconds
                threads = [threading.Thread(target=session, args=(n, deadline)) for n in range(SESSIONS)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(seconds + 120)

            burst(min(10.0, SECONDS / 4))            # warm up: workers, caches, Postfix processes
            rss0, fds0 = tree_stats(pid)
            warm = len(accepted)
            burst(SECONDS)
            pf.wait_until_queue_empty(timeout=120)
            rss1, fds1 = tree_stats(pid)
            delivered = len(pf.sink.records()) + len(pf.tls_sink.records())
    finally:
        daemon.stop()
    p50, p99 = statistics.median(latencies), statistics.quantiles(latencies, n=100)[98]
    print(f"\nsoak: {SESSIONS} sessions, {SECONDS:.0f} s after a warm-up: sent {len(accepted) + len(refused)}, "
          f"accepted {len(accepted)}, delivered {delivered}, refused {len(refused)}; "
          f"RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MB; fds {fds0} -> {fds1}; "
          f"SMTP transaction latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
          f"({len(accepted) - warm} messages in the measured part)")
    assert not refused, refused[:3]
    assert delivered == len(accepted), "every accepted message is delivered, none twice"
    assert fds1 - fds0 <= 10, "file descriptors leak"
    assert rss1 - rss0 <= 40 * 1024, "memory grows without bound"
    assert p99 < 10.0, "p99 latency must stay far inside Postfix's milter timeouts (30 s here, 120 s shipped)"
