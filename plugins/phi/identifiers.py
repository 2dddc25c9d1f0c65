"""Find identifier candidates with one `regex` pass over raw text, then validate them.

spaCy's tokenizer splits `123-45-6789` into five tokens (docs/postfix-and-pymilter.md#trap-4), so every
identifier is found here on raw text. Context keywords are found in a second pass and
matched by character distance.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import ahocorasick_rs
import regex

from outguard_plugins.phi import labels, sections
from outguard_plugins.phi import validators as v
from outguard_plugins.phi.deadline import NONE as NO_DEADLINE
from outguard_plugins.phi.deadline import Deadline
from outguard_plugins.phi.prefilter import SHARED, Anchored, openings

_B = r"(?<![\w@.\-/])"    # left boundary: not inside a longer token
_E = r"(?![\w@\-]|[./]\w)"   # right boundary (a sentence-ending dot is fine)
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\.?"

# One alternation; the group name says what kind of candidate it is. Order matters where
# shapes overlap (HICN before SSN, MBI before DEA, phone before bare digit runs).
# Compiled by the stdlib engine: the same matches (checked on 6,000 corpus texts), a quarter less time.
IDENTIFIERS = re.compile(
    r"(?=[\d(+A-Z][\dA-Z\-. )/])" + _B + r"(?:"   # cheap first test: most positions fail here
    r"(?P<hicn>\d{3}-?\d{2}-?\d{4}-?[A-HJKMTW][A-Z0-9]?)" + r"(?![\w\-])|"
    r"(?P<ssn>\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})" + _E + r"|"
    r"(?P<ndc>\d{4,5}-\d{3,4}-\d{1,2})" + _E + r"|"
    r"(?P<phone>(?:\+?1[ .\-]?)?(?:\(\d{3}\)\ ?|\d{3}[ .\-])\d{3}[ .\-]\d{4})" + _E + r"|"
    r"(?P<date>\d{1,2}[/\-.]\d{1,2}[/\-.](?:19|20)?\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}"
    r"|\d{1,2}\ " + _MONTHS + r",?\ (?:19|20)\d{2})" + _E + r"|"
    r"(?P<ip>(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3})" + _E + r"|"
    r"(?P<digits>\d{9,10})" + _E + r"|"
    r"(?P<mbi>[1-9][A-Z][A-Z0-9]\d-?[A-Z][A-Z0-9]\d-?[A-Z]{2}\d{2})" + _E + r"|"
    r"(?P<dea>[A-Z][A-Z9]\d{7})" + _E + r"|"
    r"(?P<icd>[A-TV-Z]\d[0-9A-Z]\.[0-9A-Z]{1,4}|[A-TV-Z]\d{2})" + _E + r"|"
    r"(?P<street>\d{1,6}\ (?:[NSEW]\.?\ )?(?:[A-Z][a-z]+\ ){1,3}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Circle|Parkway|Pkwy|Highway|Hwy)\b\.?)"
    r")",
)

# "March 3, 1950": looked for only right after a date-of-birth keyword.
MONTH_DATE = regex.compile(r"[^\n\d]{0,25}?(?P<date>" + _MONTHS + r"\ \d{1,2}(?:st|nd|rd|th)?,?\ (?:19|20)\d{2})" + _E)
_DOB_TRIGGER = re.compile(r"dob|d\.o\.b|birth|born")
_PATIENT_WORDS = re.compile(r"patient|pt\b|member|resident|client|beneficiary|home phone|cell|mobile|contact")

# A phone or email labelled as the patient's own, right before it: "Patient phone:", "patient's cell #".
PATIENT_PHONE = regex.compile(r"(?i:(?<![a-z])(?:patient(?:'s)?|pt(?:'s)?|member(?:'s)?)\ (?:home\ |cell\ |mobile\ |contact\ )?"
                              r"(?:phone|tel|telephone|cell|mobile|number|contact|ph)(?:\ (?:number|no\.?|\#))?\s*[:\#\-]?\s*"
                              r"|contact\ number\ for\ the\ patient\s*:?\s*)$", regex.VERSION0)
# A form field for a personal line, heading its line: "Home phone (617) ...", "Cell: ...", "Mobile #".
# A home number is a person's own; a cell or mobile one is when it stands in a block of a
# person's record (a name, DOB, record or member number, a clinical section label within
# RECORD_BLOCK characters), not in a signature. Below a sign-off ("Regards,", "-- ") either is the writer's and stays weak.
PERSONAL_PHONE = regex.compile(r"(?i:(?:^|\n)[ \t]*(?P<line>home|cell|mobile|personal)(?:\ (?:phone|tel|telephone|number|ph))?"
                               r"(?:\ (?:number|no\.?|\#))?\s*[:\#\-]?[ \t]*)$", regex.VERSION0)
# The same labels inside a sentence ("... about Home phone (617) ...", "DOB 1/2/1960, cell: ..."):
# a person's own line too, unless the writer says it is theirs or a workplace's ("my cell",
# "office phone"). It counts as a heading does: once health information stands in the mail.
PERSONAL_PHONE_INLINE = regex.compile(r"(?i:(?<![a-z])(?P<owner>(?:my|our|work|office|business|company)\ )?"
                                      r"(?P<line>home|cell|mobile|personal)(?:\ (?:phone|tel|telephone|number|ph))?"
                                      r"(?:\ (?:number|no\.?|\#))?\s*[:\#\-]?[ \t]*)$", regex.VERSION0)
RECORD_BLOCK = 150
_RECORD_WORDS = re.compile(r"(?<![a-z])(?:dob|d\.o\.b|date of birth|birth ?date|mrn|ssn|patient|name|member|medicare"
                           r"|account|acct|record|chart)(?![a-z])")
SIGN_OFF = re.compile(r"^[ \t]*(?:--|_{3,}|-{3,}|(?:thanks|thank you|regards|best|best regards|kind regards|sincerely"
                      r"|cheers|respectfully)[,!.]?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
PATIENT_EMAIL = regex.compile(r"(?i:(?<![a-z])(?:patient(?:'s)?|pt(?:'s)?|member(?:'s)?)\ (?:e-?mail|email\ address)"
                              r"\s*[:\-]?\s*)$", regex.VERSION0)

# "writing from his email (x@...)": a person's own address, who counts beside health information (HEADING)
PERSONAL_EMAIL = regex.compile(r"(?i:(?<![a-z])(?:his|her|their)\ (?:own\ |personal\ )?(?:e-?mail|email\ address)"
                               r"(?:\ is)?\s*[:\-(]?\s*)$", regex.VERSION0)

# Emails in a pass of their own: the engine finds the "@" first, which a shared alternation cannot.
EMAIL = regex.compile(r"[\w.+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}")

# An MRN / patient / member / account number named by a label right before it (labels.py: the
# HL7 table 0203, CARIN and claim-form vocabularies).
_AFTER_LABEL = r"\s*(?:is\s+|[:\#=]\s*|-\s*|\(\s*){0,2}(?P<value>(?=[A-Z0-9\-]*\d{4})[A-Z0-9][A-Z0-9\-]{3,18}[A-Z0-9])(?![\w\-])"
ANCHORED = regex.compile(r"(?i:\b(?P<kw>" + labels.LABEL_SOURCE + r"))" + _AFTER_LABEL, regex.VERSION0)

# Where an anchored number may start: the literal openings of ANCHORED itself (prefilter.openings:
# every label added to labels.py is covered without a second list), found in the lower-cased text
# by the check's shared Aho-Corasick pass (prefilter.SHARED: a pass of their own cost more than
# that whole pass), then matched in place. `_ANCHOR_TRIGGER` is the reference the tests hold it to.
_ANCHOR_OPENINGS = openings(ANCHORED.pattern)
assert _ANCHOR_OPENINGS, "ANCHORED must open with literal labels"
_ANCHOR_TRIGGER = ahocorasick_rs.AhoCorasick(_ANCHOR_OPENINGS, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
_ANCHOR_INDEX = {key: i for i, key in enumerate(_ANCHOR_OPENINGS)}
_ANCHOR_MEMBER = SHARED.join(_ANCHOR_OPENINGS, spans=True)
_IN_URL = frozenset("&?/%=_")
# ANCHORED with only the labels that can start with each opening (the same matches there): one
# regex of 150 labels costs the engine every alternative at each position tried. Each is compiled
# the first time its opening is met (all 56 at import cost `outguard check` 0.1 s of start-up).


class _ByOpening:
    """`_BY_OPENING[i]`: the pattern of opening i, compiled on first use and kept."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.compiled: dict[int, regex.Pattern[str]] = {}

    def __getitem__(self, i: int) -> regex.Pattern[str]:
        pattern = self.compiled.get(i)
        if pattern is None:
            pattern = regex.compile(r"(?i:\b(?P<kw>" + labels.label_source(self.keys[i]) + r"))" + _AFTER_LABEL,
                                    regex.VERSION0)
            self.compiled[i] = pattern
        return pattern


