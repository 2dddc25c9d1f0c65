"""The spamd check against a real SpamAssassin daemon (Debian package `spamd`) on a loopback
port, started here and stopped after; skipped with the reason when spamd is not installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from outguard.checks import StartupContext
from outguard.checks.host import PluginError, PluginHost
from outguard.core.message import Envelope, parse_message
from outguard_plugins.spamd import SpamdCheck, SpamdError, parse_reply

SPAMMY = (b"From: deals@shop.example\r\nTo: bob@partner.example\r\nSubject: MAKE MONEY FAST!!!\r\n"
          b"Message-ID: <1@shop.example>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n"
          b"Zebulon Quartermaine, WORK FROM HOME and earn $5000 a week! 100% GUARANTEED, risk free.\r\n"
          b"Click here to order now! To be removed from our mailing list reply REMOVE.\r\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def spamd_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = shutil.which("spamd") or ("/usr/sbin/spamd" if Path("/usr/sbin/spamd").exists() else None)
    if binary is None:
        pytest.skip("spamd is not installed (Debian package `spamd`)")
    port = free_port()
    work = tmp_path_factory.mktemp("spamd")
    # -L: local tests only (no DNS blocklists from a test); -x: no per-user config
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []  # spamd will not serve as root
    proc = subprocess.Popen([binary, f"--listen=127.0.0.1:{port}", "-L", "-x", "--max-children=1", "--syslog=stderr",
                             *as_user, f"--pidfile={work / 'pid'}"],
                            stdout=subprocess.DEVNULL, stderr=(work / "log").open("wb"))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"spamd exited with {proc.returncode}: {(work / 'log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("spamd did not listen within 90 s")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def started(settings: dict) -> SpamdCheck:
    check = SpamdCheck()
    check.outguard_startup(StartupContext("spamd", settings))
    return check


def test_spammy_message_gets_spamds_score_and_rule_names_only(spamd_port: int) -> None:
    f = started({"port": spamd_port, "timeout": 30}).check(parse_message(SPAMMY, Envelope()))
    assert f.id == "spam.spamd" and f.score is not None
    symbols = f.detail.split(": ", 1)[1].split(", ")
    assert symbols and all(s.isupper() or "_" in s for s in symbols)
    assert f.detail.startswith(f"spamd {f.score:g}/5")
    for token in ("Zebulon", "Quartermaine", "5000", "REMOVE", "MONEY"):
        assert token not in f.detail
    plain = started({"port": spamd_port, "timeout": 30}).check(parse_message(
        b"From: ann@clinic.example\r\nTo: bob@partner.example\r\nSubject: invoice for October\r\n"
        b"Message-ID: <2@clinic.example>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n"
        b"Hello Bob, attached is the invoice for October. Best regards, Ann\r\n", Envelope()))
    assert plain.score is not None and plain.score < f.score


def test_unreachable_spamd_raises_for_the_host_to_report() -> None:
    check = started({"port": free_port(), "timeout": 2})
    with pytest.raises(OSError):
        check.check(parse_message(SPAMMY, Envelope()))
    missing = started({"socket": "/nonexistent/spamd.sock", "timeout": 2})
    with pytest.raises(OSError):
        missing.check(parse_message(SPAMMY, Envelope()))


def test_the_host_turns_a_failure_into_error_spamd(outguard_harness) -> None:
    check = started({"port": free_port(), "timeout": 1})
    harness = outguard_harness(enabled=[], plugins={"spamd": check})
    ids = harness.finding_ids(harness.check("From: a@shop.example\nTo: b@partner.example\nSubject: hi\n\nhello\n"))
    assert "error.spamd" in ids and "spam.spamd" not in ids


def test_settings_are_checked_against_the_schema() -> None:
    with pytest.raises(PluginError, match="plugins.settings.spamd: .*'hostname' was unexpected"):
        PluginHost(enabled=["spamd"], shipped=False, settings={"spamd": {"hostname": "spamd.example"}})
    with pytest.raises(PluginError, match="plugins.settings.spamd.port: 0 is less than the minimum of 1"):
        PluginHost(enabled=["spamd"], shipped=False, settings={"spamd": {"port": 0}})


def test_spamd_is_shipped_but_off_until_enabled() -> None:
    assert "spamd" not in PluginHost().names
    assert "spamd" in PluginHost(enabled=["spamd"]).names
    assert SpamdCheck.emits == ("spam.spamd",) and SpamdCheck.settings_schema["additionalProperties"] is False


def test_replies_that_carry_no_score_are_errors() -> None:
    assert parse_reply(b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.5 / 5.0\r\n\r\n").score == 1.5
    with pytest.raises(SpamdError, match="status 76"):
        parse_reply(b"SPAMD/1.0 76 Bad header line: x\r\n\r\n")
    with pytest.raises(SpamdError, match="without a SPAMD"):
        parse_reply(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(SpamdError, match="Spam: header"):
        parse_reply(b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n")
