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


# ---- the wider families: X12, NCPDP, Medicare / Medicaid, VA / DoD, EHR vendor terms, ID cards, lab requisitions

@pytest.mark.parametrize("text, kind", [
    ("Subscriber Primary Identifier: W123456789", "health_plan"),     # X12 2100C / 2010BA NM109
    ("Member Identification Number XJBH12345678", "health_plan"),     # X12 NM108 qualifier MI
    ("Subscriber supplemental ID 44556677", "health_plan"),           # X12 2100C REF
    ("Cardholder ID: ZQ88123456", "health_plan"),                     # NCPDP 302-C2
    ("Medicaid recipient ID 12345678901", "health_plan"),
    ("Medi-Cal no. 90012345A", "health_plan"),
    ("EDIPI 1234567890", "health_plan"),                              # DoD
    ("Rx ID: ZXC1234567", "health_plan"),                             # insurance ID card
    ("EMPI: 700123456", "mrn"),                                       # enterprise master patient index
    ("Master patient index # 00123456", "mrn"),
    ("VA integration control number 1012345678V123456", "mrn"),
    ("Hospital account no. 40012345", "account"),                     # Epic HAR
])
def test_new_families_name_the_patients_identifier(text: str, kind: str) -> None:
    assert _hits(text) == {kind: 0.9}


@pytest.mark.parametrize("label, kind", [
    ("CSN", "mrn"), ("FIN", "account"), ("HAR", "account"), ("ICN", "mrn"), ("MPI", "mrn"), ("CIN", "health_plan"),
    ("Case #", "mrn"), ("Unit number", "mrn"), ("Accession no.", "mrn"), ("Specimen ID", "mrn"), ("Plan ID", "health_plan"),
    ("DoD ID", "health_plan"),
])
def test_ambiguous_labels_count_only_beside_a_patient(label: str, kind: str) -> None:
    assert _hits(f"Patient: Jane Roe\n{label}: 40012345") == {kind: 0.9}
    assert _hits(f"Please see the filing below.\n{label}: 40012345") == {}   # an SEC accession, a support case
    assert _hits(f"Valve discharge readings.\n{label}: 40012345", confirm=lambda lo, hi: True) == {}


def test_codes_are_read_in_capitals_only() -> None:
    assert _hits("Patient: Jane Roe\nfin 40012345") == {}
    assert _hits("Patient: Jane Roe\nFinancial number 40012345") == {"account": 0.9}


def test_a_medicare_number_that_is_an_mbi_is_reported_as_the_mbi() -> None:
    kinds = {h.kind: h.confidence for h in identifiers.scan("Medicare number: 1EG4-TE5-MK73")}
    assert kinds == {"mbi": 0.95}


def test_a_payer_claim_control_number_is_a_claims() -> None:
    assert _generic("Patient: Jane Roe\nPayer Claim Control Number: 4401234567") == {}


# ---- HIPAA Safe Harbor (R): a number under a label of its own

def _generic(text: str, confirm=None) -> dict[str, float]:
    return {h.kind: h.confidence for h in identifiers.scan(text, confirm=confirm)
            if h.kind in ("mrn", "health_plan", "account", "other_id")}


@pytest.mark.parametrize("text", [
    "Patient: Jane Roe\nIdentification No.: KX4471932",
    "DOB 04/12/1961\nID # 7788991",
    "DOB 04/12/1961\nID#7788991",
    "Chief complaint: cough.\nSite Person Code 33-44125",
    "Our patient is asking. Please send your ID 99887766 again.",
])
def test_a_generic_label_with_corroboration_is_an_other_identifier(text: str) -> None:
    assert _generic(text) == {"other_id": identifiers.GENERIC_CONFIDENCE}


def test_a_generic_label_needs_corroboration() -> None:
    assert _generic("Identification No.: KX4471932") == {}
    # health words alone are no person: a pipeline's "Unit ID" beside "discharge pressure" stays clean
    assert _generic("Identification No.: KX4471932", confirm=lambda lo, hi: True) == {}
    assert _generic("Chief complaint: cough.\nIdentification No.: KX4471932") == {"other_id": 0.85}
    far = "Patient: Jane Roe\n" + "x " * labels.PROXIMITY + "\nIdentification No.: KX4471932"
    assert _generic(far) == {}


def test_a_generic_labels_words_can_name_its_family() -> None:
    assert _generic("Patient: Jane Roe\nClinic visit record ID: AB123456") == {"mrn": 0.85}
    assert _generic("Patient: Jane Roe\nDental coverage no. ZK-448812") == {"health_plan": 0.85}


def test_a_generic_label_naming_coverage_or_a_record_counts_beside_health_information() -> None:
    """'Ins ID', 'Enrollee ID' say whose number it is: health information nearby is enough, as for
    'Member ID'; an 'other' label ('Unit ID') still needs a person."""
    health = lambda lo, hi: True  # noqa: E731 - the check's health lexicon, answering yes
    assert _generic("Enrollee ID 884412345", confirm=health) == {"health_plan": 0.85}
    assert _generic("Enrollee ID 884412345") == {}
    assert _generic("Unit ID 88441234", confirm=health) == {}


@pytest.mark.parametrize("text", ["Ins ID: ZGP884412345", "Ins # ZGP884412345", "Group 12345 Member 884412345",
                                  "Member: 884412345"])
