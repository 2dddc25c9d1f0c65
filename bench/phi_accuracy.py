#!/usr/bin/env python3
"""Accuracy of the PHI check per source, with 95 % Wilson intervals (not a timed test: read the figures).

    PYTHONSAFEPATH=1 .venv/bin/python bench/phi_accuracy.py [--corpora DIR] [--seed 7] [--limit N] [--all]

Message-level verdicts come from the real pipeline (outguard.pipeline.Inspector, shipped rules):
a message "contains PHI" when a rule of rules/phi.yaml that is about PHI matched (phi-*,
unreadable-attachment-*; not the sender's own [secure] subject rule).

Sources and the deterministic splits. Three kinds of row:
  tune  the lexicons, weights and thresholds were written against these: their figures count for nothing.
  read  never tuned on directly, but misses of these rows were read in an earlier session (the old
        "report" half), so they are no longer independent; kept to see regressions.
  held  never tuned on and misses never read (this file never prints a held row's examples): the
        figures that count are ALL/held. Decided (this split, its wrappers, its sources) before any
        of its results was run.

  clinical   MTSamples transcriptions (real clinical prose). Even-index notes: tune; odd-index notes
             whose sha256(id) starts with an odd byte: read; with an even byte: held.
             tune/read: three notes in four get planted identifiers (SSN, MBI, MRN, DOB, member ID,
             account number, patient phone, a name line) in varied wrappers (referral, claim, eligibility
             question, intake form, HTML table, CSV and text attachments, one-statement visit
             reasons): positives. The fourth stays un-planted: health text without identifier, a negative.
             held: the same idea with wrappers and identifier wordings of its own (HELD_*: portal
             message, fax cover, sign-out, coding query, problem list from the note's own keywords,
             TSV attachment, HTML list) around 2-4 consecutive sentences taken from anywhere in the
             note; one in four is a case-conference negative (note text, no identifier).
  excerpt    the same tune/read notes in their excerpt form (what held tests; the clinical rows plant
             into the whole note): 2-4 consecutive sentences from a random place in the note in a
             wrapper that says nothing clinical itself (referral, bare statement, question, forward,
             text attachment, HTML paragraphs) beside 1-2 tune/read identifier wordings; one in four
             is the excerpt without identifier, a negative. Its own random stream per note.
  enron      Enron business mail, negatives. Mailbox kaminski-v: tune; lokay-m, williams-w3: read.
             One message in three gets a planted look-alike (invoice/order/PO/tracking/confirmation/
             reference number shaped like an SSN, DEA, NPI or MBI; a member ID that passes the DEA
             checksum; an account number).
  ham        SpamAssassin ham, negatives. easy-ham-1: tune (tests/test_phi_corpora.py); easy-ham-2,
             hard-ham-1: read.
  spam-more  held negatives: Enron-Spam enron1 ham (mailbox farmer-d, not in business-email) and
             Ling-Spam ham (lower-cased, tokenised text); one in three with a look-alike of its own
             wording (HELD_LOOKALIKES).
  presidio   presidio-research synthetic PII sentences: negatives at message level (PII, no health),
             value-level precision/recall for SSN, phone, email, IP, street address, DOB.
             Even index: tune; odd: read.
  authored   bench/data/authored/: 40 wrappers and 90 whole messages of outbound clinical mail written by a
             helper session that never saw the check (brief: BRIEF.md there), every value a placeholder this
             file fills. By sha256(id): even first byte tune, odd held. Tune wrappers wrap excerpts of read
             notes (3 each), held wrappers held notes; messages bring their own health text or are the hard
             negatives (identifiers without health, health without a person, look-alike numbers).
  authored-2 bench/data/authored-2/: 60 whole messages written the same way by another helper session after
             session 10's tuning (brief: BRIEF.md there): all held.
  authored-3 bench/data/authored-3/: 80 more by a third helper session at the same time: all tune (misses read).
  authored-4 bench/data/authored-4/, authored-5, authored-6: 80 each, written at the start of session 11 by
             three more helper sessions from the same brief: authored-4 tune (misses read), 5 and 6 held;
             authored-7 (tune) and authored-8 (held) by two more, after the session's first round of changes;
             authored-9 (tune) and authored-10 (held) by two more at the start of session 12, each first run
             on that session's base code and on its first change (names.mentioned), then split;
             authored-11 (tune) and authored-12 (held) by two more after its second round, each first run
             on the base and on that round's code; authored-13 and authored-14 (both tune) by two more
             after its fourth round, first run the same way (authored-14 was to be held; its first run
             showed two false PHI in new settings, so it was read and is tune).
  generated  this file's own templates (the old bench): all tune. They measure the templates the
             lexicons and weights were written against, and count for nothing.

Identifier level (message sources): per message the planted identifier types are the truth;
a type reported that was not planted is a false positive (scored types only: the strong
identifiers and names). Two thresholds: ">=0.8" (what the shipped rules need) and "any"
(every finding an administrator sees). Exits 0 with a message when the corpora are absent.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import html
import json
import math
import os
import random
import re
import statistics
import string
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from outguard.core.config import load_config
from outguard.core.message import Envelope
from outguard.pipeline import Inspector
from outguard_plugins.phi import identifiers
from outguard_plugins.phi.validators import ICD10CM, MBI_LETTERS

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = Path(os.environ.get("OUTGUARD_CORPORA") or PROJECT.parent / "shared" / "corpora")
THRESHOLD = 0.8
# Identifier types scored at message level (the truth is known for them in every source).
SCORED = ("ssn", "mbi", "hicn", "npi", "dea", "mrn", "health_plan", "account", "dob", "name", "phone")

# ---------------------------------------------------------------- value generators

def ssn(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def bad_ssn(rng: random.Random) -> str:
    return rng.choice([
        f"000-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}",
        f"666-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}",
        f"{rng.randint(900, 999)}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}",
        f"{rng.randint(1, 899):03d}-00-{rng.randint(1, 9999):04d}",
        f"{rng.randint(1, 899):03d}-{rng.randint(1, 99):02d}-0000",
        "078-05-1120", "219-09-9999", "123-45-6789", "111-11-1111",
    ])


def mbi(rng: random.Random, dashes: bool = True) -> str:
    letters, alnum = MBI_LETTERS, MBI_LETTERS + string.digits
    c = [str(rng.randint(1, 9)), rng.choice(letters), rng.choice(alnum), str(rng.randint(0, 9)),
         rng.choice(letters), rng.choice(alnum), str(rng.randint(0, 9)), rng.choice(letters), rng.choice(letters),
         str(rng.randint(0, 9)), str(rng.randint(0, 9))]
    v = "".join(c)
    return f"{v[:4]}-{v[4:7]}-{v[7:]}" if dashes else v


def bad_mbi(rng: random.Random) -> str:
    v = list(mbi(rng, dashes=False))
    v[rng.choice([1, 4, 7, 8])] = rng.choice("SLOIBZ")
    return "".join(v)


def luhn_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def npi(rng: random.Random) -> str:
    body = rng.choice("12") + "".join(rng.choice(string.digits) for _ in range(8))
    return body + luhn_digit("80840" + body)


def bad_npi(rng: random.Random) -> str:
    good = npi(rng)
    return good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)


def dea(rng: random.Random) -> str:
    d = [rng.randint(0, 9) for _ in range(6)]
    check_digit = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
    return rng.choice("ABFGM") + rng.choice(string.ascii_uppercase) + "".join(map(str, d)) + str(check_digit)


def bad_dea(rng: random.Random) -> str:
    good = dea(rng)
    return good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)


def dob(rng: random.Random) -> str:
    y, m, d = rng.randint(1925, 2015), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y}", f"{y}-{m:02d}-{d:02d}",
                       f"{['January', 'March', 'June', 'October'][m % 4]} {d}, {y}"])


def mrn(rng: random.Random) -> str:
    return rng.choice([f"{rng.randint(100000, 99999999)}", f"RV-{rng.randint(1000000, 9999999)}",
                       f"MR{rng.randint(100000, 999999)}", f"{rng.randint(10, 99)}-{rng.randint(100000, 999999)}"])


# ---------------------------------------------------------------- labelled identifier texts

def identifier_cases(rng: random.Random, n: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """(text, [(kind, value) that must be found]) -- empty list: nothing of those kinds may be found."""
    cases: list[tuple[str, list[tuple[str, str]]]] = []
    for _ in range(n):
        v = ssn(rng)
        t = rng.choice(["SSN: {v}", "Social Security Number {v}", "SS# {v}", "her social security number is {v}",
                        "SSN {b}", "Soc. Sec. {v}", "patient SSN ... {v}", "ssn={b}"])
        cases.append((t.format(v=v, b=v.replace("-", "")), [("ssn", v)]))
        cases.append((rng.choice(["SSN: {v}", "Order {v} shipped", "Ref {v}", "SSN {v}"]).format(v=bad_ssn(rng)), []))
        cases.append((rng.choice(["Order number {v}", "Invoice {v}, due in 30 days", "Part no. {v}",
                                  "Confirmation code {v}"]).format(v=ssn(rng)), []))
        m = mbi(rng, rng.random() < 0.5)
        cases.append((rng.choice(["Medicare MBI: {v}", "MBI {v}", "Medicare number {v}", "beneficiary ID {v}"]).format(v=m),
                      [("mbi", m)]))
        cases.append((rng.choice(["MBI {v}", "ref {v}", "Medicare {v}"]).format(v=bad_mbi(rng)), []))
        h = ssn(rng).replace("-", "") + rng.choice(["A", "B", "C1", "D", "T", "M"])
        cases.append((rng.choice(["Medicare claim number {v}", "HICN: {v}", "Medicare # {v}"]).format(v=h), [("hicn", h)]))
        p = npi(rng)
        cases.append((rng.choice(["NPI: {v}", "Dr. Lee (NPI {v})", "rendering provider NPI {v}", "National Provider ID {v}"])
                      .format(v=p), [("npi", p)]))
        cases.append((rng.choice(["NPI: {v}", "NPI {v}"]).format(v=bad_npi(rng)), []))
        cases.append((rng.choice(["Call {v}", "Phone: {v}", "Account {v}"]).format(v=npi(rng)), []))
        d = dea(rng)
        cases.append((rng.choice(["DEA: {v}", "DEA # {v}", "DEA registration {v}", "prescriber DEA {v}"]).format(v=d),
                      [("dea", d)]))
        cases.append((rng.choice(["DEA: {v}", "DEA {v}"]).format(v=bad_dea(rng)), []))
        cases.append((rng.choice(["Tracking 1Z{a}", "FedEx tracking {b}", "USPS 9400 1000 0000 0000 0000 00",
                                  "Card 4111 1111 1111 1111", "Call us at 1-800-555-0199", "Fax (617) 555-0142",
                                  "Serial {b}", "IBAN DE89 3704 0044 0532 0130 00"])
                      .format(a="".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
                              b="".join(rng.choice(string.digits) for _ in range(12))), []))
    return cases


def presidio_cases(data: list[dict]) -> list[tuple[str, list[tuple[str, str]]]]:
    kinds = {"US_SSN": "ssn", "EMAIL_ADDRESS": "email", "IP_ADDRESS": "ip", "PHONE_NUMBER": "phone",
             "STREET_ADDRESS": "address"}
    cases = []
    for item in data:
        text = item["full_text"]
        labels = []
        for span in item["spans"]:
            kind = kinds.get(span["entity_type"])
            if span["entity_type"] == "DATE_TIME":
                before = text[max(0, span["start_position"] - 40):span["start_position"]].lower()
                if "born" in before or "birth" in before:
                    kind = "dob"
            if kind:
                labels.append((kind, span["entity_value"]))
        cases.append((text, labels))
    return cases


# Weak identifiers are never enough for the default rules by themselves; they count as
# detected when reported at all.
WEAK = {"phone": 0.0, "fax": 0.0, "email": 0.0, "ip": 0.0, "address": 0.0}


def _norm(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


def score_identifiers(cases: list[tuple[str, list[tuple[str, str]]]], icd: ICD10CM,
                      kinds: set[str] | None = None) -> dict[str, Counter]:
    """Per kind tp/fp/fn; `kinds`: score only these (the ones the set labels completely)."""
    stats: dict[str, Counter] = defaultdict(Counter)
    for text, labels in cases:
        found = [(h.kind, _norm(h.value)) for h in identifiers.scan(text, icd)
                 if h.confidence >= WEAK.get(h.kind, THRESHOLD) and (kinds is None or h.kind in kinds)]
        want = {(k, _norm(v)) for k, v in labels}
        for kind, value in want:
            hit = any(k == kind and (value in v or v in value) for k, v in found)
            stats[kind]["tp" if hit else "fn"] += 1
        for kind, value in found:
            if not any(k == kind and (value in v or v in value) for k, v in want):
                stats[kind]["fp"] += 1
    return stats


# ---------------------------------------------------------------- labelled messages

def health_pool() -> tuple[list[str], list[str]]:
    """Conditions (CMS ICD-10-CM category descriptions, chapters A-N) and MedlinePlus drugs."""
    import bz2
    import importlib.util
    import pickle
    import xml.etree.ElementTree as ET

    spec = importlib.util.find_spec("simple_icd_10_cm")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    tabular = next(p for p in data.iterdir() if p.suffix == ".xml")
    conditions = []
    for _, el in ET.iterparse(tabular):
        if el.tag == "diag":
            name = el.findtext("name") or ""
            if len(name) == 3 and name[0] in "ABCDEFGHIJKLMN":
                desc = el.findtext("desc") or ""
                if "elsewhere" not in desc and not desc.startswith("Other"):
                    conditions.append(desc)
    spec = importlib.util.find_spec("drug_named_entity_recognition")
    with bz2.open(Path(next(iter(spec.submodule_search_locations))) / "drug_ner_dictionary.pkl.bz2") as fh:
        d = pickle.load(fh)  # noqa: S301
    drugs = sorted(c for c, x in d["drug_canonical_to_data"].items() if x.get("medline_plus_id") and c.isalpha())
    return conditions, drugs


LABS = [("HbA1c", "{:.1f}%", 5.5, 11), ("LDL", "{:.0f} mg/dL", 70, 220), ("eGFR", "{:.0f}", 15, 95),
        ("TSH", "{:.2f}", 0.2, 9), ("creatinine", "{:.2f} mg/dL", 0.6, 3.5), ("hemoglobin", "{:.1f} g/dL", 8, 16),
        ("INR", "{:.1f}", 0.9, 4), ("PSA", "{:.1f} ng/mL", 0.5, 12), ("potassium", "{:.1f}", 3.0, 6.0)]


def health_sentence(rng: random.Random, conditions: list[str], drugs: list[str]) -> str:
    cond = rng.choice(conditions).lower()
    drug = rng.choice(drugs)
    lab, fmt, lo, hi = rng.choice(LABS)
    value = fmt.format(rng.uniform(lo, hi))
    return rng.choice([
        f"Assessment: {cond}. Plan: start {drug} {rng.choice([5, 10, 20, 25, 50, 100, 500])} mg daily, "
        f"recheck {lab} in 3 months.",
        f"Latest {lab} {value}. History of {cond}; currently taking {drug}.",
        f"Diagnosed with {cond} last spring. Continue {drug}. {lab}: {value}.",
        f"Labs: {lab} {value}. Dx {cond}. Rx: {drug} {rng.choice([10, 40, 250])} mg.",
        f"She was seen for {cond} and prescribed {drug}; {lab} came back at {value}.",
        f"Referral for {cond}. Meds: {drug}. Most recent {lab} {value}.",
    ])


def identifier_sentence(rng: random.Random, presidio: list[dict], who: str) -> str:
    pres_ssn = [x["full_text"] for x in presidio if any(s["entity_type"] == "US_SSN" for s in x["spans"])]
    pres_dob = [x["full_text"] for x in presidio if "born on" in x["full_text"] or "date of birth" in x["full_text"]]
    return rng.choice([
        f"Patient: {who}, DOB {dob(rng)}.",
        f"{who}, DOB {dob(rng)}",
        f"Patient name: {who}\nMRN: {mrn(rng)}",
        f"RE: {who} (MRN {mrn(rng)})",
        f"Member ID: {rng.choice(string.ascii_uppercase)}{rng.randint(10**8, 10**9 - 1)} for {who}",
        f"Medicare MBI {mbi(rng)} ({who})",
        f"Our patient {who}, SSN {ssn(rng)}.",
        rng.choice(pres_ssn) + f" -- {who}",
        f"{who}. " + rng.choice(pres_dob),
        f"Pt: {who}; date of birth {dob(rng)}",
    ])


def presidio_person(rng: random.Random, presidio: list[dict]) -> str:
    names = [s["entity_value"] for x in presidio for s in x["spans"]
             if s["entity_type"] == "PERSON" and len(s["entity_value"].split()) == 2 and s["entity_value"].isascii()]
    return rng.choice(names)


FILLER = [
    "Thanks for your help with this.", "Let me know if you need anything else.", "Please call with any questions.",
    "Best regards,\nFront desk", "Sent from my iPhone", "The office is closed on Monday for the holiday.",
]


def phi_message(rng: random.Random, presidio: list[dict], conditions: list[str], drugs: list[str]) -> str:
    who = presidio_person(rng, presidio)
    parts = [rng.choice(["Hi Dr. Patel,", "Hello,", "Team,", ""]), identifier_sentence(rng, presidio, who),
             health_sentence(rng, conditions, drugs)]
    if rng.random() < 0.4:
        parts.append(health_sentence(rng, conditions, drugs))
    parts.append(rng.choice(FILLER))
    if rng.random() < 0.3:
        parts.append(f"--\nClinic scheduling {rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}")
    return "\n\n".join(p for p in parts if p)


def clean_message(rng: random.Random, presidio: list[dict], conditions: list[str], drugs: list[str]) -> str:
    who = presidio_person(rng, presidio)
    pres = [x["full_text"] for x in presidio]
    kind = rng.randrange(10)
    if kind == 7:   # a form that asks for identifiers, next to health wording, with no values filled in
        return (f"Please complete the intake form: name, date of birth, SSN, insurance member ID and a list of "
                f"current medications. Bring it to your {rng.choice(['colonoscopy', 'MRI', 'mammogram'])} visit.\n")
    if kind == 8:   # market news about drugs and conditions, with a named analyst and her phone
        cond, drug = rng.choice(conditions).lower(), rng.choice(drugs)
        return (f"Analyst note: sales of {drug} for {cond} rose 12% in Q2; competitor pipeline looks thin.\n"
                f"Contact: {who}, {rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}, "
                f"{who.split()[0].lower()}@broker.example\n")
    if kind == 9:   # an employee's own sick note to HR: her name, no identifier, a condition
        return (f"Hi HR,\n\nI'm out today with the flu, back Monday.\n\n{who}\n")
    if kind == 0:   # identifiers without health information (no medical record number: that is a record of care)
        sentence = identifier_sentence(rng, presidio, who)
        while "MRN" in sentence:
            sentence = identifier_sentence(rng, presidio, who)
        return f"Hi,\n\n{sentence}\nStart date is Monday; payroll needs the form by Friday.\n"
    if kind == 1:   # health talk without a patient
        cond, drug = rng.choice(conditions).lower(), rng.choice(drugs)
        return (f"This month's newsletter: what to know about {cond}. A new study compares {drug} with placebo. "
                f"Flu shots are available at every location.\n--\nWellness team {rng.randint(200, 989)}-555-0100\n")
    if kind == 2:   # invoice with an SSN-shaped order number
        return (f"Dear Mr. {who.split()[-1]},\n\nThank you for order {ssn(rng)}. Items: Vitamin D3 1000 IU (2), "
                f"digital thermometer (1). Tracking 1Z{rng.randint(10**15, 10**16 - 1)}.\nQuestions? "
                f"Call {rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}.\n")
    if kind == 3:   # presidio sentences (PII without health)
        return "\n".join(rng.sample(pres, 4))
    if kind == 4:   # signature-heavy business mail
        return (f"Hi {who.split()[0]},\n\nAttached is the Q3 budget. Account number {rng.randint(10**7, 10**9)} "
                f"was credited.\n\n{who}\nDirector of Operations\nPhone {rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}"
                f"\nFax {rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}\n")
    if kind == 5:   # a provider's own identifiers and a drug list (no patient)
        return (f"Credentialing update: Dr. {who} NPI {npi(rng)}, DEA {dea(rng)}. Formulary adds {rng.choice(drugs)} "
                f"and {rng.choice(drugs)} next quarter.\n")
    return (f"Reminder: your appointment is on {dob(rng)} at 10:30. Please bring your insurance card.\n"
            f"Reply STOP to opt out. {rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}\n")


# ---------------------------------------------------------------- statistics

def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float, float]:
    """Proportion k/n with its Wilson score interval (sound near 0 and 1, unlike the normal one)."""
    if n == 0:
        return float("nan"), 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def fmt(k: int, n: int) -> str:
    p, lo, hi = wilson(k, n)
    return "    n/a            " if n == 0 else f"{p:6.3f} [{lo:.3f},{hi:.3f}]"


# ---------------------------------------------------------------- labelled messages of the real sources

@dataclass
class Case:
    source: str            # clinical, enron, ham, presidio, generated
    split: str             # tune | read | held
    raw: bytes
    phi: bool              # the truth at message level
    planted: frozenset[str] = frozenset()   # identifier types planted (message sources)
    scored: bool = True    # identifier types scored for this message
    form: str = "plain"
    present: frozenset[str] | None = None   # types planted under any role (an employee's DOB too); None: `planted`


PERSON_FALLBACK = ["Maria Gonzalez", "James Carter", "Linda Nguyen", "Robert Okafor", "Susan Miller"]


def person_names(presidio: list[dict]) -> list[str]:
    """Two-word person names of the presidio-research set: the patients planted into notes."""
    return [s["entity_value"] for x in presidio for s in x["spans"]
            if s["entity_type"] == "PERSON" and len(s["entity_value"].split()) == 2 and s["entity_value"].isascii()
            and s["entity_value"].replace(" ", "").isalpha()] or PERSON_FALLBACK


def clean_note(text: str) -> str:
    """MTSamples keeps section breaks as commas ("HISTORY:, ..."): give them their lines back."""
    text = re.sub(r"\s*,?\s*([A-Z][A-Z /&()\-]{2,60}):\s*,\s*", r"\n\n\1: ", text)
    text = re.sub(r"\.,(?=\d+\.)", ".\n", text)
    return text.strip()


def excerpt(rng: random.Random, note: str) -> str:
    if len(note) < 700 or rng.random() < 0.3:
        return note
    cut = rng.randint(400, min(len(note), 3000))
    end = note.find(". ", cut)
    return note[: end + 1 if end > 0 else cut]


def nanp3(rng: random.Random) -> str:
    """An area code or exchange a North American number can have (2-9, then not "11")."""
    while True:
        v = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        if v[1:] != "11":
            return v


def planted_identifier(rng: random.Random, kind: str, who: str) -> str:
    """One labelled identifier line as clinics write them."""
    if kind == "ssn":
        return rng.choice(["SSN: {v}", "Social Security #: {v}", "SS# {v}", "Patient SSN {v}"]).format(v=ssn(rng))
    if kind == "mbi":
        return rng.choice(["Medicare ID: {v}", "MBI {v}", "Medicare number: {v}"]).format(v=mbi(rng, rng.random() < 0.5))
    if kind == "mrn":
        return rng.choice(["MRN: {v}", "Medical record #: {v}", "Chart number {v}", "Patient ID: {v}"]).format(v=mrn(rng))
    if kind == "dob":
        return rng.choice(["DOB: {v}", "Date of birth: {v}", "D.O.B. {v}", "Birthdate {v}"]).format(v=dob(rng))
    if kind == "health_plan":
        v = rng.choice(string.ascii_uppercase) + rng.choice(string.ascii_uppercase) + str(rng.randint(10**7, 10**9))
        return rng.choice(["Member ID: {v}", "Subscriber ID {v}", "Insurance ID: {v}", "Policy number {v}"]).format(v=v)
    if kind == "account":
        v = str(rng.randint(10**6, 10**10))
        return rng.choice(["Account #: {v}", "Acct no. {v}", "Patient account number {v}", "Account number: {v}"]).format(v=v)
    if kind == "phone":
        v = f"({nanp3(rng)}) {nanp3(rng)}-{rng.randint(1000, 9999)}"
        return rng.choice(["Patient phone: {v}", "Home phone {v}", "Cell: {v}",
                           "Contact number for the patient: {v}"]).format(v=v)
    if kind == "name":
        return rng.choice(["Patient: {w}", "Re: {w}", "Name: {w}", "Patient name: {w}"]).format(w=who)
    raise ValueError(kind)


PRESCRIPTIONS = ["insulin glargine 20 units at bedtime", "lisinopril 10 mg daily", "metformin 500 mg twice daily",
                 "sertraline 50 mg", "albuterol inhaler as needed"]
ALLERGIES = ["penicillin", "sulfa", "NKDA", "latex", "codeine, shellfish"]
# Wrappers of a clinical message: (subject, body) with the identifier lines and the note or its one-line statement.
TEMPLATES = {
    "referral": ("patient note", "Dr. Patel,\n\nReferring the patient below.\n\n{ident}\n\n{note}\n\nThank you,\nClinic staff"),
    "claim": ("claim resubmission", "Claims team,\n\nResubmitting the claim for:\n{ident}\nDiagnosis: {statement}\n\nRegards"),
    "eligibility": ("eligibility question", "Hi,\n\nCan you confirm coverage? {ident_inline}. Planned: {statement}\n\nThanks"),
    "intake": ("intake", "INTAKE FORM\n{ident}\nReason for visit: {statement}\nAllergies: {allergy}"),
    "statement": ("patient note", "{ident}\n{statement}"),
    "prescription": ("prescription", "{ident}\nRx: {rx}\n{statement}"),
    "reminder": ("appointment reminder", "Appointment reminder\n{ident}\nYour visit with Dr. Lee is on {when} for: {statement}\n"
                                         "Please arrive 15 minutes early."),
}
PLANT_KINDS = ("ssn", "mbi", "mrn", "dob", "health_plan", "account", "phone", "name")


def eml(body: str, i: int, subject: str = "note", sender: str = "staff@clinic.example",
        rcpt: str = "office@partner.example", html_body: str | None = None,
        attachment: tuple[str, str, str] | None = None) -> bytes:
    head = f"From: {sender}\nTo: {rcpt}\nSubject: {subject}\nMessage-ID: <{i}@bench>\nMIME-Version: 1.0\n"
    if html_body is None and attachment is None:
        return (head + f"Content-Type: text/plain; charset=utf-8\n\n{body}\n").encode()
    parts = [f"--bb\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"]
    if html_body is not None:
        parts = [f"--bb\nContent-Type: text/html; charset=utf-8\n\n{html_body}\n"]
    if attachment is not None:
        name, ctype, data = attachment
        parts.append(f"--bb\nContent-Type: {ctype}; name={name}\nContent-Disposition: attachment; filename={name}\n\n{data}\n")
    kind = "mixed" if attachment is not None else "alternative"
    return (head + f'Content-Type: multipart/{kind}; boundary="bb"\n\n' + "".join(parts) + "--bb--\n").encode()


def clinical_cases(corpora: Path, seed: int, persons: list[str]) -> list[Case]:
    rows = [json.loads(line) for line in (corpora / "clinical-text" / "mtsamples-en.jsonl").read_text().splitlines() if line]
    cases = []
    for i, row in enumerate(rows):
        if i % 2 == 1 and held_note(row["id"]):
            continue   # the held-out half: held_clinical_cases
        rng = random.Random(f"{seed}-clinical-{i}")
        split = "tune" if i % 2 == 0 else "read"
        note = clean_note(row["transcription"])
        statement = " ".join(row["description"].split())
        who = rng.choice(persons)
        if (i // 2) % 4 == 3:   # health text without identifier (in both halves)
            form = rng.choice(["plain", "html", "statement"])
            text = statement if form == "statement" else excerpt(rng, note)
            body = f"Hello,\n\nFor the teaching file, de-identified:\n\n{text}\n\nThanks"
            hb = None
            if form == "html":
                hb = "<html><body>" + "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n")) + "</body></html>"
            cases.append(Case("clinical", split, eml(body, i, "teaching case", html_body=hb), False, frozenset(), True, form))
            continue
        kinds = rng.sample(PLANT_KINDS, rng.choice([1, 1, 2, 3]))
        lines = [planted_identifier(rng, k, who) for k in kinds]
        planted = set(kinds)
        form = rng.choice(["referral", "claim", "eligibility", "intake", "statement", "html-table", "csv", "text-attachment",
                           "prescription", "reminder"])
        ident = "\n".join(lines)
        hb = att = None
        if form in TEMPLATES:
            subject, template = TEMPLATES[form]
            body = template.format(ident=ident, ident_inline=ident.replace("\n", ", "), note=excerpt(rng, note),
                                   statement=statement, allergy=rng.choice(ALLERGIES), rx=rng.choice(PRESCRIPTIONS),
                                   when=f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/2026")
        elif form == "html-table":
            cells = "".join(f"<td>{html.escape(line.split(':', 1)[-1].strip() if ':' in line else line)}</td>" for line in lines)
            heads = "".join(f"<th>{html.escape(line.split(':', 1)[0] if ':' in line else 'ID')}</th>" for line in lines)
            body = ""
            hb = (f"<html><body><p>Census for today:</p><table><tr><th>Patient</th>{heads}<th>Diagnosis</th></tr>"
                  f"<tr><td>{html.escape(who)}</td>{cells}<td>{html.escape(statement)}</td></tr></table></body></html>")
            planted.add("name")
            subject = "census"
        elif form == "csv":
            values = [line.split(":", 1)[-1].strip() if ":" in line else line.split()[-1] for line in lines]
            header = ",".join(["patient", *kinds, "diagnosis"])
            row_ = ",".join([who] + values + ['"' + statement.replace('"', "'") + '"'])
            body = "Export attached."
            att = ("export.csv", "text/csv", f"{header}\n{row_}\n")
            planted.add("name")
            subject = "export"
        else:   # text attachment
            body, subject = "Notes attached.", "notes"
            att = ("note.txt", "text/plain", f"{ident}\n\n{excerpt(rng, note)}\n")
        cases.append(Case("clinical", split, eml(body, i, subject, html_body=hb, attachment=att), True,
                          frozenset(planted), True, form))
    return cases


_NOTE_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
# Wrappers of the excerpt form that say nothing clinical themselves: the excerpt alone must carry it.
EXCERPT_TEMPLATES = {
    "x-referral": ("patient note", "Dr. Patel,\n\nReferring the patient below.\n\n{ident}\n\n{text}\n\nThank you,\nClinic staff"),
    "x-statement": ("patient note", "{ident}\n{text}"),
    "x-question": ("question", "Hi,\n\nQuick question about {ident_inline}. From the note: {text}\n\nThanks"),
    "x-forward": ("fwd: update", "See below.\n\n{ident}\n\n-----Original Message-----\n{text}\n"),
}


def sentence_excerpt(rng: random.Random, note: str) -> str:
    """2-4 consecutive sentences from a random place in the note (history, exam, plan or an
    everyday sentence): the short excerpts a clinician pastes into a message."""
    sents = [" ".join(s.split()) for s in _NOTE_SENTENCE.split(note) if s.strip()]
    n = rng.randint(2, 4)
    at = rng.randrange(max(1, len(sents) - n + 1))
    return " ".join(sents[at:at + n])


def excerpt_cases(corpora: Path, seed: int, persons: list[str]) -> list[Case]:
    """The excerpt form of the tune and read notes (source "excerpt"): a short excerpt in a wrapper
    that is not clinical itself, beside the tune/read identifier wordings; one in four is an
    excerpt without identifier (a negative). Its own random stream per note, so the other
    cases are unchanged."""
    rows = [json.loads(line) for line in (corpora / "clinical-text" / "mtsamples-en.jsonl").read_text().splitlines() if line]
    cases = []
    for i, row in enumerate(rows):
        if i % 2 == 1 and held_note(row["id"]):
            continue   # the held-out half
        rng = random.Random(f"{seed}-excerpt-{i}")
        split = "tune" if i % 2 == 0 else "read"
        text = sentence_excerpt(rng, clean_note(row["transcription"]))
        if (i // 2) % 4 == 1:   # an excerpt without identifier (other notes than the clinical negatives)
            body = f"Hello,\n\nFor the teaching file, de-identified:\n\n{text}\n\nThanks"
            cases.append(Case("excerpt", split, eml(body, i, "teaching case"), False, frozenset(), True, "x-teaching"))
            continue
        who = rng.choice(persons)
        kinds = rng.sample(PLANT_KINDS, rng.choice([1, 1, 2]))
        ident = "\n".join(planted_identifier(rng, k, who) for k in kinds)
        form = rng.choice([*EXCERPT_TEMPLATES, "x-attachment", "x-html"])
        hb = att = None
        subject = "patient note"
        if form in EXCERPT_TEMPLATES:
            subject, template = EXCERPT_TEMPLATES[form]
            body = template.format(ident=ident, ident_inline=ident.replace("\n", ", "), text=text)
        elif form == "x-attachment":
            body, subject = "Notes attached.", "notes"
            att = ("note.txt", "text/plain", f"{ident}\n\n{text}\n")
        else:
            body = f"{ident}\n\n{text}"
            hb = "<html><body>" + "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n")) + "</body></html>"
        cases.append(Case("excerpt", split, eml(body, i, subject, html_body=hb, attachment=att), True,
                          frozenset(kinds), True, form))
    return cases


def _after_first_paragraph(text: str) -> int:
    cut = text.find("\n\n")
    return cut + 2 if cut >= 0 else len(text)


LOOKALIKES = [
    # (wording, value kind, identifier type it really is or "")
    ("Invoice {v} for consulting services", "ssn", ""),
    ("Order # {v} has shipped", "ssn", ""),
    ("PO {v}", "dea", ""),
    ("Confirmation number: {v}", "ssn", ""),
    ("Reference {v}", "npi", ""),
    ("Tracking number {v}", "npi", ""),
    ("Your confirmation code is {v}", "mbi", ""),
    ("Claim number {v} (property damage)", "ssn", ""),
    ("Member ID {v}", "dea", "health_plan"),
    ("Subscriber ID: {v}", "dea", "health_plan"),
    ("Account number {v}", "digits", "account"),
    ("Ticket {v} was closed", "dea", ""),
]


def lookalike(rng: random.Random) -> tuple[str, str]:
    wording, kind, truth = rng.choice(LOOKALIKES)
    v = {"ssn": ssn, "dea": dea, "npi": npi, "mbi": mbi}.get(kind, lambda r: str(r.randint(10**7, 10**9)))(rng)
    return wording.format(v=v), truth


def enron_cases(corpora: Path, seed: int, limit: int | None) -> list[Case]:
    cases = []
    base = corpora / "business-email" / "messages"
    for mailbox in ("kaminski-v", "lokay-m", "williams-w3"):
        split = "tune" if mailbox == "kaminski-v" else "read"
        files = sorted((base / mailbox).iterdir())[:limit]
        for i, path in enumerate(files):
            raw = path.read_bytes()
            rng = random.Random(f"{seed}-enron-{path.name}")
            planted: frozenset[str] = frozenset()
            form = "as-is"
            if i % 3 == 0:
                msg = email.message_from_bytes(raw, policy=email.policy.compat32)
                if not msg.is_multipart():
                    body = msg.get_payload(decode=True).decode("latin-1")
                    sentence, truth = lookalike(rng)
                    at = _after_first_paragraph(body)
                    msg.set_payload(body[:at].rstrip("\n") + "\n\n" + sentence + "\n\n" + body[at:], "latin-1")
                    raw = msg.as_bytes()
                    planted = frozenset({truth} - {""})
                    form = "look-alike"
            cases.append(Case("enron", split, raw, False, planted, True, form))
    return cases


def ham_cases(corpora: Path, limit: int | None) -> list[Case]:
    cases = []
    for folder in ("easy-ham-1", "easy-ham-2", "hard-ham-1"):
        split = "tune" if folder == "easy-ham-1" else "read"
        for path in sorted((corpora / "spamassassin" / folder).iterdir())[:limit]:
            raw = path.read_bytes().split(b"\n", 1)[1]   # each file starts with an mbox "From " line
            # ham carries no planted truth; names and phones in it are real but not patients'
            cases.append(Case("ham", split, raw, False, frozenset(), True, folder))
    return cases


def presidio_message_cases(presidio: list[dict]) -> list[Case]:
    cases = []
    for i in range(0, len(presidio) - 3, 4):   # four sentences a message
        group = presidio[i:i + 4]
        body = "\n\n".join(x["full_text"] for x in group)
        split = "tune" if (i // 4) % 2 == 0 else "read"
        cases.append(Case("presidio", split, eml(body, i, "details"), False, frozenset(), False, "sentences"))
    return cases


# ---------------------------------------------------------------- authored: mail written apart from the check
#
# bench/data/authored/: outbound mail of a US healthcare organisation written by a helper session
# that never saw the check, its lexicons or this bench (its brief: bench/data/authored/BRIEF.md).
# wrappers.json wraps {TEXT}, a 2-4 sentence excerpt of a real MTSamples note, in mail whose own
# words say nothing clinical; messages.json are whole messages with their own health text (PHI) or
# the hard negatives (identifiers without health, health without a person, look-alike numbers).
# Every value is a placeholder the bench fills. Split by sha256(id): an even first byte is tune
# (its misses may be read), an odd one held (never printed). Tune wrappers wrap read notes, held
# wrappers held notes.

AUTHORED = PROJECT / "bench" / "data" / "authored"
AUTHORED_2 = PROJECT / "bench" / "data" / "authored-2"   # a second set, written after session 10's tuning: all held
AUTHORED_3 = PROJECT / "bench" / "data" / "authored-3"   # a third, written then too: all tune (its misses read)
AUTHORED_4 = PROJECT / "bench" / "data" / "authored-4"   # session 11's tune set (its misses read)
AUTHORED_5 = PROJECT / "bench" / "data" / "authored-5"   # written beside it by two other helpers: all held
AUTHORED_6 = PROJECT / "bench" / "data" / "authored-6"
AUTHORED_7 = PROJECT / "bench" / "data" / "authored-7"   # written mid-session 11, after its first round: tune
AUTHORED_8 = PROJECT / "bench" / "data" / "authored-8"   # and beside it: held
AUTHORED_9 = PROJECT / "bench" / "data" / "authored-9"   # written at the start of session 12: tune
AUTHORED_10 = PROJECT / "bench" / "data" / "authored-10"   # and beside it: held
AUTHORED_11 = PROJECT / "bench" / "data" / "authored-11"   # written mid-session 12: tune
AUTHORED_12 = PROJECT / "bench" / "data" / "authored-12"   # and beside it: held
AUTHORED_13 = PROJECT / "bench" / "data" / "authored-13"   # late session 12: tune
AUTHORED_14 = PROJECT / "bench" / "data" / "authored-14"   # and beside it: tune (read after its first run)


def all_held(_item_id: str) -> str:
    return "held"


def all_tune(_item_id: str) -> str:
    return "tune"
# placeholder -> the identifier type it plants (None: not a scored type)
_PLACEHOLDER_TYPE = {"NAME": "name", "FIRST": "name", "LAST": "name", "DOB": "dob", "SSN": "ssn", "MBI": "mbi",
                     "MRN": "mrn", "MEMBER": "health_plan", "ACCOUNT": "account", "PHONE": "phone", "NPI": "npi",
                     "DEA": "dea"}
_PLACEHOLDER = re.compile(r"\{([A-Z_]+?)(\d*)(?:_(SHORT|ISO|LONG|PLAIN|SPACED|DOTS|DASH))?\}")
_ATTACHMENT_TYPES = {"txt-attachment": "text/plain", "csv-attachment": "text/csv",
                     "tsv-attachment": "text/tab-separated-values"}


def authored_split(item_id: str) -> str:
    return "tune" if hashlib.sha256(item_id.encode()).digest()[0] % 2 == 0 else "held"


class _Filler:
    """Values for one message's placeholders: the same placeholder, the same value."""

    def __init__(self, rng: random.Random, persons: list[str]) -> None:
        self.rng, self.persons, self.people, self.base = rng, persons, {}, {}

    def person(self, n: str) -> tuple[str, str]:
        if n not in self.people:
            self.people[n] = self.rng.choice(self.persons).split(" ", 1)
        return self.people[n][0], self.people[n][1]

    def value(self, kind: str, n: str, form: str | None) -> str:
        rng = self.rng
        if kind in ("NAME", "FIRST", "LAST"):
            first, last = self.person(n)
            return {"NAME": f"{first} {last}", "FIRST": first, "LAST": last}[kind]
        key = (kind, n)
        if key not in self.base:
            self.base[key] = {
                "DOB": lambda: (rng.randint(1925, 2015), rng.randint(1, 12), rng.randint(1, 28)),
                "SSN": lambda: ssn(rng), "MBI": lambda: mbi(rng, dashes=True), "MRN": lambda: mrn(rng),
                "MEMBER": lambda: rng.choice(string.ascii_uppercase) + rng.choice(string.ascii_uppercase)
                + rng.choice(["", "X"]) + str(rng.randint(10**7, 10**9)),
                "ACCOUNT": lambda: str(rng.randint(10**6, 10**10)),
                "CLAIM": lambda: f"{rng.randint(2024, 2026)}{rng.randint(10**8, 10**9 - 1)}",
                "PHONE": lambda: (nanp3(rng), nanp3(rng), rng.randint(1000, 9999)),
                "EMAIL": lambda: f"{self.person(n)[0].lower()}.{rng.randint(1, 99)}@gmail.com",
                "ADDRESS": lambda: f"{rng.randint(2, 999)} {rng.choice(['Elm', 'Oak', 'Maple', 'Cedar'])} "
                                   f"{rng.choice(['St', 'Street', 'Ave', 'Road'])}, Springfield, MA 0{rng.randint(1000, 2799)}",
                "NPI": lambda: npi(rng), "DEA": lambda: dea(rng),
                "LOOK_SSN": lambda: ssn(rng), "LOOK_MBI": lambda: mbi(rng), "LOOK_DEA": lambda: dea(rng),
                "LOOK_NPI": lambda: npi(rng),
            }.get(kind, lambda: str(rng.randint(10**6, 10**8)))()
        v = self.base[key]
        if kind == "DOB":
            y, m, d = v
            month = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                     "November", "December"][m - 1]
            return {"SHORT": f"{m}/{d}/{y % 100:02d}", "ISO": f"{y}-{m:02d}-{d:02d}",
                    "LONG": f"{month} {d}, {y}"}.get(form or "", f"{m:02d}/{d:02d}/{y}")
        if kind == "PHONE":
            a, b, c = v
            return {"DOTS": f"{a}.{b}.{c}", "DASH": f"{a}-{b}-{c}"}.get(form, f"({a}) {b}-{c}")
        if kind == "SSN":
            return {"PLAIN": v.replace("-", ""), "SPACED": v.replace("-", " ")}.get(form, v)
        if kind == "MBI" and form == "PLAIN":
            return v.replace("-", "")
        return v


