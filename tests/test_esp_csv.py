"""outguard.store.esp_csv without the CLI: formats by header, times, line numbers, who imported."""

from __future__ import annotations

import io

import pytest

from outguard.store.esp_csv import BadLine, detect_format, parse_time, read_rows


@pytest.mark.parametrize(("header", "fmt"), [
    (["address", "scope", "reason", "created"], "outguard"),
    (["EmailAddress", "SuppressionReason", "Origin", "CreatedAt"], "postmark"),
    (["EmailAddress", "Reason", "LastUpdateTime"], "ses"),
    (["email", "created", "ip"], "sendgrid"),
    (["address", "code", "error", "created_at"], "mailgun"),
    (["ann@partner.example"], "plain"),
])
def test_formats_are_told_by_their_header(header: list[str], fmt: str) -> None:
    assert detect_format(header) == fmt


def test_an_unknown_layout_names_its_columns() -> None:
    with pytest.raises(BadLine, match="columns: who, when"):
        detect_format(["who", "when"])


@pytest.mark.parametrize("value", ["1700000000", "1700000000000", "2023-11-14T22:13:20Z",
                                   "Tue, 14 Nov 2023 22:13:20 +0000"])
def test_times_as_esps_write_them(value: str) -> None:
    assert parse_time(value, 0) == 1700000000


def test_rows_carry_the_actor_and_bad_lines_their_number() -> None:
    text = io.StringIO("email,created,status,reason\n"
                       "ann@partner.example,1700000000,5.1.1,550 5.1.1 user unknown\n"
                       "not-an-address,1700000000,5.1.1,550\n")
    rows, bad, used = read_rows(text, "auto", None, None, actor="importer")
    assert used == "sendgrid"
    [row] = rows
    assert (row.line, row.event.address, row.event.kind, row.event.status) == (2, "ann@partner.example", "bounce", "5.1.1")
    assert row.event.actor == "importer" and row.event.source == "import-sendgrid"
    assert [line for line, _ in bad] == [3]
