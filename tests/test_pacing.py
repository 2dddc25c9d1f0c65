"""Pacing per provider: the generated Postfix lines, and Postfix itself reading them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from outguard.cli.main import main
from outguard.core.config import load_config
from outguard.reputation.pacing import pacing_files

SITE = {"reputation": {"pacing": {"providers": {
    "gmail": {"domains": ["gmail.com", "GoogleMail.com"], "destination_concurrency_limit": 4,
              "destination_rate_delay": "2s", "destination_recipient_limit": 30},
    "small-isp": {"domains": ["isp.example"], "destination_recipient_limit": 5, "transport": "slow"},
    "microsoft": {"enabled": False}, "yahoo": {"enabled": False},    # the shipped ones, switched off
}}}}


def test_lines_per_file_from_the_config() -> None:
    files = pacing_files(load_config(Path("/dev/null"), SITE))
    assert files["transport"] == [f"{'gmail.com':<30} outguard_gmail:", f"{'googlemail.com':<30} outguard_gmail:",
                                  f"{'isp.example':<30} slow:"]
    main_cf = [ln for ln in files["main.cf"] if not ln.startswith("#")]
    assert main_cf == ["outguard_gmail_destination_concurrency_limit = 4", "outguard_gmail_destination_rate_delay = 2s",
                       "outguard_gmail_destination_recipient_limit = 30", "slow_destination_recipient_limit = 5"]
    assert [ln.split()[0] for ln in files["master.cf"]] == ["outguard_gmail", "slow"]
    off = pacing_files(load_config(Path("/dev/null"), {"reputation": {"pacing": {"enabled": False}}}))
    assert off == {"transport": [], "main.cf": [], "master.cf": []}


def test_defaults_pace_the_big_providers(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["reputation", "--config", "/dev/null", "pacing"]) == 0
    out = capsys.readouterr().out
    for line in ("gmail.com", "outlook.com", "yahoo.com", "outguard_microsoft_destination_rate_delay = 1s",
                 "# ==> master.cf <=="):
        assert line in out


@pytest.mark.skipif(not shutil.which("postconf"), reason="Postfix is not installed")
def test_postfix_accepts_the_lines(tmp_path: Path) -> None:
    files = pacing_files(load_config(Path("/dev/null"), SITE))
    (tmp_path / "main.cf").write_text("\n".join(files["main.cf"]) + "\ncompatibility_level = 3.6\n")
    (tmp_path / "master.cf").write_text("smtp unix - - n - - smtp\n" + "\n".join(files["master.cf"]) + "\n")
    services = subprocess.run(["postconf", "-c", str(tmp_path), "-M"], capture_output=True, text=True, check=True)
    assert "outguard_gmail" in services.stdout and "slow" in services.stdout
    params = subprocess.run(["postconf", "-c", str(tmp_path), "-n"], capture_output=True, text=True, check=True)
    assert "outguard_gmail_destination_rate_delay = 2s" in params.stdout
    assert "unused parameter" not in params.stderr, params.stderr   # Postfix knows each per-transport name
