"""What a label before a number says it is: the patient's record, health plan or account number,
or a bank / card / ledger number (negative context). Taken whole from published vocabularies,
not written from our own test data:

* HL7 v2 table 0203 "Identifier Type" (also FHIR's identifier-type value set): the display names
  of the codes that identify a person in care or coverage, per family below;
* CARIN Blue Button (HL7 FHIR US) C4BBIdentifierType: `um` Unique Member ID, `pat` Patient Account Number;
* the claim forms' own field labels: UB-04 (NUBC) form locators 3a "Patient control number",
  3b "Medical/Health record number", 51 "Health plan ID", 60 "Insured's unique ID", 62
  "Insurance group number"; CMS-1500 boxes 1a "Insured's I.D. number", 9a/11 "policy group
  number", 26 "Patient's account no.";
* negative context: Microsoft Purview's "U.S. bank account number" keyword list
  (Keyword_usa_Bank_Account: checking / bank / savings / debit account, acct, #, no.) and the
  financial codes of HL7 table 0203 (BA bank account, BC bank card, ANC / AND creditor / debitor
  account, GL general ledger, CC cost center, and the card brands AM DI DS MS VS).

Each label is expanded to the ways forms and people abbreviate it: the forms print "MED. REC. #"
and "PAT. CNTL #", clinicians "MR#", "Pt ID", "Acct #", "Enc #". The two-letter HL7 codes
themselves are not labels in prose (SN is also a serial number, PN a part number, PT physical
therapy); only MRN and MR# are, as clinicians write them.

A label of the `GATED` kind names a number any business has (an account, a policy, a group, a
visit): it is a patient's only with corroboration within PROXIMITY characters (Purview's
default window): another patient label, a birth date, a clinical section label or health
information. The others name the patient's record or coverage by themselves.
"""

from __future__ import annotations

import re
from typing import Any

import ahocorasick_rs

# Purview's patternsProximity: corroborating evidence is looked for this many characters either side.
PROXIMITY = 300

# The written forms of one word of a label. "#" is the noun: number, no., #, ID, identifier.
NOUN = (r"(?:(?:i\.d\.|id)(?:\ ?(?:number|no\.?|\#))?|identifier|identification(?:\ number)?|number|num\.?|nbr\.?"
        r"|no\.?|\#)")
_FORMS = {
    "#": NOUN,
    "medical": r"med(?:ical)?\.?",
    "record": r"rec(?:ord)?s?\.?",
    "health": r"health",
    "patient": r"(?:patient|pat\.|pt\.?)(?:'s)?",
    "account": r"(?:account|acct\.?|acc\.)",
    "member": r"(?:member|mbr\.?)(?:'s)?",
    "subscriber": r"subscriber(?:'s)?",
    "insured": r"insured(?:'s)?",
    "insurance": r"ins(?:urance|\.)",
    "temporary": r"temp(?:orary|\.)?",
    "control": r"(?:control|cntl\.?|ctrl\.?)",
    "encounter": r"enc(?:ounter|\.)?",
    "workers": r"workers'?",
    "comp": r"comp(?:ensation|\.)?",
    "holder": r"holder(?:'s)?",
}

# family -> labels, each a phrase of words ("#" = the noun). Comments name the source.
RECORD = (
    "medical record #", "temporary medical record #",            # HL7 0203 MR, MRT
    "patient internal #", "patient external #",                  # PI, PT
    "living subject enterprise #", "temporary living subject #", # PE, PNT
    "person #",                                                  # PN
    "visit #",                                                   # VN
    "medical/health record #", "health record #",                # UB-04 FL 3b
    "medical record", "patient #", "chart #", "encounter #",     # as clinicians write them
)
PLAN = (
    "member #", "subscriber #", "patient medicaid #", "medicaid #",   # HL7 0203 MB, SN, MA
    "health card #", "jurisdictional health #",                        # HC, JHN
    "national health plan #", "health plan #",                         # NH; UB-04 FL 51
    "wic #", "workers comp #", "railroad retirement #",                # WC, WCN, RR
    "social beneficiary #", "beneficiary #",                           # FHIR SB
    "unique member #",                                                 # CARIN um
    "insured's unique #", "insured #",                                 # UB-04 FL 60, CMS-1500 1a
    "policy #", "policy holder contract #", "insurance #",              # UB-04 FL 60
    "group #", "insurance group #", "policy group #",                  # UB-04 FL 62, CMS-1500 9a/11
)
ACCOUNT = (
    "account #", "temporary account #",                          # HL7 0203 AN, ANT
    "guarantor internal #", "guarantor external #", "guarantor #",  # GI, GN
    "patient account #", "patient account",                      # CARIN pat, CMS-1500 26
    "patient control #",                                         # UB-04 FL 3a
    "account",                                                   # "acct 1234567" as written
)
# Labels that name a number any business has: a patient's only with corroboration nearby.
GATED = frozenset(("account #", "temporary account #", "account", "person #", "visit #", "policy #",
                   "policy holder contract #", "insurance #", "group #", "insurance group #", "policy group #"))
