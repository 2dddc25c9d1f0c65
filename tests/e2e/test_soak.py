"""Soak: concurrent SMTP sessions through Postfix and outguard for a while. Nothing is lost,
file descriptors and memory stay flat, latency stays far inside the milter timeouts.

CI runs a short slice (OUTGUARD_SOAK_SECONDS, default 40 s, 20 sessions);
`bench/soak.py` runs the 5-minute version and prints the same figures.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import E2E_RULES, OutguardDaemon
from helpers import CORPORA
from outguard.sandbox.postfix import PostfixInstance
from outguard.sandbox.process import process_tree

pytestmark = pytest.mark.postfix
SECONDS = float(os.environ.get("OUTGUARD_SOAK_SECONDS", "40"))
SESSIONS = int(os.environ.get("OUTGUARD_SOAK_SESSIONS", "20"))


# Everyday office mail, so the generated messages read like the traffic a relay sees.
_OPENERS = ["Hi", "Hello", "Good morning", "Dear colleagues", "Hi all", "Hello team"]
_PEOPLE = ["Maria", "Jonas", "Priya", "Tom", "Aiko", "Lucas", "Fatima", "Ben", "Elena", "Omar", "Grace", "Nils"]
_THINGS = ["the quarterly plan", "the room booking", "the training session", "the vendor contract", "the parking rota",
           "the new printer", "the team lunch", "the website update", "the budget draft", "the office move",
           "the holiday schedule", "the supplier invoice"]
_DAYS = ["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "by Friday", "next week", "tomorrow",
         "later today", "at the end of the month", "after the break", "this afternoon", "before lunch"]
_ASKS = ["Could you take a look at {thing} {day}?", "I have moved {thing} so that it happens {day}.",
         "{person} asked whether {thing} could be done {day}.", "Let me know what you think of {thing}.",
         "I will bring {thing} to the meeting {day}.", "{person} has already signed off {thing}.",
         "Do we still need {thing}, or can we drop it?", "Thanks for sorting out {thing} so quickly.",
         "Shall we ask {person} to join us {day}?", "I left a note about {thing} on the shared drive.",
         "The draft for {thing} is nearly done; {person} is reading it now.", "No rush on {thing}; {day} is fine."]
_SUBJECTS = ["{Thing}", "Re: {thing}", "{Thing} {day}", "Quick question about {thing}", "Fwd: {thing}"]
_CLOSINGS = ["Thanks,", "Best regards,", "Cheers,", "Kind regards,", "See you soon,", "All the best,"]
_RECIPIENTS = [f"{name.lower()}@partner.example" for name in _PEOPLE]


def generated(n: int) -> tuple[bytes, list[str]]:
    """Message n of an endless series of distinct, ordinary office messages (and its recipients).
    The first choices are n's digits (mixed radix), so a body hardly ever comes round again
    (of the first 100,000, eleven twice, none more often): the bulk check rightly calls one
    body sent to 50 recipients bulk, and the shipped examples sent thousands of times were."""
    digits, rest = [], n
    for size in (len(_THINGS), len(_ASKS), len(_DAYS), len(_PEOPLE), len(_ASKS) - 1):
        rest, d = divmod(rest, size)
        digits.append(d)
    rng = random.Random(n)
    thing, day, person = _THINGS[digits[0]], _DAYS[digits[2]], _PEOPLE[digits[3]]
    first, second = _ASKS[digits[1]], _ASKS[(digits[1] + 1 + digits[4]) % len(_ASKS)]   # never the same twice

    def other() -> dict[str, str]:
        return {"thing": rng.choice(_THINGS), "day": rng.choice(_DAYS), "person": rng.choice(_PEOPLE)}

    sentences = [first.format(thing=thing, day=day, person=person), second.format(**other())]
    sentences += [rng.choice(_ASKS).format(**other()) for _ in range(rng.randint(0, 2))]
    recipients = rng.sample(_RECIPIENTS, rng.randint(1, 3))
    greeting = recipients[0].split("@")[0].capitalize() if len(recipients) == 1 else "all"
    body = (f"{rng.choice(_OPENERS)} {greeting},\n\n" + " ".join(sentences)
            + f"\n\n{rng.choice(_CLOSINGS)}\n{rng.choice(_PEOPLE)}\n")
    subject = rng.choice(_SUBJECTS).format(thing=thing, Thing=thing[4:].capitalize(), day=day)
    headers = (f"From: Soak <soak@clinic.example>\nTo: {', '.join(recipients)}\nSubject: {subject}\n"
               f"Message-ID: <soak-{n}@clinic.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n")
    return (headers + body).encode(), recipients


def messages() -> Callable[[int], tuple[bytes, list[str]]]:
    """Real message text (SpamAssassin ham) when the corpora are there, else generated office mail."""
    ham = CORPORA / "spamassassin" / "easy-ham-2"
    if ham.is_dir():
        texts = [p.read_bytes().split(b"\n", 1)[1] for p in sorted(ham.iterdir())[:200]]
        return lambda n: (texts[n % len(texts)], ["rcpt@partner.example"])
    return generated


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
    message = messages()
    accepted, refused, latencies = [], [], []
    lock = threading.Lock()
    try:
        with PostfixInstance(base / "pf", milter=daemon.spec) as pf:
            assert daemon.proc is not None
            pid = daemon.proc.pid

            def session(n: int, deadline: float) -> None:
                i = n
                while time.monotonic() < deadline:
                    raw, recipients = message(i)
                    i += SESSIONS
                    started = time.monotonic()
                    code, text = pf.send(raw, "soak@clinic.example", recipients)
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