def _planted(item: dict, any_role: bool = False) -> frozenset[str]:
    """The scored identifier types an item plants: names, birth dates and phones only when their
    role says they are the patient's (a writer's phone is no patient identifier), or under any
    role (`any_role`: a real identifier of someone else, which no look-alike is)."""
    roles = {k.upper(): str(v).lower() for k, v in (item.get("roles") or {}).items()}
    out = set()
    text = " ".join(str(item.get(k) or "") for k in ("subject", "body", "attachment_body"))
    for m in _PLACEHOLDER.finditer(text):
        kind, n = m.group(1), m.group(2)
        t = _PLACEHOLDER_TYPE.get(kind)
        if t is None:
            continue
        if t in ("name", "dob", "phone"):
            who = roles.get(("NAME" if t == "name" else kind) + n, roles.get("NAME" + n, "patient"))
            if "patient" not in who and not any_role:
                continue
        out.add(t)
    return frozenset(out)


def _fill(template: str, filler: _Filler, text: str = "") -> str:
    out = _PLACEHOLDER.sub(lambda m: text if m.group(1) == "TEXT" else filler.value(m.group(1), m.group(2), m.group(3)),
                           template)
    return out


def _authored_message(item: dict, i: int, filler: _Filler, text: str = "") -> bytes:
    form = item.get("form", "plain")
    subject = " ".join(_fill(item.get("subject") or "note", filler, text).split())
    body = _fill(item.get("body") or "", filler, text)
    if form == "html":
        return eml("", i, subject, html_body=body)
    if form in _ATTACHMENT_TYPES:
        data = _fill(item.get("attachment_body") or "", filler, text)
        name = _fill(item.get("attachment_name") or "attachment.txt", filler, text)   # "referral_{LAST}.txt"
        return eml(body, i, subject, attachment=(name, _ATTACHMENT_TYPES[form], data))
    return eml(body, i, subject)