# Negative context: a number of these kinds is no patient identifier (Purview bank keywords, HL7 0203 financial codes).
FINANCIAL = (r"(?:checking|bank|savings|debit|credit\ card|bank\ card|creditor|debitor|brokerage|general\ ledger"
             r"|cost\ cent(?:er|re)|american\ express|amex|diner'?s\ club|discover|mastercard|visa)")


def _phrase(label: str) -> str:
    words = label.replace("/", " / ").split()
    parts = []
    for w in words:
        if w == "/":
            parts.append("/")
            continue
        parts.append(_FORMS.get(w, re.escape(w)))
    out = ""
    for i, p in enumerate(parts):
        if i and p != "/" and parts[i - 1] != "/":
            out += r"[\ \-]?"
        out += p
    return out


FAMILIES = {"mrn": RECORD, "health_plan": PLAN, "account": ACCOUNT}
# every label's pattern with its (kind, gated), longest first so "patient account #" wins over "account"
_LABELS = sorted(((label, kind) for kind, labels in FAMILIES.items() for label in labels), key=lambda x: -len(x[0]))
_GROUPS = {f"l{i}": (kind, label in GATED) for i, (label, kind) in enumerate(_LABELS)}
# as clinicians write the medical record number: case-sensitive codes
_CODES = r"MRN|(?-i:MR\ ?\#|MR\ No\.?)"
LABEL_SOURCE = "(?:" + _CODES + "|" + "|".join(f"(?P<l{i}>{_phrase(label)})" for i, (label, _) in enumerate(_LABELS)) + ")"
LABEL = re.compile(r"(?i)(?<![a-z])" + LABEL_SOURCE + r"(?![a-z])")


_KIND_OF: dict[str, tuple[str, bool]] = {}   # label as written (lower-case) -> (kind, gated)


def kind_of(match: re.Match[str] | Any | None, group: str | int = 0) -> tuple[str, bool]:
    """(kind, gated) of a LABEL match (or of the same groups inside a larger pattern, whose
    `group` is the label): looked up once per spelling."""
    if match is None:
        return "mrn", False
    key = match.group(group).lower()
    found = _KIND_OF.get(key)
    if found is None:
        found = next((_GROUPS[name] for name, value in match.groupdict().items() if value is not None and name in _GROUPS),
                     ("mrn", False))   # MRN, MR#
        if len(_KIND_OF) < 4096:
            _KIND_OF[key] = found
    return found


# Right before a number's label: a bank / card / ledger account ("checking account #", "Visa acct").
FINANCIAL_BEFORE = re.compile(r"(?i)(?<![a-z])" + FINANCIAL + r"[\ \-]?(?:account\ |acct\.?\ |card\ )?$")
# Corroboration that a number is a patient's: the patient named, a birth date, the distinctive
# words of the record and coverage labels above (literals, one Aho-Corasick pass over a window).
CORROBORATION_WORDS = ("patient", "pt.", "pt ", "pt:", "dob", "d.o.b", "date of birth", "birthdate", "birth date", "mrn",
                       "mr#", "mr #", "medical record", "med rec", "med. rec", "health record", "chart #", "chart no",
                       "chart number", "member id", "member #", "member no", "member number", "mbr id", "subscriber",
                       "insured", "guarantor", "medicaid", "medicare", "beneficiary", "encounter", "enc #",
                       "health plan", "health card", "wic", "workers comp", "workers' comp", "railroad retirement")
_CORROBORATION = ahocorasick_rs.AhoCorasick(CORROBORATION_WORDS)


def corroborated(lower: str, lo: int, hi: int) -> bool:
    """One of CORROBORATION_WORDS as a word of lower[lo:hi] (`lower`: the lower-cased text)."""
    lo = max(0, lo)
    for _, s, e in _CORROBORATION.find_matches_as_indexes(lower[lo:hi], overlapping=True):
        s += lo
        e += lo
        if (s == 0 or not lower[s - 1].isalnum()) and (e >= len(lower) or not lower[e].isalnum() or not lower[e - 1].isalnum()):
            return True
    return False


def financial_before(text: str, start: int, window: int = 40) -> bool:
    """A bank, card or ledger word right before `start` on its line: not a patient's account."""
    lo = max(0, start - window)
    nl = text.rfind("\n", lo, start)
    return FINANCIAL_BEFORE.search(text, nl + 1 if nl >= 0 else lo, start) is not None
