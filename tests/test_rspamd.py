"""The rspamd check against a real rspamd (Debian package `rspamd`) on a loopback port,
started here with a private configuration (one normal worker, no network lookups that
could reach out) and stopped after; skipped with the reason when rspamd is not installed.
The wire format (one `Rcpt` per recipient, the envelope headers) is checked against a
small local HTTP server that records the request."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from outguard.checks import StartupContext
from outguard.checks.host import PluginError, PluginHost
from outguard.core.message import Envelope, parse_message
from outguard_plugins.rspamd import RspamdCheck, RspamdError, parse_reply

SPAMMY = (b"From: Prize Office <winner@lottery.example>\r\nTo: bob@partner.example\r\n"
          b"Subject: You have WON $1,000,000 !!!\r\nMessage-ID: <1@lottery.example>\r\n"
          b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n"
          b"Zebulon Quartermaine, CONGRATULATIONS! You have won one million dollars.\r\n"
          b"Click http://192.0.2.7/claim-zebulon to claim your prize NOW!!!\r\n")
PLAIN = (b"From: Ann Example <ann@clinic.example>\r\nTo: Bob Example <bob@partner.example>\r\n"
         b"Subject: invoice for October\r\nMessage-ID: <2@clinic.example>\r\n"
         b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\r\n"
         b"Hello Bob, the invoice for October is attached to the ticket. Best regards, Ann\r\n")
ENVELOPE = Envelope(sender="winner@lottery.example", recipients=("bob@partner.example", "carol@partner.example"),
                    client_address="192.0.2.7", auth_user="prizes", queue_id="4ABC123")

CONFIG = """\
.include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    dns {{ nameserver = ["127.0.0.1:{dns}"]; timeout = 0.2s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "$LOGDIR/rspamd.log"; level = "error"; }}
worker "normal" {{
    bind_socket = "127.0.0.1:{port}";
    .include "$CONFDIR/worker-normal.inc"
    count = 1;
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def rspamd_url(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    binary = shutil.which("rspamd") or ("/usr/bin/rspamd" if Path("/usr/bin/rspamd").exists() else None)
    if binary is None or not Path("/etc/rspamd/common.conf").exists():
        pytest.skip("rspamd is not installed (Debian package `rspamd`)")
    port = free_port()
    work = tmp_path_factory.mktemp("rspamd")
    # its compiled regexp cache survives the run: the first start compiles for ~30 s
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    db = Path(cache.mkdir("rspamd-db")) if cache is not None else work / "db"
    # the resolver is a closed local port: no lookup leaves the machine, each fails at once
    (work / "rspamd.conf").write_text(CONFIG.format(port=port, dns=free_port()))
    insecure = ["-i"] if os.geteuid() == 0 else []  # rspamd will not run its workers as root otherwise
    proc = subprocess.Popen([binary, "-f", *insecure, "-c", str(work / "rspamd.conf"), f"--var=RUNDIR={work}",
                             f"--var=LOGDIR={work}", f"--var=DBDIR={db}", f"--var=LOCAL_CONFDIR={work}"],
                            stdout=subprocess.DEVNULL, stderr=(work / "stderr").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"rspamd exited with {proc.returncode}: {(work / 'stderr').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/ping", timeout=1) as reply:
                    if reply.read().strip() == b"pong":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("rspamd did not answer /ping within 180 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def started(settings: dict) -> RspamdCheck:
    check = RspamdCheck()
    check.outguard_startup(StartupContext("rspamd", settings))
    return check


def test_spammy_message_gets_rspamds_score_and_symbol_names_only(rspamd_url: str) -> None:
    f = started({"url": rspamd_url, "timeout": 30}).check(parse_message(SPAMMY, ENVELOPE))
    assert f.id == "spam.rspamd" and f.score is not None and f.score > 0
    head, _, names = f.detail.partition(": ")
    assert head.startswith(f"rspamd {f.score:g}/")
    symbols = names.split(", ")
    assert symbols and all(s.replace("_", "").isalnum() and s.upper() == s for s in symbols if not s.startswith("+"))
    for token in ("Zebulon", "Quartermaine", "192.0.2.7", "claim", "lottery", "bob@", "prizes", "4ABC123"):
        assert token not in f.detail  # no symbol options, no descriptions, no envelope
    # the same unauthenticated envelope for both: only the message differs
    unauthenticated = Envelope(sender="someone@partner.example", recipients=("bob@partner.example",),
                               client_address="192.0.2.7")
    spam = started({"url": rspamd_url, "timeout": 30}).check(parse_message(SPAMMY, unauthenticated))
    plain = started({"url": rspamd_url, "timeout": 30}).check(parse_message(PLAIN, unauthenticated))
    assert plain.score is not None and spam.score is not None and plain.score < spam.score


def test_unreachable_rspamd_raises_for_the_host_to_report() -> None:
    with pytest.raises(OSError):
        started({"url": f"http://127.0.0.1:{free_port()}", "timeout": 2}).check(parse_message(SPAMMY, ENVELOPE))


def test_the_host_turns_a_failure_into_error_rspamd(outguard_harness) -> None:
    check = started({"url": f"http://127.0.0.1:{free_port()}", "timeout": 1})
    harness = outguard_harness(enabled=[], plugins={"rspamd": check})
    ids = harness.finding_ids(harness.check("From: a@shop.example\nTo: b@partner.example\nSubject: hi\n\nhello\n"))
    assert "error.rspamd" in ids and "spam.rspamd" not in ids


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers /checkv2 with a fixed reply (or status) and keeps what it was sent."""

    seen: list[tuple[str, list[tuple[str, str]], bytes]] = []
    status = 200
    reply = b""

    def do_POST(self) -> None:  # noqa: N802 (the http.server name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append((self.path, list(self.headers.items()), body))
        self.send_response(type(self).status)
        self.send_header("Content-Length", str(len(type(self).reply)))
        self.end_headers()
        self.wfile.write(type(self).reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"seen": [], "status": 200, "reply": b""})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_request_carries_the_envelope_one_rcpt_each(recorder) -> None:
    url, handler = recorder
    handler.reply = json.dumps({"is_skipped": False, "score": 3.5, "required_score": 15.0, "action": "no action",
                                "symbols": {"R_A": {"name": "R_A", "score": 2.5, "options": ["Zebulon"]},
                                            "R_B": {"name": "R_B", "score": 1.0}, "R_ZERO": {"score": 0.0}}}).encode()
    f = started({"url": url, "settings_id": "outbound"}).check(parse_message(SPAMMY, ENVELOPE))
    assert (f.score, f.detail) == (3.5, "rspamd 3.5/15 no action: R_A, R_B")
    path, headers, body = handler.seen[0]
    assert path == "/checkv2" and b"CONGRATULATIONS" in body
    sent = [(k.lower(), v) for k, v in headers]
    assert [v for k, v in sent if k == "rcpt"] == ["bob@partner.example", "carol@partner.example"]
    assert {k: v for k, v in sent if k in ("from", "ip", "user", "queue-id", "settings-id")} == {
        "from": "winner@lottery.example", "ip": "192.0.2.7", "user": "prizes", "queue-id": "4ABC123",
        "settings-id": "outbound"}


def test_http_errors_and_odd_replies_are_errors(recorder) -> None:
    url, handler = recorder
    handler.status, handler.reply = 500, b"{}"
    with pytest.raises(RspamdError, match="HTTP status 500"):
        started({"url": url}).check(parse_message(PLAIN, Envelope()))
    handler.status, handler.reply = 200, b"<html>proxy error</html>"
    with pytest.raises(RspamdError, match="not JSON"):
        started({"url": url}).check(parse_message(PLAIN, Envelope()))


def test_replies_that_carry_no_verdict_are_errors() -> None:
    assert parse_reply(b'{"score": -0.5, "required_score": 15, "action": "no action", "symbols": {}}').score == -0.5
    with pytest.raises(RspamdError, match="skipped"):
        parse_reply(b'{"is_skipped": true, "score": 0}')
    with pytest.raises(RspamdError, match="without a score"):
        parse_reply(b'{"error": "bad request"}')
    with pytest.raises(RspamdError, match="not a JSON object"):
        parse_reply(b"[1, 2]")


def test_settings_are_checked_against_the_schema() -> None:
    with pytest.raises(PluginError, match="plugins.settings.rspamd: .*'host' was unexpected"):
        PluginHost(enabled=["rspamd"], shipped=False, settings={"rspamd": {"host": "rspamd.example"}})
    with pytest.raises(PluginError, match="plugins.settings.rspamd.url"):
        PluginHost(enabled=["rspamd"], shipped=False, settings={"rspamd": {"url": "ftp://rspamd.example"}})


def test_rspamd_is_shipped_but_off_until_enabled() -> None:
    assert "rspamd" not in PluginHost().names
    assert "rspamd" in PluginHost(enabled=["rspamd"]).names
    assert RspamdCheck.emits == ("spam.rspamd",) and RspamdCheck.settings_schema["additionalProperties"] is False
