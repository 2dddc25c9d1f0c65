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

* ASC X12 005010 health care transactions (270/271 eligibility, 835 remittance, 837 claims):
  loop 2100C / 2010BA NM109 "Subscriber Primary Identifier" (qualifier MI "Member Identification
  Number"), 2100C REF "Subscriber Supplemental Identifier", CLM01 / CLP01 "Patient Control
  Number"; CLP07 "Payer Claim Control Number" names a claim: negative context (NEGATIVE_WORDS);
* NCPDP Telecommunication Standard D.0 (pharmacy claims): 302-C2 "Cardholder ID", 332-CY
  "Patient ID" (303-C3 "Person Code" is two or three digits: too short for a value here);
* Medicare / Medicaid wording: "Medicare Beneficiary Identifier" / "Medicare number" (CMS), the
  state Medicaid "recipient ID" and New York's "CIN" (Client Identification Number), Medi-Cal;
* VA / DoD: the VA's "ICN" (Integration Control Number, assigned by its Master Person Index), the
  DoD "EDIPI" (Electronic Data Interchange Person Identifier), "DoD ID" / "DoD benefits number"
  and HL7 0203 MI "Military ID number" (TRICARE beneficiaries);
* EHR vendor identifiers as clinicians write them (Epic EHI export glossary; Cerner, Meditech):
  "CSN" (Epic Contact Serial Number, the encounter), "HAR" (Epic Hospital Account Record), "FIN"
  (Cerner Financial Identification Number), "EMPI" / "MPI" (enterprise / master patient index),
  "enterprise ID", Meditech's "unit number", the UK "hospital number", a "case number" in a
  clinical context;
* insurance ID cards (CARIN Digital Insurance Card, NCPDP's card standard): "Rx ID", "Plan ID"
  ("ID #", "Identification No." alone are generic: see GENERIC below);
* lab requisitions: HL7 0203 ACSN "Accession ID", the specimen number (a record of the
  patient's care).

Codes written in capitals here ("CSN", "FIN", "ICN") are read in capitals only: "fin", "har" and
"cin" are words or other things in mail.

A label of the `GATED` kind names a number any business has (an account, a policy, a group, a
visit): it is a patient's only with corroboration within PROXIMITY characters (Purview's
default window): another patient label, a birth date, a clinical section label or health
information. The others name the patient's record or coverage by themselves. A `QUIET` label
(the newer, more ambiguous ones: "case #", "FIN", "unit #", "accession #") is not reported at all
without corroboration: an SEC accession number or a support case is no patient's weak identifier.

HIPAA Safe Harbor (45 CFR 164.514(b)(2)(i)(R)) also names "any other unique identifying number,
characteristic, or code". GENERIC describes such a label: 1-4 words ending in a noun of NOUN
("Clinic ID", "Badge-free Person No.") that no family above and no NEGATIVE_WORDS word claims;
identifiers.py reports the number after it only with corroboration within PROXIMITY characters,
as `phi.other_id`, or as the record / coverage family its words name (RECORD_WORDS, PLAN_WORDS).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import ahocorasick_rs

from outguard_plugins.phi.prefilter import openings

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
    "member": r"(?:member|mbr\.?|mem\.?)(?:'s)?",
    "subscriber": r"subscriber(?:'s)?",
    "insured": r"insured(?:'s)?",
    "insurance": r"ins(?:urance|\.)?",
    "temporary": r"temp(?:orary|\.)?",
    "control": r"(?:control|cntl\.?|ctrl\.?)",
    "encounter": r"enc(?:ounter|\.)?",
    "workers": r"workers'?",
    "comp": r"comp(?:ensation|\.)?",
    "holder": r"holder(?:'s)?",
    "cardholder": r"card[\ \-]?holder(?:'s)?",
    "recipient": r"recipient(?:'s)?",
    "medi-cal": r"medi[\ \-]?cal",
    "dod": r"(?:dod|d\.o\.d\.?)",
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
    "accession #", "specimen #",                                 # HL7 0203 ACSN; lab requisitions
    "CSN", "CSN #", "contact serial #",                          # Epic Contact Serial Number
    "EMPI", "EMPI #", "MPI", "MPI #", "enterprise #",             # enterprise / master patient index
    "enterprise master patient index #", "master patient index #",
    "unit #", "hospital #", "case #",                            # Meditech unit no., UK hospital no., clinical case
    "ICN", "ICN #", "integration control #",                     # VA Integration Control Number
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
    "subscriber primary #", "subscriber supplemental #",               # X12 2100C / 2010BA NM109, REF
    "cardholder #",                                                    # NCPDP 302-C2
    "medicare beneficiary #", "medicare #",                            # CMS (an MBI value is phi.mbi)
    "medicaid recipient #", "recipient #", "CIN", "CIN #", "medi-cal #",  # state Medicaid
    "EDIPI", "EDIPI #", "dod #", "dod benefits #", "military #",       # DoD, HL7 0203 MI
    "rx id", "plan #",                                                 # insurance ID cards: Rx ID, Plan ID
    "member",                                                          # "Group 12345 Member 884412345", as cards print it
)
ACCOUNT = (
    "account #", "temporary account #",                          # HL7 0203 AN, ANT
    "guarantor internal #", "guarantor external #", "guarantor #",  # GI, GN
    "patient account #", "patient account",                      # CARIN pat, CMS-1500 26
    "patient control #",                                         # UB-04 FL 3a
    "account",                                                   # "acct 1234567" as written
    "HAR", "HAR #", "hospital account #",                        # Epic Hospital Account Record
    "FIN", "FIN #", "financial #",                               # Cerner Financial Identification Number
)
# Labels that name a number any business has: a patient's only with corroboration nearby.
# QUIET ones (the more ambiguous) are not reported at all without it.
QUIET = frozenset(("accession #", "specimen #", "CSN", "CSN #", "contact serial #", "MPI", "MPI #", "enterprise #",
                   "unit #", "hospital #", "case #", "ICN", "ICN #", "recipient #", "CIN", "CIN #",
                   "dod #", "dod benefits #", "military #", "plan #", "HAR", "HAR #", "FIN", "FIN #", "financial #"))
GATED = frozenset(("account #", "temporary account #", "account", "member", "person #", "visit #", "policy #",
                   "policy holder contract #", "insurance #", "group #", "insurance group #", "policy group #")) | QUIET
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
        if w.isupper() and w.isalpha():
            parts.append(f"(?-i:{w})")   # a code in capitals: read in capitals only
            continue
        parts.append(_FORMS.get(w, re.escape(w)))
    out = ""
    for i, p in enumerate(parts):
        if i and p != "/" and parts[i - 1] != "/":
            out += r"[\ \-]?"
        out += p
    return out


class Kind(NamedTuple):
    """What a label makes of the number after it."""

    kind: str      # mrn, health_plan, account
    gated: bool    # a patient's only with corroboration nearby
    quiet: bool    # without corroboration not reported at all


FAMILIES = {"mrn": RECORD, "health_plan": PLAN, "account": ACCOUNT}
# every label's pattern with its (kind, gated), longest first so "patient account #" wins over "account"
_LABELS = sorted(((label, kind) for kind, labels in FAMILIES.items() for label in labels), key=lambda x: -len(x[0]))
_GROUPS = {f"l{i}": Kind(kind, label in GATED, label in QUIET) for i, (label, kind) in enumerate(_LABELS)}
# as clinicians write the medical record number: case-sensitive codes
_CODES = r"MRN|(?-i:MR\ ?\#|MR\ No\.?)"

_HEADS: dict[str, tuple[str, ...]] = {}   # label -> the literal openings of its pattern


def label_source(opening: str | None = None) -> str:
    """The alternation of every label (named groups l0, l1, ... as kind_of reads them), or only of
    those a match starting with the literal `opening` can be: one regex of 150 labels costs its
    engine every alternative at each position tried, the few that share an opening a tenth of it."""
    def fits(label: str) -> bool:
        if opening is None:
            return True
        heads = _HEADS.get(label)
        if heads is None:
            heads = _HEADS[label] = tuple(openings(_phrase(label)) or [""])
        return any(h.startswith(opening) or opening.startswith(h) for h in heads)
    alts = [f"(?P<l{i}>{_phrase(label)})" for i, (label, _) in enumerate(_LABELS) if fits(label)]
    return "(?:" + "|".join([_CODES, *alts]) + ")"


LABEL_SOURCE = label_source()
_LABEL = re.compile(r"(?i)(?<![a-z])" + LABEL_SOURCE + r"(?![a-z])")


class _Label:
    """LABEL.fullmatch(cell) for the table scan's header cells: a cell that starts with none of the
    labels' literal openings is no label, found without trying 150 alternatives on it."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._heads = tuple(openings(pattern.pattern) or ("",))

    def fullmatch(self, cell: str) -> re.Match[str] | None:
        if not cell.lower().startswith(self._heads):
            return None
        return self.pattern.fullmatch(cell)


LABEL = _Label(_LABEL)


_KIND_OF: dict[str, Kind] = {}   # label as written -> its Kind
_CODE = Kind("mrn", False, False)   # MRN, MR#


def kind_of(match: re.Match[str] | Any | None, group: str | int = 0) -> Kind:
    """(kind, gated, quiet) of a LABEL match (or of the same groups inside a larger pattern, whose
    `group` is the label): looked up once per spelling (as written: "FIN" is a code, "fin" no label)."""
    if match is None:
        return _CODE
    key = match.group(group)
    found = _KIND_OF.get(key)
    if found is None:
        found = next((_GROUPS[name] for name, value in match.groupdict().items() if value is not None and name in _GROUPS),
                     _CODE)
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


# ---- GENERIC: "any other unique identifying number" (Safe Harbor R), as a short label names it.
# The noun that ends such a label (NOUN without "identification number"'s two-word forms), then the value:
# >= 6 characters of capitals, digits and dashes, >= 4 of them digits (identifiers.py checks the count).
# The short nouns are taken with the character after them ("no " is the noun, "not" no opening at all).
GENERIC_NOUN = r"(?:i\.d\.|identifier|identification|number|(?:id|num|nbr|no|code)[.:\ \t\#=\-]|\#)"
GENERIC = re.compile(
    r"(?i:(?<![a-z0-9])(?P<noun>" + GENERIC_NOUN + r"))(?:[ \t]*\#)?(?:[ \t]*(?:[:=][ \t]*|-[ \t]+|is[ \t]+))?[ \t]*"
    r"(?P<value>(?-i:[A-Z0-9][A-Z0-9\-]{4,22}[A-Z0-9]))(?![\w\-]|\.\w)")
# Label words before the noun: up to 4 words, with spaces, hyphens or a slash between them, on the noun's line.
GENERIC_WORDS = re.compile(r"(?:[A-Za-z][A-Za-z'.]{0,24}(?:[ \t]*[/\-][ \t]*|[ \t]+)){1,4}$")
GENERIC_WORDS_WINDOW = 80
# A noun that is a label by itself ("ID: 12345678" on an ID card); "No." or "#" alone is not.
GENERIC_ALONE = frozenset(("id", "i.d.", "identifier", "identification"))
# The abbreviations of the labels' words: any other word ending in a dot ends a sentence, and the label with it.
ABBREVIATIONS = frozenset(("med.", "rec.", "recs.", "pat.", "pt.", "acct.", "acc.", "mbr.", "ins.", "temp.", "cntl.",
                           "ctrl.", "enc.", "comp.", "hosp.", "dept.", "no.", "num.", "nbr.", "i.d.", "d.o.d."))
# Words that end the label when read backwards: prose, not a field name ("please send your ID").
STOP_WORDS = frozenset((
    "a", "an", "the", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their", "is", "are",
    "was", "were", "be", "been", "has", "have", "had", "and", "or", "but", "to", "for", "with", "from", "by", "on",
    "in", "at", "as", "if", "please", "send", "sent", "use", "using", "enter", "give", "gave", "see", "new", "old",
    "same", "any", "all", "each", "which", "what", "whose", "it", "me", "us", "you", "we", "i", "he", "she", "they",
    "not", "no", "yes", "re", "fw", "fwd", "attn", "cc", "dear", "hi", "hello", "thanks", "under", "about", "than"))
# Negative context for a generic label: any of these words makes it something else's number (the
# exclusion words of identifiers.OTHER_LABEL, the claim and payer numbers of X12 835 CLP07, and the
# numbers any office handles: orders, shipments, software, money, telephony, buildings, people at work).
NEGATIVE_WORDS = frozenset((
    "invoice", "inv", "order", "tracking", "track", "confirmation", "conf", "reference", "ref", "po", "p.o.",
    "purchase", "claim", "claims", "payer", "payor", "ticket", "case", "serial", "part", "item", "sku", "product",
    "transaction", "txn", "receipt", "booking", "reservation", "account", "acct", "contract", "deal", "quote",
    "shipment", "shipping", "waybill", "routing", "loan", "check", "cheque", "voucher", "batch", "lot", "job",
    "project", "docket", "license", "licence", "certificate", "permit", "employee", "employer", "staff", "badge",
    "vin", "vehicle", "plate", "customer", "client", "vendor", "supplier", "store", "branch", "model", "flight",
    "container", "meter", "pin", "passcode", "password", "access", "security", "verification", "authorization",
    "auth", "approval", "promo", "promotion", "coupon", "discount", "gift", "reward", "rewards", "loyalty", "tax",
    "ein", "tin", "vat", "duns", "cage", "naics", "sic", "cusip", "isin", "ticker", "bank", "card", "credit",
    "debit", "checking", "savings", "swift", "iban", "aba", "wire", "payment", "billing", "bill", "statement",
    "budget", "cost", "ledger", "gl", "fund", "portfolio", "trade", "trading", "ferc", "filing", "sec",
    "registration", "error", "status", "response", "return", "exit", "zip", "postal", "area", "country", "dial",
    "conference", "meeting", "bridge", "room", "suite", "floor", "building", "bldg", "phone", "telephone", "tel",
    "fax", "cell", "mobile", "pager", "extension", "ext", "message", "msg", "bug", "issue", "incident", "request",
    "change", "version", "build", "release", "revision", "rev", "patch", "commit", "file", "document", "doc", "form",
    "page", "section", "chapter", "line", "row", "column", "table", "figure", "fig", "isbn", "issn", "doi", "patent",
    "asset", "inventory", "stock", "imei", "mac", "ip", "host", "port", "user", "username", "login", "session",
    "course", "class", "student", "seat", "gate", "pnr", "lottery", "rma", "warranty", "station", "well", "pipeline",
    "lease", "unit", "interconnect", "nomination", "nom", "trial", "study", "protocol", "grant", "award", "proposal",
    "contact", "callback", "call", "cpt", "icd", "hcpcs", "ndc", "npi", "dea", "upin", "ptan", "provider",
    "physician", "prescriber", "pharmacy", "facility", "taxonomy", "group", "ssn", "social", "ss", "dob", "birth",
    "date", "time", "year", "age", "catalog", "catalogue", "cat", "publication", "volume", "vol", "edition", "series",
    "paper", "abstract", "submission", "report", "journal", "bulletin", "newsletter", "archive", "list", "subscription"))
# Words of a generic label that name its family (the distinctive words of the RECORD and PLAN labels above).
RECORD_WORDS = frozenset(("record", "records", "rec", "chart", "patient", "patient's", "pt", "encounter", "enc",
                          "visit", "admission", "medical", "med", "clinic", "hospital", "mrn"))
PLAN_WORDS = frozenset(("member", "member's", "mbr", "subscriber", "subscriber's", "insured", "insured's",
                        "insurance", "ins", "beneficiary", "enrollee", "coverage", "policy", "plan", "medicaid",
                        "medicare", "cardholder", "dependent"))


def _codes() -> dict[str, tuple[str, ...]]:
    """Each code in capitals (lower-cased) -> the first words of the other labels it opens ("fin" ->
    "financial"): where the text is not in capitals, only those are worth trying."""
    codes = {w.lower() for ls in FAMILIES.values() for label in ls for w in label.split() if w.isupper() and w.isalpha()}
    return {c: tuple(sorted({label.split()[0] for ls in FAMILIES.values() for label in ls
                             if label.split()[0].startswith(c) and not label.split()[0].isupper()})) for c in codes}


CODES = _codes()


def generic_label(words: list[str]) -> str | None:
    """The family a generic label's words name ("mrn", "health_plan") or "other_id"; None when a
    negative word makes the number something else's."""
    kind = "other_id"
    for w in words:
        if w in NEGATIVE_WORDS:
            return None
        if kind == "other_id":
            if w in RECORD_WORDS:
                kind = "mrn"
            elif w in PLAN_WORDS:
                kind = "health_plan"
    return kind