def authored_cases(rows: list[dict], seed: int, persons: list[str], held: bool, folder: Path = AUTHORED,
                   source: str = "authored", split_of: Callable[[str], str] = authored_split) -> list[Case]:
    """The authored source: each tune wrapper around 3 read notes' excerpts and each held wrapper
    around 3 held notes' excerpts; each message once. Empty when the files are absent. `source`
    and `split_of` (an item's id -> tune | held) name another set written the same way (authored-2:
    all held)."""
    def load(name: str) -> list[dict]:
        return json.loads((folder / name).read_text()) if (folder / name).exists() else []
    wrappers, messages = load("wrappers.json"), load("messages.json")
    odd = [(i, r) for i, r in enumerate(rows) if i % 2 == 1]
    notes = {"tune": [r for i, r in odd if not held_note(r["id"])], "held": [r for i, r in odd if held_note(r["id"])]}
    cases = []
    for item in wrappers:
        split = split_of(item["id"])
        if split == "held" and not held:
            continue
        rng = random.Random(f"{seed}-authored-{item['id']}")
        for k, row in enumerate(rng.sample(notes[split], 3)):
            text = sentence_excerpt(rng, clean_note(row["transcription"]))
            raw = _authored_message(item, 90_000 + k, _Filler(rng, persons), text)
            cases.append(Case(source, split, raw, True, _planted(item), True, f"w:{item.get('form', 'plain')}",
                              _planted(item, any_role=True)))
    for item in messages:
        split = split_of(item["id"])
        if split == "held" and not held:
            continue
        rng = random.Random(f"{seed}-authored-{item['id']}")
        raw = _authored_message(item, 91_000, _Filler(rng, persons))
        cases.append(Case(source, split, raw, bool(item["phi"]), _planted(item), True,
                          f"{'m' if item['phi'] else 'n'}:{item.get('form', 'plain')}", _planted(item, any_role=True)))
    return cases


