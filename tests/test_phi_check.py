"""The PHI check end to end: findings and their confidence, unique counts, names with and
without a spaCy pipeline, per-recipient free-mail findings, and no raw value anywhere."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from helpers import outguard_command
from outguard.checks import Finding
from outguard.core.message import Envelope, parse_message
from outguard_plugins.phi import check, identifiers
from outguard_plugins.phi.names import NameFinder
from outguard_plugins.phi.validators import ICD10CM


@pytest.fixture(scope="module")
def state() -> check.State:
    return check.build_state({})


def findings_of(state: check.State, text: str, rcpts: tuple[str, ...] = ("b@partner.example",),
                sender: str = "a@clinic.example") -> dict[str, object]:
    raw = f"From: {sender}\nTo: {', '.join(rcpts)}\nSubject: note\n\n{text}\n".encode()
    message = parse_message(raw, Envelope(sender, rcpts))
    return {f.id if f.recipient is None else f"{f.id}:{f.recipient}": f for f in check.inspect_message(message, state)}


def kinds(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for h in identifiers.scan(text, ICD10CM()):
        out[h.kind] = max(out.get(h.kind, 0.0), h.confidence)
    return out


def test_ssn_confidence_rises_with_keywords_and_falls_for_bare_runs() -> None:
    assert kinds("SSN: 536-90-4399")["ssn"] >= 0.95
    assert kinds("social security number 536904399")["ssn"] >= 0.95
    assert kinds("SS# 536 90 4399")["ssn"] >= 0.95
    assert kinds("she wrote 536-90-4399 on the form")["ssn"] < 0.8   # well-formed, no keyword
    assert "ssn" not in kinds("order 536-90-4399 shipped")          # labelled as an order number
    assert "ssn" not in kinds("order 536904399 shipped")            # a bare nine-digit run without a keyword
    assert "ssn" not in kinds("SSN 536-90 4399")                      # mixed separators are not an SSN
    assert "ssn" not in kinds("SSN 078-05-1120, SSN 666-12-3456, SSN 123-45-6789")
    assert "ssn" not in kinds("ref 1536-90-43991")                    # inside a longer number


def test_other_identifiers_need_validation_and_keywords() -> None:
    assert kinds("Medicare MBI 1EG4-TE5-MK73")["mbi"] >= 0.95
    assert "mbi" not in kinds("MBI 1EG4-TS5-MK73")                    # S is never used
    assert kinds("NPI 1234567893")["npi"] >= 0.95
    assert "npi" not in kinds("NPI 1234567890")                       # check digit
    assert "npi" not in kinds("invoice 1234567893")                   # no keyword: a ten-digit number
    assert kinds("DEA # AB1234563")["dea"] >= 0.95
    assert "dea" not in kinds("DEA AB1234567")
    assert kinds("Medicare claim 536-90-4399A")["hicn"] >= 0.95
    assert kinds("DOB: 04/12/1961")["dob"] >= 0.95
    assert "dob" not in kinds("meeting on 04/12/2026")
    assert kinds("MRN: RV-4821937")["mrn"] >= 0.9
    assert kinds("Member ID XJK123456789")["health_plan"] >= 0.9
    assert kinds("Dx: E11.9")["icd10"] >= 0.9
    assert "icd10" not in kinds("Dx: E11.99")                         # not in the CMS list
    assert kinds("NDC 0002-3227-30")["ndc"] >= 0.9
    assert kinds("fax: (617) 555-0199") == {"fax": 0.5}


def test_health_context_tells_a_chart_from_a_newsletter(state: check.State) -> None:
    chart = findings_of(state, "Jane Roe, DOB 04/12/1961, HbA1c 9.1, started metformin.")
    assert chart["phi.health_context"].confidence >= 0.9
    newsletter = findings_of(state, "Join our fun run on Sunday! Water and snacks provided.")
    assert "phi.health_context" not in newsletter or newsletter["phi.health_context"].confidence < 0.8


def test_counts_are_unique_values(state: check.State) -> None:
    table = "\n".join(f"row {i}, SSN 536-90-{4300 + i:04d}" for i in range(40))
    found = findings_of(state, table + "\n" + table)   # every value twice
    assert found["phi.ssn"].count == 40
    once = findings_of(state, "SSN 536-90-4399 and again SSN 536904399 and 536 90 4399")
    assert once["phi.ssn"].count == 1


def test_senders_own_addresses_are_not_patient_email(state: check.State) -> None:
    found = findings_of(state, "Reply to a@clinic.example or frontdesk@clinic.example.\nPatient email: jroe@example.net")
    assert found["phi.email"].count == 1


def test_freemail_recipient_only_when_phi_is_seen(state: check.State) -> None:
    phi = findings_of(state, "Patient: John Smith, MRN 4820193, diagnosed with asthma.",
                      rcpts=("x@gmail.com", "y@hospital.example"))
    assert "recipient.freemail:x@gmail.com" in phi and "recipient.freemail:y@hospital.example" not in phi
    lunch = findings_of(state, "Lunch on Friday?", rcpts=("x@gmail.com",))
    assert not any(k.startswith("recipient.") for k in lunch)


def test_free_mail_settings_add_and_exempt() -> None:
    s = check.build_state({"free_mail_extra": ["MyISP.example"], "free_mail_exempt": ["gmail.com"]})
    assert "myisp.example" in s.free_mail and "gmail.com" not in s.free_mail and "yahoo.com" in s.free_mail


def test_rule_based_names_without_a_model(state: check.State) -> None:
    assert state.names.nlp is None
    found = findings_of(state, "Patient: Jane Roe\nDear Mr. Smith, thanks.")
    assert found["phi.name"].count == 2 and found["phi.name"].confidence >= 0.9
    weak = findings_of(state, "Dear Ms. Jones, your order has shipped.")
    assert weak["phi.name"].confidence < 0.8


def test_no_model_is_said_once_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="outguard.checks.phi"):
        finder = NameFinder.create(None)
    assert finder.nlp is None
    assert [r.message for r in caplog.records].count(
        "phi: no spaCy model configured (spacy_model); person names by rule-based patterns only") == 1


def test_a_missing_model_degrades_or_refuses(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.WARNING, logger="outguard.checks.phi"):
        finder = NameFinder.create(str(tmp_path / "no-such-pipeline"))
    assert finder.nlp is None and "could not be loaded" in caplog.text
    with pytest.raises(RuntimeError):
        NameFinder.create(str(tmp_path / "no-such-pipeline"), require=True)


@pytest.fixture
def saved_pipeline(tmp_path: Path) -> Path:
    """A small spaCy pipeline the test builds and saves: blank English + an entity ruler that
    knows two people. It stands for the statistical model a site installs."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": [{"LOWER": "maria"}, {"LOWER": "gonzalez"}]},
                        {"label": "PERSON", "pattern": [{"LOWER": "tom"}, {"LOWER": "baker"}]},
                        {"label": "ORG", "pattern": [{"LOWER": "acme"}]}])
    path = tmp_path / "pipeline"
    nlp.to_disk(path)
    return path