def test_card_abbreviations_of_coverage_labels(text: str) -> None:
    assert _generic(text, confirm=lambda lo, hi: True) == {"health_plan": 0.9}
    assert _generic(text).get("health_plan", 0.5) < 0.8   # without health information: any business's number
    assert _generic("Mem ID 884412345") == {"health_plan": 0.9}   # "Member ID" abbreviated: coverage by itself


@pytest.mark.parametrize("text", [
    "Patient: Jane Roe. Invoice ID 12345678",
    "Patient: Jane Roe. Order No.: KX4471932",
    "Patient: Jane Roe. FedEx tracking # 778812345678",
    "Patient: Jane Roe. Support ticket ID 20231234",
    "Patient: Jane Roe. Serial No. SN-88123456",
    "Patient: Jane Roe. Model number XR-5500123",
    "Patient: Jane Roe. Part # 7701-2345",
    "Patient: Jane Roe. Prior authorization code 55123456",
    "Patient: Jane Roe. Provider NPI number 1234567893",
    "Patient: Jane Roe. Conference dial-in code 44512345",
    "Patient: Jane Roe. Checking account ID 12345678",
    "Patient: Jane Roe. Visit date code 2023-01-05",                        # a date
    "Patient: Jane Roe. Callback number 617-555-0123",                      # a phone
    "Patient: Jane Roe. No. 12345678",                                       # no label says what it is
    "Patient: Jane Roe. http://portal.example/view?id=12345678",             # a URL's parameter
    "Patient: Jane Roe. Clinic ID: ab123456",                                # lower-case: a handle, not an ID
])
def test_negative_and_unlabelled_numbers_are_no_generic_identifier(text: str) -> None:
    assert "other_id" not in _generic(text)


def test_the_other_identifier_is_reported_redacted_and_counts_for_the_rule() -> None:
    from outguard.core.message import Envelope, parse_message
    from outguard_plugins.phi import check

    state = check.build_state({})
    raw = (b"From: a@clinic.example\nTo: b@partner.example\nSubject: intake\n\n"
           b"Patient intake\nIdentification No.: KX4471932\nDiagnosis: major depressive disorder.\n")
    found = {f.id: f for f in check.inspect_message(parse_message(raw, Envelope()), state)}
    assert found["phi.other_id"].confidence >= 0.8
    assert "KX4471932" not in found["phi.other_id"].detail
    assert "other_id" in check.PATIENT_KINDS and "phi.other_id" in check.PhiCheck.emits


def test_the_split_label_patterns_match_as_the_whole_one() -> None:
    import random

    rnd = random.Random(12)
    words = [label.replace("#", rnd.choice(["#", "No.", "number", "ID"])) for ls in labels.FAMILIES.values() for label in ls]
    words += ["MRN", "MR#", "fin", "Har", "x", "the", ":", "40012345", "AB1234567", "-", "\n", "Patient"]
    for _ in range(300):
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 30)))
        lower = text.lower()
        for key, start, _ in identifiers._ANCHOR_TRIGGER.find_matches_as_indexes(lower):
            fast, full = identifiers._BY_OPENING[key].match(text, start), identifiers.ANCHORED.match(text, start)
            assert (fast and (fast.span(), labels.kind_of(fast, "kw"))) == (full and (full.span(), labels.kind_of(full, "kw")))
        for cell in (text, text[:20], text.strip()):
            assert bool(labels.LABEL.fullmatch(cell)) == bool(labels.LABEL.pattern.fullmatch(cell))


def _anchored_by_own_pass(text: str) -> list[tuple[tuple[int, int], str]]:
    """anchored_matches as it was with an automaton of its own (leftmost-longest, non-overlapping)."""
    lower, pos, out = text.lower(), 0, []
    for key, start, end in identifiers._ANCHOR_TRIGGER.find_matches_as_indexes(lower):
        if start < pos or (start and (lower[start - 1].isalnum() or lower[start - 1] in identifiers._IN_URL)):
            continue
        others = identifiers._CODE_OPENINGS.get(key)
        if others is not None and not text[start:end].isupper() and not any(lower.startswith(w, start) for w in others):
            continue
        m = identifiers._BY_OPENING[key].match(text, start)
        if m:
            pos = m.end()
            out.append((m.span(), m.group("kw")))
    return out


def test_anchored_labels_found_by_the_shared_pass_are_those_of_an_own_pass() -> None:
    import random

    rnd = random.Random(14)
    words = [label.replace("#", rnd.choice(["#", "No.", "number", "ID"])) for ls in labels.FAMILIES.values() for label in ls]
    words += ["MRN", "MR#", "fin", "FIN", "Har", "HAR", "CSN", "x", "the", ":", "40012345", "AB1234567", "-", "\n",
              "Patient", "member", "memberid", "&mrn=", "id", "#", "no.", "D.O.D", "d.o.dod", "DoD", "ID:"]
    texts = ["D.O.DOD ID: 12345678", "Patient MRN: 40012345 fin 1234567 FIN 12345678"]   # a trigger inside the last one
    texts += [rnd.choice(["", " "]).join(rnd.choice(words) for _ in range(rnd.randint(1, 40))) for _ in range(400)]
    for text in texts:
        got = [(m.span(), m.group("kw")) for m in identifiers.anchored_matches(text, text.lower())]
        assert got == _anchored_by_own_pass(text), text
