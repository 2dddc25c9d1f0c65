#!/usr/bin/env python3
"""Accuracy and cost of the PHI check (not a timed test: run it, read the figures).

    PYTHONSAFEPATH=1 .venv/bin/python bench/phi_accuracy.py [--seed 7] [--messages 600]

Prints
1. precision / recall per identifier type, counting a value as detected when the check
   reports it with confidence >= 0.8 (the default rules' threshold), on
   - the labelled sentences of presidio-research's synthetic PII set (real templates:
     SSN, phone, email, IP, dates of birth, names),
   - generated vectors: valid SSN/MBI/HICN/NPI/DEA/NDC values in varied wording, and
     look-alikes that must not count (SSA-invalid or published SSNs, order numbers shaped
     like SSNs, NPIs and DEA numbers with a wrong check digit, MBIs with excluded
     letters, tracking, card and phone numbers);
2. the message-level "contains PHI" verdict (the default rules decide: encrypt or
   quarantine by a phi rule) on a labelled set of messages built from those templates:
   PHI = patient identifier + health information (conditions from the CMS ICD-10-CM list,
   drugs from MedlinePlus-documented names, labs with values); non-PHI = identifiers alone,
   health talk alone, invoices, tracking mails, signatures;
3. the false "contains PHI" rate on the SpamAssassin ham folders;
4. CPU time of the PHI check per message (5 KB of real ham text, no statistical model):
   median and p95, and the process's peak memory.

Needs ../shared/corpora (presidio-research and spamassassin).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import random
import resource
import statistics
import string
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from outguard.core.config import load_config
from outguard.core.message import Envelope, parse_message
from outguard.pipeline import Inspector
from outguard_plugins.phi import check, identifiers
from outguard_plugins.phi.validators import ICD10CM, MBI_LETTERS

PROJECT = Path(__file__).resolve().parent.parent
CORPORA = PROJECT.parent / "shared" / "corpora"
PRESIDIO = CORPORA / "pii-presidio-research" / "synth_dataset_v2.json"
HAM = [CORPORA / "spamassassin" / d for d in ("easy-ham-1", "easy-ham-2", "hard-ham-1")]
THRESHOLD = 0.8


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


def presidio_cases() -> list[tuple[str, list[tuple[str, str]]]]:
    data = json.loads(PRESIDIO.read_text())
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
    if kind == 0:   # identifiers without health information
        return f"Hi,\n\n{identifier_sentence(rng, presidio, who)}\nStart date is Monday; payroll needs the form by Friday.\n"
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


def as_eml(body: str, i: int, rcpt: str = "office@partner.example", form: str = "plain") -> bytes:
    head = f"From: staff@clinic.example\nTo: {rcpt}\nSubject: message {i}\nMessage-ID: <{i}@bench>\nMIME-Version: 1.0\n"
    if form == "html":
        html = "<html><body>" + "".join(f"<p>{p}</p>" for p in body.replace("&", "&amp;").replace("<", "&lt;").split("\n\n")) \
            + "</body></html>"
        return (head + f"Content-Type: text/html; charset=utf-8\n\n{html}\n").encode()
    if form == "csv":   # the message text stays in the body, its first paragraph goes into a CSV attachment
        first, _, rest = body.partition("\n\n")
        row = '"' + first.replace('"', "'").replace("\n", " ") + '"'
        return (head + 'Content-Type: multipart/mixed; boundary="bb"\n\n--bb\nContent-Type: text/plain\n\n'
                f"{rest or 'See the attached list.'}\n--bb\nContent-Type: text/csv; name=list.csv\n"
                f"Content-Disposition: attachment; filename=list.csv\n\nrecord\n{row}\n--bb--\n").encode()
    return (head + f"Content-Type: text/plain; charset=utf-8\n\n{body}\n").encode()


def matched_phi_rules(result) -> list[str]:
    """The PHI rules (rules/phi.yaml, minus the sender's own [secure] request) that matched."""
    return [r for r in result.decision.rule_ids
            if r.startswith(("phi-", "unreadable-attachment")) or r == "subject-secure-encrypt" and False]


# ---------------------------------------------------------------- main

def pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r


def ham_texts(limit_bytes: int = 5 * 1024) -> list[str]:
    texts = []
    for folder in HAM[:2]:
        for path in sorted(folder.iterdir()):
            msg = email.message_from_bytes(path.read_bytes().split(b"\n", 1)[1], policy=email.policy.default)
            part = msg.get_body(("plain",))
            if part is not None:
                try:
                    texts.append(part.get_content())
                except Exception:
                    continue
    joined = "\n".join(texts)
    return [joined[i:i + limit_bytes] for i in range(0, len(joined) - limit_bytes, limit_bytes)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--messages", type=int, default=600, help="PHI and non-PHI messages each")
    ap.add_argument("--timing-messages", type=int, default=1000)
    ap.add_argument("--spacy-model", help="also run names through this spaCy pipeline (package or path)")
    args = ap.parse_args()
    if not PRESIDIO.exists() or not HAM[0].is_dir():
        print(f"shared corpora not found under {CORPORA}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    icd = ICD10CM()
    presidio = json.loads(PRESIDIO.read_text())

    # 1. identifiers
    print(f"== identifiers (detected = reported with confidence >= {THRESHOLD}; phone, fax, email, IP, address: reported at all)")
    for label, cases, kinds in (
            ("presidio-research sentences (labels: SSN, phone, email, IP, street address, DOB)", presidio_cases(),
             {"ssn", "phone", "email", "ip", "address", "dob"}),
            ("generated vectors and look-alikes", identifier_cases(rng, 400), {"ssn", "mbi", "hicn", "npi", "dea"})):
        stats = score_identifiers(cases, icd, kinds)
        print(f"-- {label}: {len(cases)} texts")
        print(f"   {'type':<12}{'labelled':>9}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>8}")
        for kind in sorted(stats):
            c = stats[kind]
            p, r = pr(c["tp"], c["fp"], c["fn"])
            print(f"   {kind:<12}{c['tp'] + c['fn']:>9}{c['tp']:>6}{c['fp']:>6}{c['fn']:>6}{p:>11.3f}{r:>8.3f}")

    # 2. message level
    overrides: dict = {"rules": {"local": [], "override": []}}
    if args.spacy_model:
        overrides["plugins"] = {"settings": {"phi": {"spacy_model": args.spacy_model, "require_spacy_model": True}}}
    cfg = load_config(Path("/dev/null"), overrides)
    inspector = Inspector.create(cfg)
    conditions, drugs = health_pool()
    labelled = [(phi_message(rng, presidio, conditions, drugs), True) for _ in range(args.messages)]
    labelled += [(clean_message(rng, presidio, conditions, drugs), False) for _ in range(args.messages)]
    tp = fp = fn = tn = misses = 0
    for i, (body, is_phi) in enumerate(labelled):
        rcpt = "someone@gmail.com" if i % 10 == 0 else "office@partner.example"
        form = ("plain", "plain", "html", "csv")[i % 4]
        result = inspector.inspect(as_eml(body, i, rcpt, form), Envelope("staff@clinic.example", (rcpt,)))
        said = bool(matched_phi_rules(result))
        tp += said and is_phi
        fp += said and not is_phi
        fn += (not said) and is_phi
        tn += (not said) and not is_phi
        if said != is_phi and misses < 5:
            misses += 1
            print(f"   {'missed' if is_phi else 'false'} ({form}): "
                  f"{sorted((f.id, round(f.confidence, 2)) for f in result.findings if f.id.startswith('phi'))}")
    p, r = pr(tp, fp, fn)
    print(f"\n== message-level \"contains PHI\" (default rules): {len(labelled)} messages")
    print(f"   tp {tp}  fp {fp}  fn {fn}  tn {tn}   precision {p:.3f}  recall {r:.3f}")

    # 3. SpamAssassin ham
    print("\n== SpamAssassin ham: false \"contains PHI\"")
    total_ham = total_flagged = 0
    for folder in HAM:
        files = sorted(folder.iterdir())
        flagged = Counter()
        for path in files:
            raw = path.read_bytes().split(b"\n", 1)[1]
            result = inspector.inspect(raw, Envelope(), envelope_from_headers=True)
            for rule in matched_phi_rules(result):
                flagged[rule] += 1
            flagged["_any"] += bool(matched_phi_rules(result))
        total_ham += len(files)
        total_flagged += flagged["_any"]
        rules = ", ".join(f"{k} {v}" for k, v in sorted(flagged.items()) if k != "_any") or "none"
        print(f"   {folder.name:<12} {flagged['_any']:>4} / {len(files):<5} = {flagged['_any'] / len(files):.2%}  ({rules})")
    print(f"   all          {total_flagged:>4} / {total_ham:<5} = {total_flagged / total_ham:.2%}")

    # 4. CPU per message and memory
    state = check._state
    texts = ham_texts()[: args.timing_messages]
    times = []
    for i, text in enumerate(texts):
        message = parse_message(as_eml(text, i), Envelope("staff@clinic.example", ("office@partner.example",)))
        started = time.process_time()
        check.inspect_message(message, state)
        times.append((time.process_time() - started) * 1000)
    times.sort()
    phi_times = []
    for i, (body, _) in enumerate(labelled[:500]):
        message = parse_message(as_eml(body, i), Envelope("staff@clinic.example", ("office@partner.example",)))
        started = time.process_time()
        check.inspect_message(message, state)
        phi_times.append((time.process_time() - started) * 1000)
    phi_times.sort()
    big = "\n".join(texts)[: 1024 * 1024]
    message = parse_message(as_eml(big, 0), Envelope("staff@clinic.example", ("office@partner.example",)))
    started = time.process_time()
    check.inspect_message(message, state)
    per_mb = time.process_time() - started
    model = f"spaCy pipeline {args.spacy_model}" if args.spacy_model else "no statistical model"
    print(f"\n== PHI check CPU time ({model}), {len(texts)} messages of 5 KB real ham text")
    print(f"   median {statistics.median(times):.2f} ms   p95 {times[int(len(times) * 0.95)]:.2f} ms   "
          f"max {times[-1]:.2f} ms")
    print(f"   labelled messages (short, dense): median {statistics.median(phi_times):.2f} ms; "
          f"1 MB of text: {per_mb * 1000:.0f} ms")
    print(f"   peak RSS of this process (lexicons, ICD-10-CM list, rules, corpora): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    # a fresh process (ru_maxrss would carry this one's peak across exec): /proc's per-image figures
    probe = ("import re, time\n"
             "def kb(key): return int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
             "r0 = kb('VmRSS'); t = time.process_time()\n"
             "from outguard_plugins.phi import check; s = check.build_state({})\n"
             "import gc; gc.collect()\n"
             "print(r0, kb('VmRSS'), kb('VmHWM'), time.process_time() - t)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    r0, r1, hwm, secs = out.stdout.split()
    print(f"   PHI check start-up in a fresh process: {float(secs):.1f} s CPU, resident state "
          f"+{(int(r1) - int(r0)) / 1024:.0f} MB (lexicons, ICD-10-CM list, free-mail list), "
          f"peak while loading {int(hwm) / 1024:.0f} MB")
    inspector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
