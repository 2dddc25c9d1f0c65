"""`outguard postfix-snippets`: the shipped systemd/postfix files are its output for the
defaults, Postfix accepts them, and a new section or route shows up where it belongs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import PROJECT
from outguard.cli.main import main
from outguard.core.config import load_config
from outguard.ops import snippets

SHIPPED = PROJECT / "systemd" / "postfix"
needs_postfix = pytest.mark.skipif(shutil.which("postconf") is None and not Path("/usr/sbin/postconf").exists(),
                                   reason="Postfix is not installed")


def test_shipped_files_are_the_generated_ones() -> None:
    generated = snippets.render(load_config(Path("/dev/null")))
    assert sorted(generated) == sorted(p.name for p in SHIPPED.iterdir())
    for name, text in generated.items():
        assert (SHIPPED / name).read_text() == text, f"regenerate: outguard postfix-snippets --config /dev/null " \
                                                     f"--write systemd/postfix ({name} differs)"


@needs_postfix
def test_postconf_accepts_every_route_and_reports_a_bad_section(tmp_path: Path, monkeypatch, capsys) -> None:
    site = tmp_path / "outguard.yaml"
    site.write_text("routes:\n  bulk:\n    description: the reputable bulk sender\n    kind: bulk-relay\n"
                    "    transport: outguard-bulk\n    nexthop: '[smtp.bulk.example]:587'\n    tls: secure\n")
    assert main(["postfix-snippets", "--config", str(site)]) == 0
    out = capsys.readouterr().out
    assert "/^X-Outguard-Route:\\s*bulk\\s*$/" in out and "FILTER outguard-bulk:[smtp.bulk.example]:587" in out
    assert "\noutguard-bulk  unix  -" in out and "-o smtp_tls_security_level=secure" in out

    def pacing(config: object) -> list[snippets.Section]:   # how another concern adds a section
        return [snippets.Section("pacing", snippets.MAIN_CF, "outguard-bulk_destination_concurency_limit = 2\n",
                                 {"outguard-bulk_destination_concurency_limit": "2"})]

    monkeypatch.setattr(snippets, "SECTIONS", [*snippets.SECTIONS, pacing])
    assert main(["postfix-snippets", "--config", str(site), "--file", snippets.MAIN_CF]) == 1
    captured = capsys.readouterr()
    assert captured.out.endswith("outguard-bulk_destination_concurency_limit = 2\n")
    assert "unused parameter: outguard-bulk_destination_concurency_limit=2" in captured.err