_BY_OPENING = _ByOpening(_ANCHOR_OPENINGS)


# openings that are codes in capitals ("CSN", "FIN"), by index, with the other labels they open
_CODE_OPENINGS = {i: labels.CODES[o] for i, o in enumerate(_ANCHOR_OPENINGS) if o in labels.CODES}
# Each of these patterns is tried only where one of its literal openings stands (prefilter.py:
# one Aho-Corasick pass finds them; the same matches at a tenth of the cost or less).
_PATIENT_WORDS_AT = Anchored(_PATIENT_WORDS)
_RECORD_WORDS_AT = Anchored(_RECORD_WORDS)


def anchored_matches(text: str, lower: str | None = None) -> Iterator[regex.Match[str]]:
    lower = lower if lower is not None else text.lower()
    if len(lower) != len(text):   # a few Unicode letters change length when lower-cased
        yield from ANCHORED.finditer(text)
        return
    pos = cursor = 0
    # the leftmost-longest, non-overlapping triggers: no opening is a prefix of another (openings()
    # keeps the shortest), so one at most starts at a place, and the leftmost one past the last is next
    for start, end in SHARED.spans(lower, _ANCHOR_MEMBER):
        if start < cursor:
            continue
        cursor = end
        key = _ANCHOR_INDEX[lower[start:end]]
        if start < pos or (start and (lower[start - 1].isalnum() or lower[start - 1] in _IN_URL)):
            continue   # inside a word, or a URL's parameter ("&mrn=4473...") rather than a label
        others = _CODE_OPENINGS.get(key)
        if others is not None and not text[start:end].isupper() and not any(lower.startswith(w, start) for w in others):
            continue   # "fin", "Har": a code is read in capitals only
        m = _BY_OPENING[key].match(text, start)
        if m:
            pos = m.end()
            yield m