def generated_cases(rng: random.Random, presidio: list[dict], n: int) -> list[Case]:
    conditions, drugs = health_pool()
    out = []
    for i in range(n):
        out.append(Case("generated", "tune", eml(phi_message(rng, presidio, conditions, drugs), i), True, frozenset(), False))
        out.append(Case("generated", "tune", eml(clean_message(rng, presidio, conditions, drugs), i), False, frozenset(), False))
    return out


# ---------------------------------------------------------------- held-out sources (never tuned on, misses never read)
#
# Decided before any result was looked at (this session): the odd-index clinical notes are cut
# in two by a hash of the note id; one half stays "read" (its misses may be read and tuned on),
# the other is "held" and is wrapped in wordings written for this split only (HELD_* below, not
# used by the tune/read generator). Negatives: spam-more ham (Enron-Spam enron1 = mailbox
# farmer-d, Ling-Spam ham), never used by any PHI code or bench before, with look-alike numbers
# in wordings of their own. `--examples` never prints a held row.

def held_note(note_id: str) -> bool:
    """The held-out half of the odd-index notes: by a hash of the id, not by anything seen."""
    return hashlib.sha256(note_id.encode()).digest()[0] % 2 == 0


def note_window(rng: random.Random, note: str) -> str:
    """Two to four consecutive sentences from anywhere in the note (not only its opening)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", note) if len(s) > 20]
    if len(sentences) <= 4:
        return note
    start = rng.randrange(0, len(sentences) - 3)
    return " ".join(sentences[start:start + rng.randint(2, 4)])


def keyword_problems(row: dict, rng: random.Random) -> str:
    """Two of the note's own keywords (after its specialty), as a problem list would give them."""
    words = [w.strip() for w in row.get("keywords", "").split(",")[1:] if len(w.strip()) > 3]
    return "; ".join(rng.sample(words, min(2, len(words)))) if words else " ".join(row["description"].split())