def test_spacy_pipeline_is_loaded_once_and_finds_names(saved_pipeline: Path, outguard_harness) -> None:
    harness = outguard_harness(config={"plugins": {"settings": {"phi": {"spacy_model": str(saved_pipeline)}}}})
    plugin = harness.inspector.host.pm.get_plugin("phi")
    assert isinstance(plugin, check.PhiCheck) and plugin.state is not None and plugin.state.names.nlp is not None
    result = harness.check("From: a@clinic.example\nTo: b@partner.example\nSubject: follow-up\n\n"
                           "Seen today: Maria Gonzalez, born 03/02/1950, with COPD, on tiotropium 18 mcg.\n"
                           "Acme called about Tom Baker's invoice.\n")
    names = [f for f in result.findings if f.id == "phi.name"]
    assert names and names[0].count == 2 and names[0].confidence >= 0.85
    assert result.decision.verdict == "encrypt"


def test_a_recognised_person_counts_only_where_the_mail_says_health_of_them(saved_pipeline: Path) -> None:
    state = check.build_state({"spacy_model": str(saved_pipeline)})
    seen = findings_of(state, "Tom Baker was seen today for a COPD exacerbation, started prednisone 40 mg daily.")
    assert seen["phi.name"].confidence >= 0.8
    for text in ("Please be patient with Tom Baker, our new hire, while he learns the billing system.",
                 "Tom Baker will present the quarterly numbers on Tuesday.\n\n"
                 + "The diabetes education fair is in the lobby. " * 6):
        found = findings_of(state, text)
        assert "phi.name" not in found or found["phi.name"].confidence < 0.8, text