KEYWORDS = regex.compile(
    r"(?i:(?<!\w)(?:"
    r"(?P<ssn>SSN|SSN\#|SS\#|S\.S\.N\.?|social\ security|soc\.?\ sec\.?|SS\ no\.?|TIN)"
    r"|(?P<medicare>MBI|medicare|HICN|HIC\ ?\#|beneficiary|claim\ number)"
    r"|(?P<npi>NPI|national\ provider|provider\ id)"
    r"|(?P<dea>DEA|controlled\ substance|registration\ (?:no|number|\#))"
    r"|(?P<dob>DOB|D\.O\.B\.?|date\ of\ birth|birth\ ?date|born|birthday|b\.\ ?d\.)"
    r"|(?P<fax>fax|facsimile)"
    r"|(?P<icd>ICD(?:-?10(?:-?CM)?)?|dx|diagnos[ie]s|diagnosis\ code|code)"
    r"|(?P<ndc>NDC|national\ drug\ code)"
    r"|(?P<patient>patient|pt\.?|member|resident|client|beneficiary|home\ phone|cell|mobile|contact)"
    r")(?!\w))",
    regex.VERSION0,
)
_KEYWORDS_AT = Anchored(KEYWORDS)

# Within this many characters of a keyword, a candidate counts as "near" it.
NEAR = 60