def held_identifier(rng: random.Random, kind: str, who: str) -> str:
    """One identifier line in wordings of the held-out split only."""
    if kind == "ssn":
        return rng.choice(["SSN#: {v}", "Soc Sec No {v}", "social security no. {v}", "Pt SSN - {v}"]).format(v=ssn(rng))
    if kind == "mbi":
        return rng.choice(["Medicare Beneficiary Identifier {v}", "Medicare #: {v}", "MBI: {v}"]).format(
            v=mbi(rng, rng.random() < 0.5))
    if kind == "mrn":
        return rng.choice(["MR#: {v}", "Med Rec No. {v}", "Hospital number: {v}", "Chart #{v}"]).format(v=mrn(rng))
    if kind == "dob":
        return rng.choice(["Pt DOB {v}", "born {v}", "DOB - {v}", "Date of Birth {v}"]).format(v=dob(rng))
    if kind == "health_plan":
        v = rng.choice(string.ascii_uppercase) + rng.choice(string.ascii_uppercase) + str(rng.randint(10**7, 10**9))
        return rng.choice(["Member #: {v}", "Insurance member number {v}", "Plan ID {v}", "Medicaid ID: {v}"]).format(v=v)
    if kind == "account":
        v = str(rng.randint(10**6, 10**10))
        return rng.choice(["Acct: {v}", "Billing account {v}", "Guarantor account #{v}", "Account No: {v}"]).format(v=v)
    if kind == "phone":
        v = f"{nanp3(rng)}-{nanp3(rng)}-{rng.randint(1000, 9999)}"
        return rng.choice(["Pt phone {v}", "Patient's mobile: {v}", "Patient contact #: {v}", "Home #: {v}"]).format(v=v)
    if kind == "name":
        return rng.choice(["Patient Name: {w}", "Pt: {w}", "Pt name - {w}", "Patient - {w}"]).format(w=who)
    raise ValueError(kind)