PLANTED = {
    "ssn": "536-90-4399", "ssn_bare": "536904399", "mbi": "1EG4-TE5-MK73", "mbi_bare": "1EG4TE5MK73",
    "name": "Jane Roe", "dob": "04/12/1961", "mrn": "RV-4821937", "npi": "1234567893", "dea": "AB1234563",
    "phone": "617-555-0123", "email": "jane.roe@example.net", "member": "XJK123456789",
}


def test_planted_values_never_reach_output_or_logs(tmp_path: Path) -> None:
    msg = tmp_path / "planted.eml"
    msg.write_text(
        "From: nurse@clinic.example\nTo: someone@gmail.com\nSubject: [secure] Jane Roe\n\n"
        f"Patient: {PLANTED['name']}, DOB {PLANTED['dob']}, SSN {PLANTED['ssn']} ({PLANTED['ssn_bare']}).\n"
        f"Medicare MBI {PLANTED['mbi']} / {PLANTED['mbi_bare']}, MRN {PLANTED['mrn']}, Member ID {PLANTED['member']}.\n"
        f"Referring NPI {PLANTED['npi']}, DEA {PLANTED['dea']}. Patient phone {PLANTED['phone']}, "
        f"patient email {PLANTED['email']}.\nHbA1c 9.1, started metformin 500 mg, Dx E11.9.\n")
    outputs = []
    for mode in ("--json", "--explain"):
        proc = subprocess.run([*outguard_command(), "check", "--log-level", "debug", mode, str(msg)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-1000:]
        outputs.append(proc.stdout + proc.stderr)
    both = "\n".join(outputs)
    assert '"verdict": "quarantine"' in outputs[0]
    for label in ("phi.ssn", "phi.mbi", "phi.name", "phi.dob", "phi.mrn", "phi.npi", "phi.dea"):
        assert label in outputs[0]
    for what, value in PLANTED.items():
        assert value not in both, f"{what} leaked"
        assert value.replace("-", "") not in both.replace("-", ""), f"{what} leaked without separators"
    for part in ("Jane", "Roe", "4399", "4821937"):
        assert part not in both.replace(str(msg), ""), f"{part!r} leaked"


def test_name_triggers_are_whole_words(state: check.State) -> None:
    # "Dobkin" holds "dob", "Renamed" holds "name": neither is a label
    found = findings_of(state, "A Site by and About Jake Dobkin\nRenamed: John Smith")
    assert "phi.name" not in found


def test_month_name_birth_dates_only_right_after_the_keyword() -> None:
    assert kinds("She was born March 3, 1950 in Ohio.")["dob"] >= 0.95
    found = [h.value for h in identifiers.scan("DOB: 12 Jan 1961. Meeting Jan 5, 2020", ICD10CM()) if h.kind == "dob"]
    assert found == ["12 Jan 1961"]


def test_settings_are_checked_against_the_schema() -> None:
    from outguard.checks.host import PluginError, PluginHost

    with pytest.raises(PluginError, match="'max_char' was unexpected"):  # a misspelt setting refuses start
        PluginHost(enabled=["phi"], shipped=False, settings={"phi": {"max_char": 1000}})
    with pytest.raises(PluginError, match="plugins.settings.phi.max_chars: 0 is less than the minimum"):
        PluginHost(enabled=["phi"], shipped=False, settings={"phi": {"max_chars": 0}})
    assert check.PhiCheck.settings_schema["additionalProperties"] is False


def test_state_lives_on_the_instance() -> None:
    from outguard.checks.spec import StartupContext

    one, two = check.PhiCheck(), check.PhiCheck()
    one.outguard_startup(StartupContext("phi", {"max_chars": 1000}))
    two.outguard_startup(StartupContext("phi", {}))
    assert one.state is not None and two.state is not None and one.state.max_chars == 1000 != two.state.max_chars
    with pytest.raises(RuntimeError):
        check.PhiCheck().outguard_inspect(parse_message(b"Subject: x\n\nhi\n"), None)


def test_text_past_the_limit_is_reported_not_scanned() -> None:
    small = check.build_state({"max_chars": 1000})
    found = findings_of(small, "x" * 2000 + "\nSSN 536-90-4399")
    assert "phi.ssn" not in found and found["scan.truncated"].detail == "phi check scanned the first 1000 characters"


@pytest.mark.parametrize("text,kind", [
    ("Invoice 658-86-9145 for consulting services", "ssn"),
    ("Confirmation number: 658-86-9145", "ssn"),
    ("PO AB1234563", "dea"),
    ("Member ID AB1234563", "dea"),                     # a member number that passes the DEA checksum
    ("Reference 1234567893", "npi"),
    ("Your confirmation code is 1EG4-TE5-MK73", "mbi"),
    ("Tracking # 617-555-0123", "phone"),
    ("Our auto claim number with State Mutual is 1EG4-TE5-MK73", "mbi"),   # whose number, between label and value
    ("The order number from Acme Supply: 658-86-9145", "ssn"),
])
def test_a_label_saying_what_a_number_is_keeps_it_from_another_type(text: str, kind: str) -> None:
    assert kind not in kinds(text)


def test_negative_context_is_the_label_right_before_the_value() -> None:
    assert kinds("Member ID AB1234563")["health_plan"] >= 0.9              # what the label says it is
    assert kinds("SSN 536-90-4399, invoice 536-90-4398")["ssn"] >= 0.95    # the labelled one alone drops out
    assert kinds("Medicare claim number 536-90-4399A")["hicn"] >= 0.95     # "claim" names a HICN, it does not exclude it
    assert kinds("Invoice sent.\nSSN: 536-90-4399")["ssn"] >= 0.95         # a label on another line says nothing
    assert kinds("Patient account number 4835525815") == {"account": 0.9}  # an account, not a record number
    assert kinds("Claim for Jane Roe, MBI 1EG4-TE5-MK73")["mbi"] >= 0.95   # a qualifier needs "is" or ":" after it


def test_patient_phone_and_email_only_when_labelled_the_patients() -> None:
    assert kinds("Patient phone: (617) 555-0123")["phone"] >= 0.8
    assert kinds("Patient email: jroe@example.net")["email"] >= 0.8
    assert kinds("Cell: 617-555-0123")["phone"] < 0.8                       # a signature's cell number
    assert kinds("Name: Jane Roe\nCell: 617-555-0123")["phone"] >= 0.8      # ... but in a person's record block
    assert kinds("Home phone (617) 555-0123")["phone"] >= 0.8               # a home line is a person's own
    assert kinds("Regards,\nJane\nHome phone (617) 555-0123")["phone"] < 0.8   # below a sign-off: the writer's
    assert kinds("Call us at 617-555-0123")["phone"] < 0.8


def test_name_lines_count_when_a_record_follows(state: check.State) -> None:
    found = findings_of(state, "Re: Jane Roe\nDOB: 04/12/1961\n")
    assert found["phi.name"].confidence >= 0.8
    assert findings_of(state, "Name: Jane Roe\nMRN: 4820193\n")["phi.name"].confidence >= 0.8
    assert findings_of(state, "RE: Real Options\n\nSee the attached model.\n")["phi.name"].confidence < 0.8
    assert findings_of(state, "Re: Jane Roe\nDiagnosis: asthma\n")["phi.name"].confidence >= 0.8   # heads a record
    assert findings_of(state, "Hello,\nName: Jane Roe\nThe scan was clear.")["phi.name"].confidence >= 0.8  # a line of its own
    assert findings_of(state, "RE: Virginia Power\nSee below.")["phi.name"].confidence < 0.8  # a subject heads no record
    assert findings_of(state, "Re: Jane Roe\nYour visit with Dr. Lee is on 3/4.")["phi.name"].confidence >= 0.8  # an encounter
    assert "phi.name" not in findings_of(state, "Company Name: Enron Corp\nPosition: analyst\n") or \
        findings_of(state, "Company Name: Enron Corp\nPosition: analyst\n")["phi.name"].confidence < 0.8


def _dense(rows: int) -> str:
    return "".join(f"Patient SSN 536-{10 + i // 9000:02d}-{1000 + i % 9000:04d}, Dx: asthma, on albuterol 2 puffs.\n"
                   for i in range(rows))


def test_scan_stops_once_the_evidence_decides_and_says_the_count_is_a_floor(state: check.State) -> None:
    found = findings_of(state, _dense(5000))          # ~400 KB: several chunks
    ssn = found["phi.ssn"]
    assert 25 <= ssn.count < 5000 and "\u2265" in ssn.detail and "scan stopped once decided" in ssn.detail
    assert found["phi.health_context"].confidence >= 0.9


def test_ten_megabytes_of_phi_are_decided_without_a_truncation(state: check.State) -> None:
    found = findings_of(state, _dense(130_000))        # ~10 MB, over max_chars: decided in the first chunk
    assert "scan.truncated" not in found and found["phi.ssn"].count >= 25


def test_decide_after_zero_reads_everything() -> None:
    full = check.build_state({"decide_after": 0})
    assert findings_of(full, _dense(2000))["phi.ssn"].count == 2000


def test_a_passed_deadline_stops_the_check() -> None:
    import time
    from types import SimpleNamespace

    from outguard.checks.spec import StartupContext

    plugin = check.PhiCheck()
    plugin.outguard_startup(StartupContext("phi", {}))
    message = parse_message(f"From: a@b.example\nTo: c@d.example\nSubject: x\n\n{_dense(50)}".encode())
    with pytest.raises(TimeoutError, match="phi: deadline"):
        plugin.outguard_inspect(message, SimpleNamespace(deadline=time.monotonic() - 1))
    later = SimpleNamespace(deadline=time.monotonic() + 60)
    assert any(f.id == "phi.ssn" for f in plugin.outguard_inspect(message, later))
    assert any(f.id == "phi.ssn" for f in plugin.outguard_inspect(message, SimpleNamespace()))   # no deadline: none


def test_keyword_lookups_read_each_block_once() -> None:
    text = "SSN 536-90-4399 " * 20000
    kw = identifiers.Keywords(text)
    for i in range(0, len(text), 97):
        kw.near("ssn", i, i + 11)
    assert all(kw._done)                                 # every block scanned ...
    assert sum(len(v) for v in kw._at["ssn"].values()) == 20000   # ... once: no keyword counted twice


def test_a_roster_without_health_context_stops_only_much_later(state: check.State) -> None:
    rows = "".join(f"SSN 536-{10 + i // 9000:02d}-{1000 + i % 9000:04d}\n" for i in range(12000))   # ~190 KB
    ssn = findings_of(state, rows)["phi.ssn"]
    assert 1000 <= ssn.count < 12000 and "\u2265" in ssn.detail    # not at 25: bulk rules may want larger counts
    assert kinds("SSN on file: 536-90-4399")["ssn"] >= 0.95        # "file" names no other kind of number


def test_health_context_is_read_only_beside_a_patient_identifier_or_an_attachment(state: check.State) -> None:
    # health information alone is not PHI: without an identifier the health scan is skipped
    assert "phi.health_context" not in findings_of(state, "Tips on asthma and COPD. Reason for visit: a checkup.")
    # read once an identifier stands anywhere in the message, also before it
    found = findings_of(state, "Diagnosis: asthma, on albuterol.\n\nMRN: 4820193\n")
    assert found["phi.health_context"].confidence >= 0.9
    # an attachment may be unreadable (the rules hold one beside health context): read then too
    raw = (b"From: a@clinic.example\nTo: b@partner.example\nSubject: x\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain\n\nDiagnosis: asthma.\n"
           b"--b1\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=x.bin\n\nxx\n--b1--\n")
    message = parse_message(raw, Envelope("a@clinic.example", ("b@partner.example",)))
    assert any(f.id == "phi.health_context" for f in check.inspect_message(message, state))


def test_a_person_heading_a_line_counts_beside_health_information(state: check.State) -> None:
    """'Re: Jane Roe' / 'Cell: ...' heading a line is weak alone and a patient's beside health information."""
    clinical = "She was started on metformin 500 mg twice daily for type 2 diabetes mellitus."
    found = findings_of(state, f"Re: Margaret Ellison\n\n{clinical}")
    assert found["phi.name"].confidence >= 0.8 and found["phi.health_context"].confidence >= 0.8
    found = findings_of(state, f"Cell: (617) 555-0134\n\n{clinical}")
    assert found["phi.phone"].confidence >= 0.8
    # without health information the heading stays below what the rules count
    office = "The quarterly budget review moved to Friday."
    assert findings_of(state, f"Re: Margaret Ellison\n\n{office}")["phi.name"].confidence < 0.8
    assert findings_of(state, f"Cell: (617) 555-0134\n\n{office}")["phi.phone"].confidence < 0.8
    # a clinician (a credential follows) or a place heading the mail is no patient
    assert findings_of(state, f"Re: Anita Patel, NP\n\n{clinical}")["phi.name"].confidence < 0.8
    assert findings_of(state, f"Re: Cardiology Associates\n\n{clinical}")["phi.name"].confidence < 0.8
    # a comma and "do" in prose are no credential
    assert findings_of(state, f"Re: Margaret Ellison, do you have her labs?\n\n{clinical}")["phi.name"].confidence >= 0.8
    # a signature's cell number is the writer's, whatever the mail says
    signed = findings_of(state, f"{clinical}\n\nRegards,\nDr. Lee\nCell: (617) 555-0134")
    assert signed.get("phi.phone") is None or signed["phi.phone"].confidence < 0.8


def test_a_form_label_inside_a_sentence_counts_as_a_heading(state: check.State) -> None:
    """'... about Home phone (617) ...' / 'Name: Jane Roe' inside a sentence: the person's own, as
    a heading is; 'my cell', 'office phone' and a quoted 'Re:' are not."""
    clinical = "She was started on metformin 500 mg twice daily for type 2 diabetes mellitus."
    found = findings_of(state, f"Quick question about Home phone (617) 555-0134. {clinical}")
    assert found["phi.phone"].confidence >= 0.8
    found = findings_of(state, f"Can you confirm coverage? Name: Margaret  Ellison. {clinical}")
    assert found["phi.name"].confidence >= 0.8   # two spaces between the names, as pasted forms pad
    office = "The quarterly budget review moved to Friday."
    assert findings_of(state, f"Quick question about Home phone (617) 555-0134. {office}")["phi.phone"].confidence < 0.8
    for own in ("call my cell (617) 555-0134", "our office phone (617) 555-0134"):
        mine = findings_of(state, f"{clinical} If anything changes, {own}.")
        assert mine.get("phi.phone") is None or mine["phi.phone"].confidence < 0.8, own
    quoted = findings_of(state, f"About your mail Re: Virginia Power. {clinical}")
    assert quoted.get("phi.name") is None or quoted["phi.name"].confidence < 0.8


def test_titles_form_headings_and_capitals_name_patients(state: check.State) -> None:
    """'Patient Maria Gonzalez' heading a line, 'Pt: GONZALEZ, MARIA', 'Dear Ms. Roe' and a titled
    name beside a patient word count beside health information; a titled name in news or business
    prose ('Mr. Lay said'), 'Patient Portal Message' and 'MS Office' do not."""
    clinical = "She was started on metformin 500 mg twice daily for type 2 diabetes mellitus."
    for text in ("Patient Maria Gonzalez", "Pt: GONZALEZ, MARIA", "Dear Ms. Gonzalez,",
                 "Our patient, Mrs. Gonzalez, called back."):
        found = findings_of(state, f"{text}\n{clinical}")
        assert found["phi.name"].confidence >= 0.8, text
    for text in ("Mr. Skilling will join the call on Friday.", "Patient Portal Message", "Please use MS Office.",
                 "Patient Care Coordinator"):
        found = findings_of(state, f"{text}\n{clinical}")
        assert found.get("phi.name") is None or found["phi.name"].confidence < 0.8, text
    assert findings_of(state, "Mrs. Gonzalez, DOB 04/12/1961, called.")["phi.name"].confidence >= 0.8
    assert kinds(f"HIC# 234-56-7891A. {clinical}")["hicn"] >= 0.8


def test_a_subjects_re_is_a_reply_marker_unless_a_given_name_follows(state: check.State) -> None:
    def names_in(subject: str) -> Finding | None:
        raw = (f"From: a@clinic.example\nTo: b@partner.example\nSubject: {subject}\n\n"
               "She was started on metformin 500 mg twice daily for type 2 diabetes mellitus.\n").encode()
        message = parse_message(raw, Envelope("a@clinic.example", ("b@partner.example",)))
        return {f.id: f for f in check.inspect_message(message, state)}.get("phi.name")

    for subject in ("Re: Virginia Power", "Re: Tiny DNS Swap", "Re: Faculty Lunch", "Re: Grace Period"):
        assert names_in(subject) is None, subject
    # a reply about a person by a census given name: the patient the health information is about
    found = names_in("Re: Margaret Ellison")
    assert found is not None and found.confidence >= 0.8 and "Ellison" not in found.detail


def test_a_person_beside_a_date_a_parenthesised_record_and_a_possessive_email(state: check.State) -> None:
    """'Araujo, Matheus 2011-03-24' and 'Matheus Araujo (3/24/11)' write a patient and a birth date
    side by side; 'MRN (28-919667)' is a labelled record; 'his email (x@...)' a person's own.
    A mail header's sent line ('Vince J Kaminski 04/05/2001 03:12 PM') is no birth date."""
    clinical = "She was started on metformin 500 mg twice daily for type 2 diabetes mellitus."
    assert findings_of(state, f"RE: Araujo, Matheus 2011-03-24\n\n{clinical}")["phi.name"].confidence >= 0.8
    assert findings_of(state, f"Is this Matheus Araujo (3/24/11)? {clinical}")["phi.name"].confidence >= 0.8
    assert findings_of(state, f"Is this Tom Baker (1/4/62)? {clinical}")["phi.name"].confidence >= 0.8
    due = findings_of(state, f"The report is due on 1/4/62. {clinical}")   # a lower-case word before it: no name
    assert due.get("phi.name") is None
    assert kinds("The other one has a different MRN (28-919667).")["mrn"] >= 0.9
    found = findings_of(state, f"Writing from his email (selina.17@gmail.com). {clinical}")
    assert found["phi.email"].confidence >= 0.8
    found = findings_of(state, "Writing from his email (selina.17@gmail.com). The budget is due Friday.")
    assert found["phi.email"].confidence < 0.8
    header = findings_of(state, f"Vince Kaminski 04/05/2001 03:12 PM\n\n{clinical}")
    assert header.get("phi.name") is None or header["phi.name"].confidence < 0.8