# Negative context (as DLP exclusion rules): a label right before a number that says what it
# is. "Invoice 658-86-9145" is an invoice number, "Member ID AB1234563" a member number: neither
# is reported as an SSN or a DEA number. Matched against at most LABEL_WINDOW characters before
# the candidate, on its own line, so the cost per candidate is bounded.
LABEL_WINDOW = 40
OTHER_LABEL = regex.compile(
    r"(?i:(?<![a-z])(?P<label>invoice|inv|order|tracking|confirmation|conf|reference|ref|po|p\.o\.|purchase\ order"
    r"|claim|ticket|case|serial|part|item|sku|transaction|txn|receipt|booking|reservation|account|acct|member"
    r"|subscriber|policy|group|contract|deal|quote|shipment|waybill|routing|loan|check|cheque|voucher|batch|lot"
    r"|job|project|docket|license|licence|certificate|permit|employee|badge|vin|customer|client\ id|store|model"
    r"|flight|container|meter|pin|record|chart|mrn|visit|encounter|guarantor)"
    r"(?:\ ?(?:number|num|nbr|no\.?|\#|id|code|key))?"
    # "claim number with State Mutual is ...": whose number it is, between the label and its value
    r"(?:\ (?:with|from|for|at|on|of)\ [\w&.'\-\ ]{1,30}?(?=\s*(?::|is\s)))?"
    r"\s*(?:[:\#=]\s*|-\s*|is\s+)?)$",
    regex.VERSION0)
_OTHER_LABEL_AT = Anchored(OTHER_LABEL)
# what the label makes of the number, where it is an identifier kind of its own
_LABEL_KIND = {"account": "account", "acct": "account", "member": "health_plan", "subscriber": "health_plan",
               "policy": "health_plan", "group": "health_plan", "record": "mrn", "chart": "mrn", "mrn": "mrn",
               "visit": "mrn", "encounter": "mrn", "guarantor": "account"}


def other_label(text: str, start: int, lower: str | None = None) -> str | None:
    """The label right before `start` that names the number as something else (lower-cased), if any."""
    lo = max(0, start - LABEL_WINDOW)
    nl = text.rfind("\n", lo, start)
    m = _OTHER_LABEL_AT.search(text, lower, nl + 1 if nl >= 0 else lo, start)
    return m.group("label").lower() if m else None


# confirm(lo, hi): does text[lo:hi] hold health information?
Confirm = Callable[[int, int], bool]


@dataclass(frozen=True)
class Hit:
    kind: str          # ssn, mbi, hicn, npi, dea, ndc, icd10, dob, phone, fax, email, ip, address, zip, mrn, ...
    value: str         # the raw value: stays inside the plugin
    start: int
    end: int
    confidence: float
    keyword: str | None = None   # canonical keyword group name, never message text