HELD_TEMPLATES = {
    "portal": ("message from your care team", "Hello,\n\nA new note was added to your chart.\n\n{ident}\n\n{window}\n\n"
                                               "Reply here with questions.\nCare team"),
    "fax-cover": ("fax", "FAX COVER SHEET\nTo: records\nPages: 3\n{ident}\nRe: {window}\nCONFIDENTIAL"),
    "handoff": ("sign-out", "Sign-out for tonight:\n{ident_inline} -- {window}\nWatch overnight, call if worse."),
    "billing-query": ("coding question", "Coding,\n\nWhich code fits here?\n{ident}\nProblems: {problems}\n\nthx"),
    "signature-side": ("forwarded", "{window}\n\nSee above.\n{ident}\n-- \nSent from the ward"),
    "problem-list": ("problem list", "{ident}\nActive problems: {problems}\n"),
}
HELD_FORMS = (*HELD_TEMPLATES, "tsv-attachment", "html-list")


def held_clinical_cases(rows: list[dict], seed: int, persons: list[str]) -> list[Case]:
    cases = []
    for i, row in enumerate(rows):
        if i % 2 == 0 or not held_note(row["id"]):
            continue
        rng = random.Random(f"{seed}-held-{row['id']}")
        note = clean_note(row["transcription"])
        who = rng.choice(persons)
        if rng.random() < 0.25:   # health text without identifier: a negative
            body = f"Colleagues,\n\nAn interesting case for Thursday's conference:\n\n{note_window(rng, note)}\n\nCheers"
            cases.append(Case("clinical", "held", eml(body, i, "case conference"), False, frozenset(), True, "conference"))
            continue
        kinds = rng.sample(PLANT_KINDS, rng.choice([1, 1, 2, 3]))
        lines = [held_identifier(rng, k, who) for k in kinds]
        planted = set(kinds)
        form = rng.choice(HELD_FORMS)
        hb = att = None
        body = ""
        if form in HELD_TEMPLATES:
            subject, template = HELD_TEMPLATES[form]
            ident = "\n".join(lines)
            body = template.format(ident=ident, ident_inline="; ".join(lines), window=note_window(rng, note),
                                   problems=keyword_problems(row, rng))
        elif form == "tsv-attachment":
            first, last = who.split()
            values = [line.split(":", 1)[-1].split(" - ")[-1].strip() if (":" in line or " - " in line) else line.split()[-1]
                      for line in lines]
            header = "\t".join(["Last Name", "First Name", *kinds, "Problem"])
            att = ("list.tsv", "text/tab-separated-values",
                   f"{header}\n" + "\t".join([last, first, *values, keyword_problems(row, rng)]) + "\n")
            body, subject = "List attached.", "list"
            planted.add("name")
        else:   # html-list
            items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
            hb = (f"<html><body><p>Details below.</p><ul>{items}</ul><p>{html.escape(note_window(rng, note))}</p>"
                  f"</body></html>")
            subject = "details"
        cases.append(Case("clinical", "held", eml(body, i, subject, html_body=hb, attachment=att), True,
                          frozenset(planted), True, form))
    return cases


