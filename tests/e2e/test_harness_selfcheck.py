"""Self-check of the sandbox (outguard.sandbox: install, sink, postfix, process) against a real Postfix.

A tiny pymilter milter (below) runs in a forked process on a unix socket and
decides by a token in the Subject:

* ``[route-tls]`` -> adds ``X-Outguard-Route: tls-required`` (milter_header_checks
  then FILTERs the message to the ``outguard-tls`` transport = second sink)
* ``[reject]``    -> ``setreply('550', '5.7.1', 'blocked by test')`` + REJECT
* ``[hold]``      -> quarantine (Postfix hold queue)
* anything else   -> adds ``X-Selfcheck-Milter: seen``

Every end-of-message is also recorded as one JSON line (macros included) so the
tests can see what the milter saw.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outguard.sandbox.install import ensure_postfix_installed, postfix_missing_reason
from outguard.sandbox.postfix import PostfixInstance
from outguard.sandbox.process import make_shared_tmpdir, run_tool, sbin

pytestmark = pytest.mark.postfix

SENDER = "alice@sender.example.org"
RCPT = "bob@recipient.example.com"


def _skip_reason() -> str | None:
    missing = postfix_missing_reason()
    if os.geteuid() != 0:
        if missing:
            return f"{missing}, and not running as root, so the harness cannot apt-get install it"
        return "Postfix test instances need root (Postfix's master must start as root)"
    return None


@pytest.fixture(scope="session")
def postfix_ready() -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    ensure_postfix_installed()


@pytest.fixture(scope="module")
def shared_dir(postfix_ready: None) -> Iterator[Path]:
    """A /tmp dir the postfix user can traverse (milter sockets live here)."""
    d = make_shared_tmpdir(prefix="outguard-selfcheck-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _message(subject: str, body: str = "Hello,\nthis is the body.\n") -> tuple[bytes, str]:
    token = uuid.uuid4().hex
    raw = (
        f"From: Alice <{SENDER}>\r\n"
        f"To: Bob <{RCPT}>\r\n"
        f"Subject: {subject} {token}\r\n"
        f"Message-ID: <{token}@sender.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n" + body.replace("\n", "\r\n")
    ).encode()
    return raw, token


# --------------------------------------------------------------------------- test milter


def _import_pymilter() -> Any:
    """Import pymilter's ``Milter`` even when the repo's ``milter/`` dir shadows it.

    pymilter's package ``Milter`` does ``from milter import *`` (its C module).
    The outguard sources live in a directory called ``milter/`` at the repo
    root, so whenever the repo root is on sys.path (``python -m pytest`` from
    there puts the cwd first) ``import milter`` finds that directory instead
    and ``import Milter`` dies with NameError.  Import with those entries
    hidden; the real C module then stays bound inside ``Milter``.
    """
    if "Milter" in sys.modules:
        return sys.modules["Milter"]

    def shadows(entry: str) -> bool:
        base = Path(entry or os.getcwd())
        return (base / "milter" / "__init__.py").is_file()

    shadow = sys.modules.get("milter")
    if shadow is not None and not hasattr(shadow, "setconn"):
        del sys.modules["milter"]
    else:
        shadow = None
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if not shadows(p)]
    try:
        import Milter
    finally:
        sys.path[:] = saved
        if shadow is not None:
            sys.modules["milter"] = shadow
    return Milter


def _run_test_milter(sock_path: str, events_path: str) -> None:
    """Child-process entry point: block signals first, then hand over to libmilter."""
    # docs/postfix-and-pymilter.md#trap-3: libmilter blocks TERM/INT/HUP only in its own threads;
    # block them here before any thread exists so libmilter's signal thread
    # handles SIGTERM and runmilter() returns cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    os.umask(0o000)  # the socket must be writable by the postfix user
    Milter = _import_pymilter()

    lock = threading.Lock()

    class SelfcheckMilter(Milter.Base):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self.reset()

        def reset(self) -> None:
            self.subject = ""
            self.rcpt_macros: list[str | None] = []
            self.mail_macro: str | None = None

        def envfrom(self, mailfrom: str, *params: str) -> int:
            self.reset()  # one connection may carry several messages
            self.mail_macro = self.getsymval("{mail_addr}")
            return Milter.CONTINUE

        def envrcpt(self, to: str, *params: str) -> int:
            self.rcpt_macros.append(self.getsymval("{rcpt_addr}"))
            return Milter.CONTINUE

        def header(self, name: str, value: str) -> int:
            if name.lower() == "subject":
                self.subject = value
            return Milter.CONTINUE

        def eom(self) -> int:
            event: dict[str, Any] = {
                "subject": self.subject,
                "i": self.getsymval("i"),
                "client_addr": self.getsymval("{client_addr}"),
                "auth_authen": self.getsymval("{auth_authen}"),
                "mail_addr_at_mail": self.mail_macro,
                "mail_addr_at_eom": self.getsymval("{mail_addr}"),
                "rcpt_addrs": self.rcpt_macros,
            }
            if "[reject]" in self.subject:
                self.setreply("550", "5.7.1", "blocked by test")
                event["action"] = "reject"
                rc = Milter.REJECT
            elif "[route-tls]" in self.subject:
                self.addheader("X-Outguard-Route", "tls-required")
                event["action"] = "route-tls"
                rc = Milter.ACCEPT
            elif "[hold]" in self.subject:
                self.quarantine("held by test")
                event["action"] = "hold"
                rc = Milter.ACCEPT
            else:
                self.addheader("X-Selfcheck-Milter", "seen")
                event["action"] = "accept"
                rc = Milter.ACCEPT
            with lock, open(events_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(event) + "\n")
            return rc

    Milter.factory = SelfcheckMilter
    Milter.runmilter("outguard-selfcheck", f"unix:{sock_path}", timeout=30)


class SelfcheckMilterProcess:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        self.sock_path = directory / "selfcheck.sock"
        self.events_path = directory / "events.jsonl"
        self.spec = f"unix:{self.sock_path}"
        ctx = multiprocessing.get_context("fork")
        self.proc = ctx.Process(
            target=_run_test_milter, args=(str(self.sock_path), str(self.events_path)), daemon=True
        )

    def start(self) -> SelfcheckMilterProcess:
        self.proc.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self.proc.is_alive():
                raise RuntimeError(f"test milter exited with {self.proc.exitcode}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(str(self.sock_path))
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("test milter socket never became connectable")

    def stop(self) -> None:
        if self.proc.is_alive() and self.proc.pid is not None:
            os.kill(self.proc.pid, signal.SIGTERM)  # libmilter stops, runmilter returns
            # libmilter's accept loop only looks at the stop flag when select()
            # wakes up (5 s timeout): a connection wakes it at once.
            time.sleep(0.05)
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(str(self.sock_path))
            self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)

    def events(self, token: str | None = None) -> list[dict[str, Any]]:
        try:
            lines = self.events_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if token is None or token in e["subject"]]


@pytest.fixture(scope="module")
def selfcheck_milter(shared_dir: Path) -> Iterator[SelfcheckMilterProcess]:
    try:
        _import_pymilter()
    except ImportError as exc:
        pytest.skip(f"pymilter is not importable: {exc}")
    milter = SelfcheckMilterProcess(shared_dir / "milter").start()
    yield milter
    milter.stop()


@pytest.fixture(scope="module")
def plain_pf(postfix_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostfixInstance]:
    # Deliberately under pytest's 0700 tmp dir: the harness must cope.
    with PostfixInstance(tmp_path_factory.mktemp("plain-pf")) as pf:
        yield pf


@pytest.fixture(scope="module")
def milter_pf(selfcheck_milter: SelfcheckMilterProcess, shared_dir: Path) -> Iterator[PostfixInstance]:
    with PostfixInstance(shared_dir / "milter-pf", milter=selfcheck_milter.spec) as pf:
        yield pf


# --------------------------------------------------------------------------- tests


def test_plain_relay_keeps_body_intact(plain_pf: PostfixInstance) -> None:
    body = "Line one\n.leading dot survives dot-stuffing\n\nUmlaute: \u00e4\u00f6\u00fc\nlast line\n"
    raw, token = _message("plain", body)
    code, text = plain_pf.send(raw, SENDER, [RCPT])
    assert code == 250, text
    [rec] = plain_pf.sink.wait_for_match(token.encode())
    assert rec.mail_from == SENDER
    assert rec.rcpt_to == (RCPT,)
    assert rec.body == body.encode()
    assert f"by {plain_pf.myhostname} (Postfix)".encode() in rec.headers
    assert f"Message-ID: <{token}@sender.example.org>".encode() in rec.headers
    assert plain_pf.tls_sink.find(token.encode()) == []
    assert token.encode() in b"".join(plain_pf.sink.messages())
    assert "status=sent" in plain_pf.wait_for_log(r"status=sent").group(0)


def test_milter_header_routes_to_tls_sink_only(milter_pf: PostfixInstance, selfcheck_milter: SelfcheckMilterProcess) -> None:
    raw, token = _message("[route-tls]")
    code, text = milter_pf.send(raw, SENDER, [RCPT, "carol@recipient.example.com"])
    assert code == 250, text
    [rec] = milter_pf.tls_sink.wait_for_match(token.encode())
    assert b"X-Outguard-Route: tls-required" in rec.headers
    assert sorted(rec.rcpt_to) == sorted([RCPT, "carol@recipient.example.com"])  # FILTER = whole message
    milter_pf.wait_until_queue_empty()
    assert milter_pf.sink.find(token.encode()) == []
    [event] = selfcheck_milter.events(token)
    assert event["action"] == "route-tls"
    assert event["i"]  # queue id known at end of message
    assert event["client_addr"] == "127.0.0.1"  # visible at EOM
    assert event["mail_addr_at_mail"] == SENDER
    assert event["rcpt_addrs"] == [RCPT, "carol@recipient.example.com"]
    assert event["i"] in rec.headers.decode()  # same queue id as in Postfix's Received:


def test_milter_reject_returns_550_with_text(milter_pf: PostfixInstance, selfcheck_milter: SelfcheckMilterProcess) -> None:
    raw, token = _message("[reject]")
    result = milter_pf.send_ex(raw, SENDER, [RCPT])
    assert (result.code, result.stage) == (550, "data")
    assert result.text == "5.7.1 blocked by test"
    assert milter_pf.send(*_message("[reject]")[:1], SENDER, [RCPT]) == (550, "5.7.1 blocked by test")
    assert selfcheck_milter.events(token)[0]["action"] == "reject"
    assert milter_pf.queue() == []
    time.sleep(0.3)
    assert milter_pf.sink.find(token.encode()) == []
    assert milter_pf.tls_sink.find(token.encode()) == []


def test_plain_accept_passes_milter(milter_pf: PostfixInstance) -> None:
    raw, token = _message("ordinary")
    assert milter_pf.send(raw, SENDER, [RCPT])[0] == 250
    [rec] = milter_pf.sink.wait_for_match(token.encode())
    assert b"X-Selfcheck-Milter: seen" in rec.headers


def test_sendmail_submission_reaches_milter(milter_pf: PostfixInstance, selfcheck_milter: SelfcheckMilterProcess) -> None:
    raw, token = _message("local submission")
    assert milter_pf.sendmail(raw, SENDER, [RCPT]) == 0
    [rec] = milter_pf.sink.wait_for_match(token.encode())
    assert b"X-Selfcheck-Milter: seen" in rec.headers  # non_smtpd_milters ran
    [event] = selfcheck_milter.events(token)
    assert event["client_addr"] == "127.0.0.1"  # cleanup pretends localhost/127.0.0.1
    assert event["mail_addr_at_mail"] == SENDER
    assert event["i"]


def test_sendmail_route_and_reject(milter_pf: PostfixInstance, selfcheck_milter: SelfcheckMilterProcess) -> None:
    raw, token = _message("[route-tls] local")
    assert milter_pf.sendmail(raw, SENDER, [RCPT]) == 0
    milter_pf.tls_sink.wait_for_match(token.encode())
    # docs/postfix-and-pymilter.md#trap-7: via sendmail(1) a milter reject becomes a bounce (exit 0).
    raw, token = _message("[reject] local")
    assert milter_pf.sendmail(raw, SENDER, [RCPT]) == 0
    [bounce] = milter_pf.sink.wait_for_match(token.encode())
    assert bounce.mail_from == ""  # null sender: a DSN
    assert bounce.rcpt_to == (SENDER,)
    assert b"blocked by test" in bounce.raw


def test_quarantine_hold_and_release(milter_pf: PostfixInstance) -> None:
    raw, token = _message("[hold]")
    assert milter_pf.send(raw, SENDER, [RCPT])[0] == 250
    entries = milter_pf.wait_for_queue(lambda q: any(e["queue_name"] == "hold" for e in q))
    [held] = [e for e in entries if e["queue_name"] == "hold"]
    assert held["sender"] == SENDER
    assert [r["address"] for r in held["recipients"]] == [RCPT]
    assert milter_pf.sink.find(token.encode()) == []
    milter_pf.release_all_held()
    milter_pf.sink.wait_for_match(token.encode())
    milter_pf.wait_until_queue_empty()


def test_two_instances_do_not_collide(plain_pf: PostfixInstance, milter_pf: PostfixInstance) -> None:
    assert plain_pf.running and milter_pf.running
    assert plain_pf.port != milter_pf.port
    assert plain_pf.queue_dir != milter_pf.queue_dir
    assert plain_pf.data_dir != milter_pf.data_dir
    assert plain_pf.sink.port not in (milter_pf.sink.port, milter_pf.tls_sink.port)
    raw, token = _message("isolation")
    assert plain_pf.send(raw, SENDER, [RCPT])[0] == 250
    plain_pf.sink.wait_for_match(token.encode())
    assert milter_pf.sink.find(token.encode()) == []
    assert token not in milter_pf.log_text()
    assert plain_pf.syslog_name in plain_pf.log_text()
    assert plain_pf.syslog_name not in milter_pf.log_text()


def test_milter_down_tempfails_then_postconf_accept(shared_dir: Path) -> None:
    dead = shared_dir / "nobody-listens.sock"
    with PostfixInstance(shared_dir / "dead-milter-pf", milter=f"unix:{dead}") as pf:
        raw, token = _message("milter down")
        code, text = pf.send(raw, SENDER, [RCPT])
        assert 400 <= code < 500, (code, text)  # milter_default_action = tempfail
        assert pf.queue() == []
        pf.postconf(milter_default_action="accept")
        assert pf.send(raw, SENDER, [RCPT])[0] == 250
        pf.sink.wait_for_match(token.encode())
    assert not pf.running
    assert not pf.sink.running and not pf.tls_sink.running


def test_shipped_postfix_snippets_parse(postfix_ready: None, tmp_path: Path) -> None:
    """systemd/postfix/*: Postfix accepts them and the route table maps as documented."""
    snippets = Path(__file__).resolve().parents[2] / "systemd" / "postfix"
    conf = tmp_path / "conf"
    conf.mkdir()
    stock_master = Path("/etc/postfix/master.cf")
    master = stock_master.read_text() if stock_master.exists() else ""
    (conf / "master.cf").write_text(master + (snippets / "master.cf.snippet").read_text())
    (conf / "main.cf").write_text(
        "myhostname = snippet.invalid\nmydomain = invalid\ncompatibility_level = 3.6\n"
        + (snippets / "main.cf.snippet").read_text()
    )
    past = time.time() - 10
    for f in conf.iterdir():
        os.utime(f, (past, past))

    def postconf(*args: str) -> str:
        proc = run_tool([sbin("postconf"), "-c", str(conf), *args])
        assert not proc.stderr, proc.stderr.decode()  # no "unused parameter" warnings
        return proc.stdout.decode()

    main = postconf("-n")
    assert "smtpd_milters = unix:/outguard/outguard.sock" in main
    assert "non_smtpd_milters = unix:/outguard/outguard.sock" in main
    assert "milter_default_action = tempfail" in main
    tls = postconf("-P", "outguard-tls/unix/smtp_tls_security_level")
    assert tls.strip() == "outguard-tls/unix/smtp_tls_security_level = encrypt"
    assert "outguard-gw" in postconf("-M", "outguard-gw/unix")

    def route(header: str) -> str:
        proc = run_tool(
            [sbin("postmap"), "-c", str(conf), "-q", header, f"pcre:{snippets / 'milter_header_checks'}"],
            check=False,
        )
        return proc.stdout.decode().strip()

    assert route("X-Outguard-Route: tls-required") == "FILTER outguard-tls:"  # the recipient's own MX
    assert route("X-Outguard-Route: encryption-gateway") == "FILTER outguard-gw:[encrypt-gw.example.net]:25"
    assert route("X-Outguard-Route: tls-required-eu") == ""
    assert route("X-Other: tls-required") == ""