class Keywords:
    """Keyword positions of one text, found lazily block by block around candidates (a full
    keyword pass costs more than the identifier pass itself). Each block of the text is
    scanned at most once and a lookup reads only the blocks of its window, so the cost of a
    message stays linear in its size however many candidates it holds."""

    _MARGIN = 30    # longest keyword, so one straddling a block edge is still seen whole
    _BLOCK = 256

    def __init__(self, text: str, lower: str | None = None) -> None:
        self.text = text
        self.lower = lower   # text.lower(), when the caller has it: keywords are then found by their openings
        self._done = bytearray(max(1, -(-len(text) // self._BLOCK)))
        self._at: dict[str, dict[int, list[tuple[int, int]]]] = {}   # group -> block -> spans starting there

    def _scan(self, lo: int, hi: int) -> None:
        n, size = len(self.text), self._BLOCK
        lo, hi = min(max(0, lo), n), min(n, hi)
        top = len(self._done) - 1
        b, last = min(lo // size, top), min(max(lo, hi - 1) // size, top)
        while b <= last:
            if self._done[b]:
                b += 1
                continue
            first = b
            while b <= last and not self._done[b]:
                self._done[b] = 1
                b += 1
            start, stop = first * size, min(n, b * size)
            for m in _KEYWORDS_AT.finditer(self.text, self.lower, max(0, start - self._MARGIN), min(n, stop + self._MARGIN)):
                if m.lastgroup and start <= m.start() < stop:   # a span belongs to the block it starts in
                    self._at.setdefault(m.lastgroup, {}).setdefault(m.start() // size, []).append(m.span())

    def near(self, kind: str, start: int, end: int, before: int = NEAR, after: int = NEAR) -> bool:
        lo, hi = start - before - self._MARGIN, end + after + 1
        self._scan(lo, hi)
        blocks = self._at.get(kind)
        if not blocks:
            return False
        for b in range(max(0, lo) // self._BLOCK, hi // self._BLOCK + 1):
            for s, e in blocks.get(b, ()):
                if s - after <= end and e + before >= start:
                    return True
        return False

    def anywhere(self, kind: str) -> bool:
        self._scan(0, len(self.text))
        return bool(self._at.get(kind))


_DIGIT_RUN = re.compile(r"\d+")
_NOT_DIGIT = re.compile(r"\D")


def plausible_birth_date(value: str) -> bool:
    digits = _DIGIT_RUN.findall(value)   # stdlib re with a compiled pattern: `regex.findall` compiles per call
    years = [int(d) for d in digits if len(d) == 4]
    if years:
        return 1900 <= years[0] <= _dt.date.today().year
    return True


def _nanp(value: str) -> bool:
    d = _NOT_DIGIT.sub("", value)
    if len(d) == 11 and d[0] == "1":
        d = d[1:]
    return len(d) == 10 and d[0] in "23456789" and d[3] in "23456789" and d[1:3] != "11"


# where a quoted or forwarded message starts: what stands below it is that message's, not the writer's signature
QUOTE_HEADER = re.compile(r"^[ \t>]*(?:from:[ \t]|-{2,}[ \t]*(?:original|forwarded) message|on [^\n]{0,120}wrote:)",
                          re.MULTILINE | re.IGNORECASE)
MAX_BOUNDARIES = 64   # sign-offs and quote headers looked at per text


_RULE_LINE = re.compile(r"[ \t]*(?:--|_{3,}|-{3,})[ \t]*$")
SIGNATURE_LINE = 100   # a signature's lines are short; a rule above a longer line separates a pasted note


def _prose_follows(text: str, m: re.Match[str]) -> bool:
    """A rule line ("-----") with a line of prose below it: a forwarded or pasted note, no signature."""
    if not _RULE_LINE.match(m.group()):
        return False
    nxt = text[m.end():m.end() + 600].lstrip("\n")
    line = nxt.split("\n", 1)[0]
    return len(line) > SIGNATURE_LINE


class SignOff:
    """Where a text's sign-off lines ("Regards,", "-- ") start, looked for at the first question: what
    stands below one, up to the next quoted or forwarded message's header ("From: ...", "On ... wrote:"),
    is the writer's own (a signature's number, a colleague's name); a forwarded patient's words are not."""

    _last: tuple[tuple[str, SignOff], ...] = ()
    KEEP = 2   # texts whose marks are kept (the view being read and the one before it)

    def __init__(self, text: str) -> None:
        self._text = text
        self._bounds: list[int] | None = None   # sorted starts; a sign-off's is even-tagged (2 * pos), a quote's odd

    @classmethod
    def of(cls, text: str) -> SignOff:
        """The SignOff of `text`, shared by the check's passes over the same text (its marks read once)."""
        for seen, signed in cls._last:
            if seen is text:
                return signed
        signed = cls(text)
        cls._last = ((text, signed), *cls._last[: cls.KEEP - 1])
        return signed

    def below(self, s: int) -> bool:
        """`s` is at or below a sign-off, before the next quoted message's header."""
        if self._bounds is None:
            text = self._text
            marks = [2 * m.start() for m in itertools.islice(SIGN_OFF.finditer(text), MAX_BOUNDARIES)
                     if not _prose_follows(text, m)]
            # a quote header matters only below a sign-off: looked for from the first one on
            marks += [2 * m.start() + 1 for m in itertools.islice(QUOTE_HEADER.finditer(text, marks[0] // 2), MAX_BOUNDARIES)] \
                if marks else []
            self._bounds = sorted(marks)
        i = bisect.bisect_right(self._bounds, 2 * s) - 1
        return i >= 0 and self._bounds[i] % 2 == 0


def scan(text: str, icd: v.ICD10CM | None = None, kw: Keywords | None = None, lower: str | None = None,
         clock: Deadline = NO_DEADLINE, confirm: Confirm | None = None) -> Iterator[Hit]:
    """Every validated identifier in `text`, with a confidence from its context. `confirm(lo, hi)`
    says whether text[lo:hi] holds health information (corroborates an account or policy number)."""
    lower = lower if lower is not None else text.lower()
    kw = kw or Keywords(text, lower)
    # phone, email and street address go from weak to less weak next to a patient word; most
    # views have none, and then no keyword window is scanned for them at all
    patientish = _PATIENT_WORDS_AT.search(lower, lower) is not None
    signature_at = SignOff.of(text).below   # looked for at the first personal-line phone

    def patient_near(s: int, e: int, before: int) -> bool:
        return patientish and kw.near("patient", s, e, before=before, after=0)

    for m in IDENTIFIERS.finditer(text):
        clock.tick()
        kind = m.lastgroup
        value = m.group()
        s, e = m.span()
        if kind in ("ssn", "digits", "hicn", "mbi", "dea", "phone"):
            label = other_label(text, s, lower)
            # a Medicare claim number is a HICN: "claim" names it, it does not exclude it
            if label is not None and not (kind == "hicn" and label == "claim"):
                continue
        if kind in ("ssn", "digits"):
            if kind == "digits" and len(value) == 10:
                if v.npi_valid(value) and kw.near("npi", s, e):
                    yield Hit("npi", value, s, e, 0.95, "npi")
                continue
            digits = value.replace("-", "").replace(" ", "")
            if not v.ssn_valid(digits):
                continue
            if kw.near("ssn", s, e):
                yield Hit("ssn", value, s, e, 0.95, "ssn")
            elif kw.anywhere("ssn"):
                yield Hit("ssn", value, s, e, 0.85 if kind == "ssn" else 0.6, "ssn")
            elif kind == "ssn":
                yield Hit("ssn", value, s, e, 0.6)
            # a bare nine-digit run without an SSN keyword is an order number, a zip+4, ...
        elif kind == "hicn":
            if v.hicn_valid(value):
                conf = 0.95 if kw.near("medicare", s, e) or kw.near("ssn", s, e) else 0.7
                yield Hit("hicn", value, s, e, conf, "medicare" if conf > 0.9 else None)
        elif kind == "mbi":
            if v.mbi_valid(value):
                near = kw.near("medicare", s, e)
                yield Hit("mbi", value, s, e, 0.95 if near else 0.75, "medicare" if near else None)
        elif kind == "dea":
            if v.dea_valid(value):
                near = kw.near("dea", s, e)
                yield Hit("dea", value, s, e, 0.95 if near else 0.7, "dea" if near else None)
        elif kind == "ndc":
            if v.ndc_valid(value):
                near = kw.near("ndc", s, e)
                yield Hit("ndc", value, s, e, 0.9 if near else 0.5, "ndc" if near else None)
        elif kind == "icd":
            if icd is not None and icd.valid(value):
                near = kw.near("icd", s, e, before=40, after=10)
                if near or "." in value:
                    yield Hit("icd10", value, s, e, 0.9 if near else 0.7, "icd" if near else None)
        elif kind == "date":
            if kw.near("dob", s, e, before=40, after=0) and plausible_birth_date(value):
                yield Hit("dob", value, s, e, 0.95, "dob")
        elif kind == "phone":
            if _nanp(value):
                if kw.near("fax", s, e, before=30, after=5):
                    yield Hit("fax", value, s, e, 0.5, "fax")
                elif PATIENT_PHONE.search(text, max(0, s - 40), s):
                    yield Hit("phone", value, s, e, 0.85, "patient")
                elif (line := PERSONAL_PHONE.search(text, max(0, s - 30), s)) and not signature_at(s) and \
                        (line.group("line").lower() == "home" or
                         _RECORD_WORDS_AT.search(lower, lower, max(0, s - RECORD_BLOCK), e + RECORD_BLOCK) or
                         sections.STRONG_LABEL_AT.search(lower, lower, max(0, s - RECORD_BLOCK), e + RECORD_BLOCK)):
                    yield Hit("phone", value, s, e, 0.8, "patient")
                elif line and not signature_at(s):
                    # "Cell: ..." heading its line outside a signature, no record block around it: a
                    # person's own line, which counts once health information stands in the mail
                    yield Hit("phone", value, s, e, 0.7, "heading")
                elif (inline := PERSONAL_PHONE_INLINE.search(text, max(0, s - 40), s)) and not inline.group("owner") \
                        and not signature_at(s):
                    yield Hit("phone", value, s, e, 0.7, "heading")
                else:
                    patient = patient_near(s, e, 40)
                    yield Hit("phone", value, s, e, 0.7 if patient else 0.5, "patient" if patient else None)
        elif kind == "ip":
            yield Hit("ip", value, s, e, 0.4)
        elif kind == "street":
            patient = patient_near(s, e, 60)
            yield Hit("address", value, s, e, 0.7 if patient else 0.5, "patient" if patient else None)
    if len(lower) == len(text):
        for t in _DOB_TRIGGER.finditer(lower):
            m = MONTH_DATE.match(text, t.end())
            if m is None:
                continue
            s, e = m.span("date")
            if kw.near("dob", s, e, before=40, after=0) and plausible_birth_date(m.group("date")):
                yield Hit("dob", m.group("date"), s, e, 0.95, "dob")
    if "@" in text:
        for m in EMAIL.finditer(text):
            s, e = m.span()
            if PATIENT_EMAIL.search(text, max(0, s - 30), s):
                yield Hit("email", m.group(), s, e, 0.85, "patient")
                continue
            if PERSONAL_EMAIL.search(text, max(0, s - 40), s):
                yield Hit("email", m.group(), s, e, 0.7, "heading")
                continue
            patient = patient_near(s, e, 40)
            yield Hit("email", m.group(), s, e, 0.7 if patient else 0.4, "patient" if patient else None)
    corroboration = Corroboration(lower, confirm)
    claimed: set[int] = set()   # where a labelled value starts: the generic label pass leaves it alone
    for m in anchored_matches(text, lower):
        kind, gated, quiet = labels.kind_of(m, "kw")
        value = m.group("value")
        s, e = m.span("value")
        claimed.add(s)
        if sum(c.isdigit() for c in value) < 4:
            continue
        if kind == "health_plan" and (v.mbi_valid(value) or v.hicn_valid(value)) and kw.near("medicare", s, e):
            continue   # "Medicare number: 1EG4-TE5-MK73" is reported as the MBI it is
        conf = 0.9
        if gated:
            if labels.financial_before(text, m.start()):
                continue   # a bank, card or ledger account: no patient's
            if quiet:
                if not corroboration.near(s, e, health=False):
                    continue   # an SEC accession number, a support case, a compressor unit: not even a weak identifier
            elif not corroboration.near(s, e):
                conf = 0.5   # any business has account and policy numbers: reported, never enough alone
        yield Hit(kind, value, s, e, conf, kind)
    yield from generic_hits(text, lower, claimed, corroboration, clock)


# Confidence of a generic labelled identifier with corroboration (the PHI rule counts >= 0.8).
GENERIC_CONFIDENCE = 0.85
_GENERIC_AT = Anchored(labels.GENERIC)
_NOT_AN_ID = re.compile(r"\d{1,4}-\d{1,2}-\d{1,4}|\(?\d{3}\)?-?\d{3}-\d{4}|1-?\d{3}-\d{3}-\d{4}")   # a date, a phone
_WORD = re.compile(r"[a-z][a-z'.]*")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")


def generic_hits(text: str, lower: str, claimed: set[int], corroboration: Corroboration,
                 clock: Deadline = NO_DEADLINE) -> Iterator[Hit]:
    """HIPAA Safe Harbor (R), "any other unique identifying number": a number after a short label
    of its own (labels.GENERIC) that no family and no negative word claims, reported only with
    corroboration that it is a person's nearby (a patient word, a birth date, a record or coverage
    label, a clinical section): health words beside a pipeline's "Unit ID" make it no patient's."""
    for m in _GENERIC_AT.finditer(text, lower):
        clock.tick()
        s, e = m.span("value")
        value = m.group("value")
        ns = m.start("noun")
        if s in claimed or sum(c.isdigit() for c in value) < 4 or _NOT_AN_ID.fullmatch(value) \
                or (ns and text[ns - 1] in _IN_URL):
            continue   # a family's label took it; a date or phone; a URL's parameter ("?id=...")
        if v.mbi_valid(value) or v.hicn_valid(value) or (_SSN_SHAPE.fullmatch(value) and v.ssn_valid(value.replace("-", ""))):
            continue   # the validated passes above report it as what it is
        noun = lower[ns:m.end("noun")].rstrip(": \t#=-")
        nl = text.rfind("\n", max(0, ns - labels.GENERIC_WORDS_WINDOW), ns)
        lo = nl + 1 if nl >= 0 else max(0, ns - labels.GENERIC_WORDS_WINDOW)
        before = labels.GENERIC_WORDS.search(lower, lo, ns)
        whole = before is not None and (before.start() == 0 or not lower[before.start() - 1].isalnum())
        words = _WORD.findall(before.group()) if before is not None and whole else []
        for i in range(len(words) - 1, -1, -1):   # the label ends at prose or at a sentence's end ("Patient. ID")
            if words[i].rstrip(".") in labels.STOP_WORDS or (words[i].endswith(".") and words[i] not in labels.ABBREVIATIONS):
                words = words[i + 1:]
                break
        if not words and noun.rstrip(".") not in labels.GENERIC_ALONE:
            continue   # "No. 12345678", "# 44521": no label says what it is
        kind = labels.generic_label([w.rstrip(".") for w in words] + [noun.rstrip(".")])
        if kind is None or labels.financial_before(text, before.start() if before and words else ns):
            continue
        # a person's number: health words alone make no pipeline's "Unit ID" a patient's, but a label
        # whose words name a record or coverage ("Ins ID", "Enrollee ID") says whose it is
        if corroboration.near(s, e, health=kind != "other_id"):
            yield Hit(kind, value, s, e, GENERIC_CONFIDENCE, kind)


class Corroboration:
    """Evidence that a number is a patient's, near it: the patient named, a birth date, a record or
    coverage label (labels.CORROBORATION_WORDS) or a clinical section label, looked up per block
    of the text (each block read at most once, so many account numbers cost no rescans), or
    (`confirm`, the check's health lexicon) health information within labels.PROXIMITY characters."""

    _BLOCK = 256
    _MARGIN = 40   # longer than any word looked for: one straddling a block edge is still seen whole

    def __init__(self, lower: str, confirm: Confirm | None = None) -> None:
        self.lower = lower
        self.confirm = confirm
        self._blocks: dict[int, bool] = {}
        self._last: tuple[int, int] = (-1, -1)
        self._last_found = False

    def _block(self, b: int) -> bool:
        found = self._blocks.get(b)
        if found is None:
            lo, hi = max(0, b * self._BLOCK - self._MARGIN), (b + 1) * self._BLOCK + self._MARGIN
            found = self._blocks[b] = labels.corroborated(self.lower, lo, hi) or bool(sections.labels(self.lower[lo:hi])[0])
        return found

    def near(self, s: int, e: int, health: bool = True) -> bool:
        """Evidence within labels.PROXIMITY characters; `health=False`: a person's only (patient
        words, a birth date, a record or coverage label, a clinical section), not the lexicon's."""
        lo, hi = max(0, s - labels.PROXIMITY), min(len(self.lower), e + labels.PROXIMITY)
        span = (lo // self._BLOCK, hi // self._BLOCK)
        if span != self._last:   # numbers line after line share their blocks
            self._last, self._last_found = span, any(self._block(b) for b in range(span[0], span[1] + 1))
        return self._last_found or (health and self.confirm is not None and self.confirm(lo, hi))