HELD_LOOKALIKES = [
    ("booking reference {v}", "ssn", ""),
    ("case no. {v} has been closed", "ssn", ""),
    ("ups # {v}", "npi", ""),
    ("serial number {v}", "dea", ""),
    ("purchase order {v}", "ssn", ""),
    ("voucher {v}", "mbi", ""),
    ("rma {v} approved", "dea", ""),
    ("deal # {v}", "npi", ""),
    ("policy holder id {v}", "dea", "health_plan"),
    ("acct no {v}", "digits", "account"),
]


def held_ham_cases(corpora: Path, seed: int, limit: int | None) -> list[Case]:
    """spam-more ham (Enron farmer-d, Ling-Spam), as messages; one in three with a look-alike number."""
    base = corpora / "spam-more"
    cases = []
    rows = [ln.split(",") for ln in (base / "labels.csv").read_text().splitlines()[1:]]
    per_corpus: Counter = Counter()
    for file, label, corpus, _fold in rows:
        if label != "ham" or (limit is not None and per_corpus[corpus] >= limit):
            continue
        per_corpus[corpus] += 1
        text = (base / file).read_text(encoding="latin-1")
        subject, _, body = text.partition("\n")
        subject = subject.removeprefix("Subject:").strip()
        rng = random.Random(f"{seed}-heldham-{file}")
        planted: frozenset[str] = frozenset()
        form = corpus
        if per_corpus[corpus] % 3 == 0:
            wording, kind, truth = rng.choice(HELD_LOOKALIKES)
            v = {"ssn": ssn, "dea": dea, "npi": npi, "mbi": mbi}.get(kind, lambda r: str(r.randint(10**7, 10**9)))(rng)
            at = _after_first_paragraph(body)
            body = body[:at] + "\n" + wording.format(v=v) + "\n\n" + body[at:]
            planted = frozenset({truth} - {""})
            form = "look-alike"
        raw = (f"From: someone@corp.example\nTo: other@corp.example\nSubject: {subject}\nMessage-ID: <{file}@bench>\n"
               f"MIME-Version: 1.0\nContent-Type: text/plain; charset=latin-1\n\n{body}\n").encode("latin-1", "replace")
        cases.append(Case("spam-more", "held", raw, False, planted, True, form))
    return cases


def matched_phi_rules(result) -> list[str]:
    """The PHI rules that matched (not the sender's own [secure] subject request)."""
    return [r for r in result.decision.rule_ids if r.startswith(("phi-", "unreadable-attachment"))]


def reported_types(result, threshold: float) -> set[str]:
    out = set()
    for f in result.findings:
        if f.id.startswith("phi.") and f.id != "phi.health_context" and f.confidence >= threshold:
            kind = f.id.split(".")[1]
            out.add("mrn" if kind.startswith("mrn") else kind)
    return out


# ---------------------------------------------------------------- run and print

@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    ms: list[float] = field(default_factory=list)
    ident: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    misses: Counter = field(default_factory=Counter)
    false_rules: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


def run_cases(inspector: Inspector, cases: list[Case]) -> dict[tuple[str, str], Tally]:
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for case in cases:
        t = tallies[(case.source, case.split)]
        result = inspector.inspect(case.raw, Envelope(), envelope_from_headers=True)
        t.ms.append(result.elapsed * 1000)
        said = bool(matched_phi_rules(result))
        if case.phi:
            t.tp += said
            t.fn += not said
            if not said:
                t.misses[case.form] += 1
                if len(t.examples) < 6:
                    t.examples.append(f"missed {case.form}: " + ", ".join(
                        sorted(f"{f.id} {f.confidence:.2f}" for f in result.findings if f.id.startswith("phi."))))
        else:
            t.fp += said
            t.tn += not said
            if said:
                t.false_rules.update(matched_phi_rules(result))
                if len(t.examples) < 6:
                    t.examples.append(f"false {case.form}: " + ", ".join(
                        sorted(f"{f.id} {f.confidence:.2f}" for f in result.findings if f.id.startswith("phi."))))
        if not case.scored:
            continue
        for label, threshold in (("0.8", THRESHOLD), ("any", 0.0)):
            said_types = reported_types(result, threshold) & set(SCORED)
            for kind in SCORED:
                c = t.ident[f"{kind}@{label}"]
                if kind in case.planted:
                    c["tp" if kind in said_types else "fn"] += 1
                elif kind in said_types and not (kind == "phone" and case.source in ("enron", "ham")) \
                        and not (kind == "name" and case.source in ("enron", "ham") and label == "any"):
                    c["fp"] += 1
                    if label == "0.8" and kind not in (case.present or case.planted):
                        t.ident["look-alike@0.8"]["fp"] += 1   # no identifier of this type in the message at all
    return tallies


SPLIT_ORDER = {"tune": 0, "read": 1, "held": 2}


def _row_order(kv: tuple[tuple[str, str], Tally]) -> tuple[int, str]:
    return SPLIT_ORDER[kv[0][1]], kv[0][0]


def _message_row(source: str, split: str, t: Tally) -> str:
    n = t.tp + t.fp + t.fn + t.tn
    ms = sorted(t.ms)
    return (f"{source:<12}{split:<8}{n:>6}{t.tp + t.fn:>6}{t.tp:>6}{t.fp:>5}{t.fn:>5}"
            f"{fmt(t.tp, t.tp + t.fp):>24}{fmt(t.tp, t.tp + t.fn):>24}{fmt(t.fp, t.fp + t.tn):>26}"
            f"{statistics.median(ms):>12.1f}{ms[int(len(ms) * 0.95)]:>8.1f}")


def print_message_table(tallies: dict[tuple[str, str], Tally]) -> None:
    print(f"{'source':<12}{'split':<8}{'msgs':>6}{'pos':>6}{'tp':>6}{'fp':>5}{'fn':>5}"
          f"{'precision [95% CI]':>24}{'recall [95% CI]':>24}{'false-PHI rate [95% CI]':>26}{'ms/msg p50':>12}{'p95':>8}")
    pooled: dict[str, Tally] = defaultdict(Tally)
    for (source, split), t in sorted(tallies.items(), key=_row_order):
        print(_message_row(source, split, t))
        if split != "tune":
            for k in ("tp", "fp", "fn", "tn"):
                setattr(pooled[split], k, getattr(pooled[split], k) + getattr(t, k))
            pooled[split].ms += t.ms
    for split in ("read", "held"):
        if pooled[split].ms:
            print(_message_row("ALL", split, pooled[split]))


def _ident_row(source: str, split: str, kind: str, c: Counter) -> str:
    return (f"{source:<12}{split:<8}{kind:<12}{c['tp'] + c['fn']:>8}{c['tp']:>5}{c['fp']:>5}{c['fn']:>5}"
            f"{fmt(c['tp'], c['tp'] + c['fp']):>24}{fmt(c['tp'], c['tp'] + c['fn']):>24}")


