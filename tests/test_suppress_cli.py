"""`outguard suppress ...` on both engines: add/remove/list/show, CSV import (ESP layouts,
malformed files, dry runs) and export that import reads back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from outguard.cli.main import main
from outguard.store import SuppressionStore, resolve

DATA = Path(__file__).parent / "data" / "recipients"


@pytest.fixture
def og(store_url: str, capsys):
    """Run `outguard suppress --store URL ...`; returns (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["suppress", "--config", "/dev/null", "--store", store_url, *args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def in_force(store_url: str) -> dict[str, str]:
    location = resolve(store_url)
    if location.sqlite_path is not None and not location.sqlite_path.exists():
        return {}
    store = SuppressionStore(location)
    try:
        return {f"{r.address} {r.scope}" if r.scope != "global" else r.address: r.reason for r in store.records()}
    finally:
        store.close()


def test_add_list_show_remove(og, store_url: str) -> None:
    assert og("add", "Gone@Partner.Example", "--reason", "hard-bounce")[0] == 0
    code, out, _ = og("add", "angry@partner.example", "--reason", "complaint", "--note", "FBL")
    assert code == 0 and out.strip() == "1 newly suppressed"
    og("add", "reader@partner.example", "--reason", "unsubscribe", "--scope", "list:News.Clinic.Example")
    assert in_force(store_url) == {"gone@partner.example": "hard_bounce", "angry@partner.example": "complaint",
                                   "reader@partner.example list:news.clinic.example": "unsubscribe"}
    code, out, _ = og("list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["address"] for r in rows} == {"gone@partner.example", "angry@partner.example", "reader@partner.example"}
    code, out, _ = og("show", "angry@partner.example")
    assert code == 0 and "SUPPRESSED, complaint" in out and "note: FBL" in out
    code, _, err = og("remove", "angry@partner.example")
    assert code == 1 and "only an administrator lifts it" in err
    code, out, _ = og("remove", "angry@partner.example", "--force")
    assert code == 0 and out.strip() == "1 lifted"
    assert "angry@partner.example" not in in_force(store_url)
    code, out, _ = og("list", "--all")
    assert "angry@partner.example" not in out  # --all adds expired records; a lifted one has no reason left


def test_add_dry_run_changes_nothing(og, store_url: str) -> None:
    code, out, _ = og("add", "a@partner.example", "b@partner.example", "--dry-run")
    assert code == 0 and out.strip() == "dry run, nothing changed: 2 newly suppressed"
    og("add", "c@partner.example")
    assert in_force(store_url) == {"c@partner.example": "manual"}


@pytest.mark.parametrize("name,fmt,expected,summary", [
    ("ses.csv", "ses", {"gone1@partner.example": "hard_bounce", "angry1@partner.example": "complaint"},
     "2 newly suppressed"),
    ("sendgrid_bounces.csv", "sendgrid", {"gone2@partner.example": "hard_bounce"},
     "1 newly suppressed, 2 recorded, not suppressed"),
    ("sendgrid_spam_reports.csv", "sendgrid", {"angry2@partner.example": "complaint"}, "1 newly suppressed"),
    ("sendgrid_unsubscribes.csv", "sendgrid", {"bye2@partner.example": "unsubscribe"}, "1 newly suppressed"),
    ("mailgun_bounces.csv", "mailgun", {"gone3@partner.example": "hard_bounce"},
     "1 newly suppressed, 1 recorded, not suppressed"),
    ("mailgun_complaints.csv", "mailgun", {"angry3@partner.example": "complaint"}, "1 newly suppressed"),
    ("mailgun_unsubscribes.csv", "mailgun", {"bye3@partner.example": "unsubscribe"}, "1 newly suppressed"),
    ("postmark.csv", "postmark", {"gone4@partner.example": "hard_bounce", "angry4@partner.example": "complaint",
                                  "bye4@partner.example": "unsubscribe"}, "3 newly suppressed"),
])
def test_import_esp_layouts(og, store_url: str, name: str, fmt: str, expected: dict, summary: str) -> None:
    code, out, err = og("import", str(DATA / name))
    assert code == 0, err
    assert f"({fmt})" in out and summary in out
    assert in_force(store_url) == expected


def test_import_keeps_the_files_times_and_evidence(og, store_url: str) -> None:
    og("import", str(DATA / "sendgrid_bounces.csv"))
    store = SuppressionStore(resolve(store_url))
    rec = store.get("gone2@partner.example")[0]
    blocked = store.history("blocked2@partner.example")
    store.close()
    assert rec.created == 1790000000 and rec.status == "5.1.1" and rec.source == "import-sendgrid"
    assert "does not exist" in (rec.diagnostic or "")
    assert [e.status for e in blocked] == ["5.7.1"]  # kept as evidence, never a suppression


def test_plain_list_needs_a_reason_and_skips_blank_lines(og, store_url: str) -> None:
    code, out, err = og("import", str(DATA / "plain.txt"), "--reason", "invalid")
    assert code == 0, err
    assert in_force(store_url) == {"one@partner.example": "invalid", "two@partner.example": "invalid",
                                   "three@partner.example": "invalid"}


def test_malformed_csv_imports_nothing_by_default_and_names_the_lines(og, store_url: str) -> None:
    code, out, err = og("import", str(DATA / "malformed.csv"))
    assert code == 1
    bad = [line.split(":")[1] for line in err.splitlines() if line.startswith(str(DATA / "malformed.csv") + ":")]
    assert bad == ["3", "5", "6", "7"]
    assert "unknown SES reason 'SOMETHING'" in err and "unreadable time" in err and "1 field(s), the header has 3" in err
    assert "nothing imported" in err
    assert in_force(store_url) == {}


def test_malformed_csv_imports_the_good_lines_when_asked(og, store_url: str) -> None:
    code, out, err = og("import", str(DATA / "malformed.csv"), "--skip-bad")
    assert code == 1  # the bad lines are still reported
    assert "3 row(s): 3 newly suppressed, 4 bad lines skipped" in out
    assert in_force(store_url) == {"good1@partner.example": "hard_bounce", "good2@partner.example": "complaint",
                                   "good3@partner.example": "hard_bounce"}


def test_import_dry_run_reports_and_changes_nothing(og, store_url: str) -> None:
    code, out, _ = og("import", str(DATA / "postmark.csv"), "--dry-run")
    assert code == 0 and "dry run, nothing changed: 3 newly suppressed" in out
    assert in_force(store_url) == {}
    og("import", str(DATA / "postmark.csv"))
    code, out, _ = og("import", str(DATA / "postmark.csv"))  # again: nothing new
    assert "3 already suppressed (updated)" in out


def test_export_then_import_round_trips(og, store_url: str, tmp_path: Path) -> None:
    og("import", str(DATA / "postmark.csv"))
    og("add", "temp@partner.example", "--expires-days", "3")
    og("add", "reader@partner.example", "--reason", "unsubscribe", "--scope", "list:news.clinic.example")
    target = tmp_path / "export.csv"
    code, _, err = og("export", str(target))
    assert code == 0 and "exported 5 record(s)" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert {r["reason"] for r in rows} == {"hard-bounce", "complaint", "unsubscribe", "manual"}
    original = in_force(store_url)
    other = f"sqlite:///{tmp_path / 'copy.sqlite3'}"
    assert main(["suppress", "--config", "/dev/null", "--store", other, "import", str(target)]) == 0
    assert in_force(other) == original


def test_store_unreachable_is_exit_2_without_a_traceback(capsys) -> None:
    code = main(["suppress", "--config", "/dev/null", "--store", "postgresql://nobody@127.0.0.1:1/none", "list"])
    _, err = capsys.readouterr()
    assert code == 2 and "suppression store unavailable" in err and "Traceback" not in err
