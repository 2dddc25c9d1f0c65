"""Identifier labels from published vocabularies (plugins/phi/labels.py) as the PHI check reads them."""

from __future__ import annotations

import pytest

from outguard_plugins.phi import identifiers, labels, tables


def _hits(text: str, confirm=None) -> dict[str, float]:
    return {h.kind: h.confidence for h in identifiers.scan(text, confirm=confirm)
            if h.kind in ("mrn", "health_plan", "account")}


@pytest.mark.parametrize("text, kind", [
    ("Med. Rec. # 00482913", "mrn"),                       # UB-04 FL 3b as printed
    ("Medical/Health Record Number: 334455", "mrn"),
    ("MR# 445566", "mrn"),
    ("Pt ID: 7654321", "mrn"),                              # HL7 0203 PI / PT as written
    ("Patient internal identifier 99120034", "mrn"),
    ("Enc # 20231234", "mrn"),
    ("PAT. CNTL # 99887766", "account"),                    # UB-04 FL 3a
    ("Patient's account no. 5566778", "account"),           # CMS-1500 box 26
    ("Guarantor ID 5551234", "account"),                    # HL7 0203 GI / GN
    ("Insured's unique ID: XZ12345678", "health_plan"),     # UB-04 FL 60
    ("Insured's I.D. number 881234567", "health_plan"),     # CMS-1500 box 1a
    ("Subscriber No. AB12345678", "health_plan"),           # HL7 0203 SN
    ("Patient Medicaid number 12345678901", "health_plan"),  # HL7 0203 MA
    ("Unique member ID W2233445566", "health_plan"),         # CARIN um
])
def test_published_labels_name_the_patients_identifier(text: str, kind: str) -> None:
    assert _hits(text) == {kind: 0.9}


def test_account_number_is_a_patients_only_with_corroboration() -> None:
    assert _hits("Attached is the Q3 budget. Account number 12345678 for the wire.") == {"account": 0.5}
    assert _hits("Patient: Jane Roe\nAccount number 12345678") == {"account": 0.9}
    assert _hits("DOB 04/12/1961. Acct # 1234567")["account"] == 0.9
    # the check's health lexicon corroborates through `confirm` (here: a stand-in that says yes)
    assert _hits("Acct # 1234567\nLumbar discogram L2-3.", confirm=lambda lo, hi: True) == {"account": 0.9}
    assert _hits("Acct # 1234567\nLumbar discogram L2-3.", confirm=lambda lo, hi: False) == {"account": 0.5}
    # corroboration is looked for within labels.PROXIMITY characters only
    far = "Patient: Jane Roe\n" + "x " * labels.PROXIMITY + "\nAccount number 12345678"
    assert _hits(far) == {"account": 0.5}


@pytest.mark.parametrize("text", [
    "Patient: Jane Roe. Your checking account # 12345678 was debited.",   # Purview bank account keywords
    "Patient: Jane Roe. Bank acct no. 12345678",
    "Patient: Jane Roe. Savings account number 12345678",
    "Patient: Jane Roe. Visa account 44445555",                            # HL7 0203 card brands
])
def test_bank_and_card_accounts_are_no_patient_account(text: str) -> None:
    assert "account" not in _hits(text)


def test_policy_and_group_numbers_need_corroboration_member_ids_do_not() -> None:
    assert _hits("Your home insurance policy # 88776655 renews in May.") == {"health_plan": 0.5}
    assert _hits("Patient: Jane Roe\nGroup # 4455667") == {"health_plan": 0.9}
    assert _hits("Member ID AB1234563") == {"health_plan": 0.9}


def test_a_record_label_keeps_an_ssn_shaped_number_from_being_an_ssn() -> None:
    kinds = {h.kind for h in identifiers.scan("SSN on file. Visit # 123-45-6789")}
    assert "ssn" not in kinds


def test_snake_case_table_headers_name_their_columns() -> None:
    text = "patient_name,health_plan,guarantor_id,diagnosis\nJane Roe,WP876077917,5551234,asthma\n"
    found = {(h.kind, h.value) for h in tables.scan(text, text.lower())}
    assert ("health_plan", "WP876077917") in found
    assert ("account", "5551234") in found
    assert ("name", "Jane Roe") in found


def test_a_url_parameter_is_no_label() -> None:
    assert _hits("http://pull.example/p?appno=467&mrn=44735856&flag=1") == {}


def test_corroboration_reads_each_block_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = labels.corroborated

    def counting(lower: str, lo: int, hi: int) -> bool:
        calls.append((lo, hi))
        return real(lower, lo, hi)

    monkeypatch.setattr(labels, "corroborated", counting)
    text = "".join(f"Acct # {10000000 + i}\n" for i in range(2000))   # 32,000 characters, 2,000 numbers
    hits = [h for h in identifiers.scan(text) if h.kind == "account"]
    assert len(hits) == 2000 and all(h.confidence == 0.5 for h in hits)
    assert len(calls) <= len(text) // identifiers.Corroboration._BLOCK + 2   # once per block, not per number


def test_the_check_reads_a_bounded_number_of_lexicon_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    from outguard.core.message import Envelope, parse_message
    from outguard_plugins.phi import check, context

    state = check.build_state({})
    calls = []
    real = context.scan

    def counting(text: str, lex: context.Lexicon, lower: str | None = None) -> context.HealthSignals:
        calls.append(len(text))
        return real(text, lex, lower)

    monkeypatch.setattr(context, "scan", counting)
    body = "".join(f"Acct # {10000000 + i}\n" for i in range(3000))
    raw = f"From: a@b.example\nTo: c@d.example\nSubject: list\n\n{body}".encode()
    check.inspect_message(parse_message(raw, Envelope()), state)
    windows = [n for n in calls if n <= 2 * labels.PROXIMITY + 20]
    assert 0 < len(windows) <= check.CONFIRM_WINDOWS * (len(body) // check.CHUNK + 1)