def print_identifier_table(tallies: dict[tuple[str, str], Tally], label: str) -> None:
    print(f"-- identifier types, reported at confidence {'>= 0.8' if label == '0.8' else 'any'}")
    print(f"{'source':<12}{'split':<8}{'type':<12}{'planted':>8}{'tp':>5}{'fp':>5}{'fn':>5}"
          f"{'precision [95% CI]':>24}{'recall [95% CI]':>24}")
    pooled: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for (source, split), t in sorted(tallies.items(), key=_row_order):
        everything: Counter = Counter()
        for kind in SCORED:
            c = t.ident.get(f"{kind}@{label}")
            if not c or not (c["tp"] + c["fn"] + c["fp"]):
                continue
            print(_ident_row(source, split, kind, c))
            everything.update(c)
            if split != "tune":
                pooled[split][kind].update(c)
        if everything:
            print(_ident_row(source, split, "(pooled)", everything))
            if label == "0.8":   # the same, a real identifier of someone else (an employee's DOB) not counted false
                typed = Counter(tp=everything["tp"], fn=everything["fn"], fp=t.ident["look-alike@0.8"]["fp"])
                print(_ident_row(source, split, "(by type)", typed))
                if split != "tune":
                    pooled[split]["(by type)"].update(typed)
    for split in ("read", "held"):
        everything = Counter()
        for kind in SCORED:
            c = pooled[split].get(kind)
            if c and c["tp"] + c["fn"] + c["fp"]:
                print(_ident_row("ALL", split, kind, c))
                everything.update(c)
        if everything:
            print(_ident_row("ALL", split, "(pooled)", everything))
        if pooled[split].get("(by type)"):
            print(_ident_row("ALL", split, "(by type)", pooled[split]["(by type)"]))


def print_value_table(label: str, rows: list[tuple[str, dict[str, Counter]]]) -> None:
    print(f"-- {label}")
    print(f"{'split':<8}{'type':<12}{'labelled':>9}{'tp':>5}{'fp':>5}{'fn':>5}{'precision [95% CI]':>24}{'recall [95% CI]':>24}")
    for split, stats in rows:
        for kind in sorted(stats):
            c = stats[kind]
            print(f"{split:<8}{kind:<12}{c['tp'] + c['fn']:>9}{c['tp']:>5}{c['fp']:>5}{c['fn']:>5}"
                  f"{fmt(c['tp'], c['tp'] + c['fp']):>24}{fmt(c['tp'], c['tp'] + c['fn']):>24}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA, help="the shared corpora (default ../shared/corpora)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--limit", type=int, default=None, help="at most this many messages per Enron mailbox / ham folder")
    ap.add_argument("--generated", type=int, default=300, help="generated PHI and non-PHI messages each")
    ap.add_argument("--examples", action="store_true", help="print a few missed / false messages' findings per source")
    ap.add_argument("--spacy-model", default=None, help="the phi check's spacy_model setting (default: none, patterns only)")
    ap.add_argument("--no-held", action="store_true",
                    help="leave the held split out (while working: each held run spends a little of its independence)")
    args = ap.parse_args()
    corpora: Path = args.corpora
    needed = [corpora / "clinical-text" / "mtsamples-en.jsonl", corpora / "business-email" / "messages",
              corpora / "spamassassin" / "easy-ham-1", corpora / "pii-presidio-research" / "synth_dataset_v2.json"]
    if not all(p.exists() for p in needed):
        print(f"phi_accuracy: shared corpora not found under {corpora} (set --corpora or OUTGUARD_CORPORA); nothing measured")
        return 0
    rng = random.Random(args.seed)
    icd = ICD10CM()
    presidio = json.loads(needed[3].read_text())
    persons = person_names(presidio)

    print(f"corpora: {corpora}   seed {args.seed}")
    print("splits (decided before results were read; see the module docstring):")
    print("  tune  tuned on (lexicons, weights, thresholds): clinical even-index notes, enron kaminski-v, ham easy-ham-1,")
    print("        presidio even index, generated.")
    print("  read  not tuned on, but their misses were read (and may be again): clinical odd-index notes outside the")
    print("        held half, enron lokay-m + williams-w3, ham easy-ham-2 + hard-ham-1, presidio odd index.")
    print("  held  never tuned on, misses never read: clinical odd-index notes whose sha256(id) starts with an even")
    print("        byte, in held-out wrappers; spam-more ham (Enron-Spam farmer-d, Ling-Spam); authored items whose")
    print("        sha256(id) starts with an odd byte; authored-2 (written after session 10's tuning); authored-5 and")
    print("        authored-6 (written at the start of session 11, beside the tune set authored-4), authored-8 (beside")
    print("        authored-7, after session 11's first round), authored-10 (beside the tune set authored-9, session 12),")
    print("        authored-12 (beside the tune set authored-11, mid-session 12).")
    print("        ALL/held counts.\n")

    overrides: dict = {"rules": {"local": [], "override": []}}
    if args.spacy_model:
        overrides["plugins"] = {"settings": {"phi": {"spacy_model": args.spacy_model, "require_spacy_model": True}}}
        print(f"phi check with spaCy pipeline {args.spacy_model}\n")
    inspector = Inspector.create(load_config(Path("/dev/null"), overrides))
    rows = [json.loads(line) for line in needed[0].read_text().splitlines() if line]
    cases = clinical_cases(corpora, args.seed, persons) + excerpt_cases(corpora, args.seed, persons) \
        + enron_cases(corpora, args.seed, args.limit) \
        + ham_cases(corpora, args.limit) + presidio_message_cases(presidio) + generated_cases(rng, presidio, args.generated) \
        + ([] if args.no_held else held_clinical_cases(rows, args.seed, persons)) \
        + authored_cases(rows, args.seed, persons, held=not args.no_held) \
        + ([] if args.no_held else authored_cases(rows, args.seed, persons, True, AUTHORED_2, "authored-2", all_held)) \
        + ([] if args.no_held else authored_cases(rows, args.seed, persons, True, AUTHORED_5, "authored-5", all_held)) \
        + ([] if args.no_held else authored_cases(rows, args.seed, persons, True, AUTHORED_6, "authored-6", all_held)) \
        + authored_cases(rows, args.seed, persons, True, AUTHORED_3, "authored-3", all_tune) \
        + authored_cases(rows, args.seed, persons, True, AUTHORED_4, "authored-4", all_tune) \
        + authored_cases(rows, args.seed, persons, True, AUTHORED_7, "authored-7", all_tune) \
        + ([] if args.no_held else authored_cases(rows, args.seed, persons, True, AUTHORED_8, "authored-8", all_held)) \
        + authored_cases(rows, args.seed, persons, True, AUTHORED_9, "authored-9", all_tune) \
        + ([] if args.no_held else authored_cases(rows, args.seed, persons, True, AUTHORED_10, "authored-10", all_held)) \
        + authored_cases(rows, args.seed, persons, True, AUTHORED_11, "authored-11", all_tune) \
        + ([] if args.no_held else authored_cases(rows, args.seed, persons, True, AUTHORED_12, "authored-12", all_held)) \
        + authored_cases(rows, args.seed, persons, True, AUTHORED_13, "authored-13", all_tune) \
        + authored_cases(rows, args.seed, persons, True, AUTHORED_14, "authored-14", all_tune)
    if not args.no_held and (corpora / "spam-more" / "labels.csv").exists():
        cases += held_ham_cases(corpora, args.seed, args.limit)
    tallies = run_cases(inspector, cases)
    inspector.close()

    print("== message level: \"contains PHI\" (a phi rule of the shipped rules matched)")
    print_message_table(tallies)
    if args.examples:
        for (source, split), t in sorted(tallies.items()):
            if split == "held":
                continue   # held-out misses are never printed: reading them would spend the split
            if t.misses:
                print(f"   {source}/{split} misses by form: {dict(t.misses)}")
            if t.false_rules:
                print(f"   {source}/{split} false positives by rule: {dict(t.false_rules)}")
            for line in t.examples:
                print(f"   {source}/{split} {line}")
    print("\n== identifier level (message sources; planted types are the truth)")
    for label in ("0.8", "any"):
        print_identifier_table(tallies, label)

    print("\n== identifier level, value by value (presidio-research labels; detected = reported at >= 0.8, "
          "phone/email/IP/address reported at all)")
    pres = presidio_cases(presidio)
    kinds = {"ssn", "phone", "email", "ip", "address", "dob"}
    print_value_table("presidio-research sentences", [
        ("tune", score_identifiers([c for i, c in enumerate(pres) if i % 2 == 0], icd, kinds)),
        ("read", score_identifiers([c for i, c in enumerate(pres) if i % 2 == 1], icd, kinds))])
    print_value_table("generated vectors and look-alikes (tune only)",
                      [("tune", score_identifiers(identifier_cases(rng, 300), icd, {"ssn", "mbi", "hicn", "npi", "dea"}))])
    return 0


if __name__ == "__main__":
    sys.exit(main())
