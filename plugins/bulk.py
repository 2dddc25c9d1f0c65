"""Bulk mail: is this message bulk, and does bulk mail meet the bulk-sender rules?

`bulk.detected` (confidence 0..1; the core's `bulk: true` condition means >= 0.5) from:
List-Id, List-Unsubscribe, Precedence: bulk|list|junk, ESP and mass-mailer fingerprints
(headers, X-Mailer), many envelope recipients in one transaction, the same body from one
sender to many recipients within a window, and marketing wording. The signals combine as a
noisy-or; mail that reads transactional (receipts, password resets, shipping notices) and
carries no marketing wording or list headers is damped well below 0.5. The detail names the
signals, never content.

For mail at or above `compliance_min_confidence` (0.5), the compliance findings:

| id | what |
|---|---|
| `bulk.unsubscribe.missing` | no List-Unsubscribe header (RFC 2369; Gmail/Yahoo bulk-sender rules) |
| `bulk.unsubscribe.no_https` | List-Unsubscribe without an https: URI (mailto: or http: only) |
| `bulk.unsubscribe.one_click_missing` | no `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058) |
| `bulk.unsubscribe.body_missing` | no visible opt-out link or instruction in the text or HTML (CAN-SPAM) |
| `bulk.postal_address.missing` | no physical postal address (street address, P.O. box, PMB) |
| `bulk.headers.fake_reply` | Re:/Fwd: subject without In-Reply-To or References (not on discussion lists) |
| `bulk.headers.display_name_domain` | the From display name names another domain than the From address |
| `bulk.headers.reply_to_domain` | Reply-To on another registrable domain, with no list or sender header explaining it |
| `bulk.text_alternative.missing` | HTML without a plain-text alternative |
| `bulk.html.image_only` | HTML with (almost) no text: under `image_only_max_words` words once rendered |

The opt-out wording is matched in English, German, French, Spanish, Italian, Dutch,
Portuguese, the Scandinavian languages and Polish (`data/bulk_phrases.yaml`), plus links
whose target reads like an opt-out (unsubscribe, optout, Mailman's listinfo page).
Postal addresses: US street addresses and P.O. boxes/PMBs are found by a cheap pattern and
confirmed with `usaddress` (a CRF address parser); UK and Canadian postcodes and continental
European street lines are recognised by pattern.

The same-body counter is in-process (`MemoryBodyCounter`), behind a two-method interface
(`BodyCounter`): a core service `services["bulk_counter"]` replaces it, e.g. with one kept in
the shared store when several relays run (not written yet). Each daemon worker process
counts on its own until then.

Settings (`plugins.settings.bulk`): `compliance_min_confidence` (0.5), `many_recipients`
(20), `same_body_recipients` (50), `same_body_window_seconds` (3600), `image_only_max_words`
(25), `phrases_file`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any, Protocol

import usaddress
import yaml

from outguard.checks import Finding, InspectContext, Message, StartupContext, hookimpl
from outguard_plugins.helpers import PhraseMatcher, psl, registrable, stop_if_late

NAME = "bulk"
PHRASES_FILE = Path(__file__).with_name("data") / "bulk_phrases.yaml"


# ---------------------------------------------------------------- same-body counter

class BodyCounter(Protocol):
    """Recipients that one sender sent one body to within a window (all relays, ideally)."""

    def add(self, sender: str, digest: str, recipients: int) -> int:
        """Record `recipients` more and return the total for (sender, digest) in the window."""
        ...


class MemoryBodyCounter:
    """In-process counter: bounded (oldest keys evicted), thread-safe, sliding window."""

    def __init__(self, window_seconds: float = 3600.0, max_keys: int = 50_000) -> None:
        self.window = window_seconds
        self.max_keys = max_keys
        self._data: OrderedDict[tuple[str, str], list[tuple[float, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, sender: str, digest: str, recipients: int, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        key = (sender.lower(), digest)
        with self._lock:
            events = [(t, n) for t, n in self._data.pop(key, []) if now - t < self.window]
            events.append((now, recipients))
            self._data[key] = events
            while len(self._data) > self.max_keys:
                self._data.popitem(last=False)
            return sum(n for _, n in events)


# ASCII digits, punctuation and white space to a space; letters and every non-ASCII byte kept
_WORD_BYTES = bytes(b if (97 <= b <= 122 or b >= 128) else 32 for b in range(256))


def body_digest(message: Message) -> str | None:
    """A digest of the text that ignores case, digits, punctuation and white space (so
    per-recipient numbers and greetings' punctuation don't split a campaign). Works on the
    UTF-8 bytes with one table (a regex substitution over the text cost 0.2-0.3 ms a message)."""
    text = "\n".join(v.lower for v in message.texts("body")) or "\n".join(v.lower for v in message.texts("html"))
    data = text.encode("utf-8", "replace").translate(_WORD_BYTES)
    norm = b" ".join(data.split())
    if len(norm) < 40:
        return None
    return hashlib.blake2b(norm, digest_size=16).hexdigest()


# ---------------------------------------------------------------- postal addresses

_STREET_SUFFIX = (r"street|st|avenue|ave|av|road|rd|boulevard|blvd|drive|dr|lane|ln|way|court|ct|place|pl|parkway|pkwy|"
                  r"highway|hwy|circle|cir|square|sq|terrace|ter|plaza|plz|trail|trl|broadway|suite|ste|floor|fl|"
                  r"center|ctr|pike|turnpike|row|alley|crescent|close|expressway|expy|freeway|fwy|route|rte")
_US_STREET = re.compile(rf"\b\d{{1,6}}(?:-\d{{1,4}})?[a-z]?\s+(?:[nsew]\.?\s+|north\s+|south\s+|east\s+|west\s+)?"
                        rf"(?:[a-z0-9.'-]+\s+){{0,4}}(?:{_STREET_SUFFIX})\b\.?", re.IGNORECASE)
_PO_BOX = re.compile(r"\b(?:p\.?\s?o\.?\s*box|post\s+office\s+box|pmb|private\s+mail\s*box|postfach|boîte\s+postale|"
                     r"apartado(?:\s+de\s+correos)?|casella\s+postale|caixa\s+postal)\s*#?\s*\d+", re.IGNORECASE)
_US_STATE_ZIP = re.compile(r"\b(?:A[LKZR]|C[AOT]|D[EC]|FL|GA|HI|I[DLNA]|K[SY]|LA|M[EDAINSOT]|N[EVHJMYCD]|O[HKR]|PA|RI|"
                           r"S[CD]|T[NX]|UT|V[TA]|W[AVIY]|PR|GU|VI|[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\.?,?\s+\d{5}(?:-\d{4})?\b")
_UK_POSTCODE = re.compile(r"\b(?:GIR\s?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s\d[ABD-HJLNP-UW-Z]{2})\b")
_CA_POSTCODE = re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b")
_EU_STREET = re.compile(r"\b[\w'-]*(?:straße|strasse|str\.|weg|platz|gasse|allee|ring|damm|ufer|laan|straat|gracht|plein|"
                        r"vej|gade|gatan|gata|veien|katu)\s+\d{1,4}[a-z]?\b|\b(?:rue|avenue|boulevard|bd|place|chemin|quai|"
                        r"via|viale|piazza|corso|calle|avenida|paseo|plaza|rua|travessa|ul\.|ulica|aleja)\s+[\w' -]{2,40}?",
                        re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_EU_POSTCODE_CITY = re.compile(r"\b(?:[A-Z]{1,2}-)?\d{4,5}\s+[A-ZÄÖÜÉÈ][\wäöüéèàçß-]+")


def _usaddress_confirms(text: str) -> bool:
    try:
        labels = {label for _, label in usaddress.parse(text)}
    except Exception:
        return False
    street = {"AddressNumber", "StreetName"} <= labels
    box = "USPSBoxID" in labels
    place = "ZipCode" in labels or {"PlaceName", "StateName"} <= labels
    return (street or box) and place


def find_postal_address(text: str) -> str | None:
    """The kind of postal address found in `text` ("us-street", "po-box", "uk", "ca", "eu"),
    or None. Looks at candidate lines only; the CRF parser confirms US candidates. Every
    form needs a digit (`\\d`) in its window, so lines without one nearby are passed over."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    digits = [_DIGIT.search(ln) is not None for ln in lines]
    for i, line in enumerate(lines):
        if not any(digits[i : i + 3]):
            continue  # every address form below needs a digit in its three-line window
        window = " ".join(lines[i : i + 3])[:300]
        if digits[i]:  # the P.O. box, US street, UK and Canadian forms all need a digit in the line itself
            if _PO_BOX.search(line):
                return "po-box"
            m = _US_STREET.search(line)
            if m:
                tail = window[m.start():]
                z = _US_STATE_ZIP.search(tail)
                if z and z.start() < 150 and _usaddress_confirms(tail[: z.end()]):
                    return "us-street"
            if _UK_POSTCODE.search(line):  # the line has a digit, so its window does
                return "uk"
            if _CA_POSTCODE.search(line):
                return "ca"
        if _EU_POSTCODE_CITY.search(window) and _EU_STREET.search(line):  # the street pattern is the slow one
            return "eu"
    return None


# ---------------------------------------------------------------- headers

_FAKE_REPLY = re.compile(r"^\s*(?:re|fwd?|aw|wg|sv|vs|tr|rif|antw|odp|enc|res)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_DOMAIN_IN_NAME = re.compile(r"(?<![\w.-])(?:[\w-]+@)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24})(?![\w-])",
                             re.IGNORECASE)
_OPTOUT_HREF = re.compile(r"unsub|opt-?_?out|optout|remove|listinfo|abmeld|desinscri|désinscri|desabon|preferences|"
                          r"afmeld|uitschrijv|baja|disiscri", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')]+", re.IGNORECASE)
_LIST_UNSUB_URI = re.compile(r"<\s*([^<>\s]+)\s*>")
_LINK_TARGET = re.compile(r" <[^<>\s]+>")
_WORD = re.compile(r"\b\w{2,}\b")


def _domain_of(addr: str) -> str:
    return addr.rsplit("@", 1)[-1].strip().strip(">").lower() if "@" in addr else ""


def _is_known_domain(host: str) -> bool:
    try:
        host = host.lower()
        return psl().privatesuffix(host, accept_unknown=False) is not None
    except Exception:
        return False


# ---------------------------------------------------------------- the check

@dataclass
class State:
    phrases: PhraseMatcher | None = None
    esp_headers: tuple[str, ...] = ()
    esp_header_match: Any = None  # the globs above as one compiled regex (per message, per header)
    mass_mailers: tuple[str, ...] = ()
    counter: Any = None
    compliance_min: float = 0.5
    many_recipients: int = 20
    same_body_recipients: int = 50
    image_only_max_words: int = 25



def make_state(settings: dict[str, Any], services: dict[str, Any] | None = None) -> State:
    path = Path(settings["phrases_file"]) if settings.get("phrases_file") else PHRASES_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    counter = (services or {}).get("bulk_counter") or MemoryBodyCounter(float(settings.get("same_body_window_seconds", 3600)))
    psl()
    return State(
        phrases=PhraseMatcher(data.get("families") or {}),
        esp_headers=tuple(str(h).lower() for h in data.get("esp_headers") or []),
        esp_header_match=re.compile("|".join(fnmatch.translate(str(h).lower()) for h in data.get("esp_headers") or [])
                                    ).match if data.get("esp_headers") else None,
        mass_mailers=tuple(str(m).lower() for m in data.get("mass_mailers") or []),
        counter=counter,
        compliance_min=float(settings.get("compliance_min_confidence", 0.5)),
        many_recipients=int(settings.get("many_recipients", 20)),
        same_body_recipients=int(settings.get("same_body_recipients", 50)),
        image_only_max_words=int(settings.get("image_only_max_words", 25)),
    )


def _noisy_or(ps: list[float]) -> float:
    out = 1.0
    for p in ps:
        out *= 1.0 - p
    return 1.0 - out


def detect(message: Message, state: State, counts: dict[str, int]) -> tuple[float, list[str]]:
    """Bulk confidence and the names of the signals that made it."""
    signals: dict[str, float] = {}
    if message.header("List-Id"):
        signals["list-id"] = 0.7
    if message.header("List-Unsubscribe"):
        signals["list-unsubscribe"] = 0.8
    prec = (message.header("Precedence") or "").strip().lower()
    if prec in ("bulk", "list", "junk"):
        signals[f"precedence {prec}"] = 0.7
    names = message.header_names()
    if state.esp_header_match is not None and any(state.esp_header_match(n) for n in names):
        signals["esp headers"] = 0.7
    mailer = " ".join(message.header_all("X-Mailer") + message.header_all("User-Agent")).lower()
    if mailer and any(m in mailer for m in state.mass_mailers):
        signals["mass mailer"] = 0.8
    n_rcpt = len(message.envelope.recipients)
    if n_rcpt >= state.many_recipients:
        signals[f"{n_rcpt} recipients"] = 0.7
    elif n_rcpt >= 5:
        signals[f"{n_rcpt} recipients"] = 0.2
    digest = body_digest(message)
    if digest and state.counter is not None and message.envelope.sender:
        total = state.counter.add(message.envelope.sender, digest, max(1, n_rcpt))
        if total >= state.same_body_recipients:
            signals[f"same body to {total} recipients"] = 0.8
    if counts.get("marketing", 0) >= 3:
        signals["marketing wording"] = 0.45
    elif counts.get("marketing", 0) >= 1:
        signals["marketing wording"] = 0.2
    if counts.get("unsubscribe", 0):
        signals["opt-out wording"] = 0.45
    confidence = _noisy_or(list(signals.values()))
    listish = any(k.startswith(("list-", "precedence")) for k in signals)
    if counts.get("transactional_head", 0) and not counts.get("marketing", 0) and not listish:
        confidence *= 0.3
        signals["transactional (damped)"] = 0.0
    return round(confidence, 3), list(signals)


def _opt_out_visible(message: Message, counts: dict[str, int], body_text: str) -> bool:
    if counts.get("unsubscribe", 0):
        return True
    for link in message.links:
        if _OPTOUT_HREF.search(link.href) or _OPTOUT_HREF.search(link.text):
            return True
    return any(_OPTOUT_HREF.search(u) for u in _URL_IN_TEXT.findall(body_text))


def header_findings(message: Message) -> list[Finding]:
    out: list[Finding] = []
    subject = message.subject
    # A discussion list (List-Post other than "NO", RFC 2369) relays members' replies, whose
    # mail programs do not always set In-Reply-To: their Re: is honest.
    discussion = any(v.strip().upper() != "NO" for v in message.header_all("List-Post"))
    if (_FAKE_REPLY.match(subject) and not discussion and not message.header("In-Reply-To")
            and not message.header("References")):
        out.append(Finding("bulk.headers.fake_reply", confidence=0.8, where=("subject",),
                           detail="reply/forward prefix without In-Reply-To or References"))
    name, addr = parseaddr(message.header("From") or "")
    from_dom = registrable(_domain_of(addr))
    if name and from_dom:
        for m in _DOMAIN_IN_NAME.finditer(name):
            host = m.group(1).lower()
            if _is_known_domain(host) and registrable(host) != from_dom:
                out.append(Finding("bulk.headers.display_name_domain", confidence=0.8, where=("header:From",),
                                   detail="From display name names another domain than the From address"))
                break
    reply_to = [a for _, a in getaddresses(message.header_all("Reply-To")) if "@" in a]
    if reply_to and from_dom:
        excused = {from_dom}
        for h in ("Sender", "Return-Path", "List-Post", "List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe",
                  "List-Archive", "Mailing-List"):
            for v in message.header_all(h):
                for m in _DOMAIN_IN_NAME.finditer(v):
                    excused.add(registrable(m.group(1)))
        if message.envelope.sender:
            excused.add(registrable(_domain_of(message.envelope.sender)))
        others = {registrable(_domain_of(a)) for a in reply_to} - excused
        if others:
            out.append(Finding("bulk.headers.reply_to_domain", confidence=0.6, count=len(others), where=("header:Reply-To",),
                               detail="Reply-To on another registrable domain than From, no list or sender header"))
    return out


def inspect(message: Message, state: State, deadline: float | None = None) -> list[Finding]:
    """Bulk confidence and, for bulk mail, the compliance findings. Between its passes over
    the text (each an uninterruptible C call), TimeoutError once `deadline` has passed."""
    if state.phrases is None:
        raise RuntimeError("bulk check used before outguard_startup")
    body_views, html_views = list(message.texts("body")), list(message.texts("html"))
    body = [v.text for v in body_views]
    html = [v.text for v in html_views]
    # subject, then the plain and the HTML text, folded (the views' own, shared with other checks)
    folded = " ".join(x for x in [" ".join(message.subject.lower().split()), *(v.folded for v in body_views),
                                  *(v.folded for v in html_views)] if x)
    counts = state.phrases.count(folded, normalised=True, deadline=deadline, check=NAME)
    stop_if_late(deadline, NAME)
    head = message.subject + "\n" + "\n".join(body or html)[:1000]
    if state.phrases.count(head, deadline=deadline, check=NAME).get("transactional", 0):
        counts["transactional_head"] = 1
    stop_if_late(deadline, NAME)
    confidence, signals = detect(message, state, counts)
    stop_if_late(deadline, NAME)
    findings: list[Finding] = []
    if confidence > 0:
        findings.append(Finding("bulk.detected", confidence=confidence, where=("header", "envelope", "body"),
                                detail="signals: " + ", ".join(signals)))
    if confidence < state.compliance_min:
        return findings
    lu = " ".join(message.header_all("List-Unsubscribe"))
    if not lu.strip():
        findings.append(Finding("bulk.unsubscribe.missing", where=("header",), detail="no List-Unsubscribe header"))
    else:
        uris = [u.lower() for u in _LIST_UNSUB_URI.findall(lu)]
        if not any(u.startswith("https:") for u in uris):
            kinds = sorted({u.split(":", 1)[0] for u in uris}) or ["no <URI>"]
            findings.append(Finding("bulk.unsubscribe.no_https", where=("header:List-Unsubscribe",),
                                    detail="List-Unsubscribe has no https: URI (has: " + ", ".join(kinds)[:60] + ")"))
    post = " ".join(message.header_all("List-Unsubscribe-Post"))
    if "list-unsubscribe=one-click" not in post.lower().replace(" ", ""):
        findings.append(Finding("bulk.unsubscribe.one_click_missing", where=("header",),
                                detail="no List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058)"))
    if not _opt_out_visible(message, counts, "\n".join(body)):
        findings.append(Finding("bulk.unsubscribe.body_missing", where=("body", "html"),
                                detail="no visible unsubscribe link or opt-out instruction"))
    stop_if_late(deadline, NAME)
    plain = "\n".join(body) if body else _LINK_TARGET.sub("", "\n".join(html))
    kind = find_postal_address(plain[-6000:]) or (find_postal_address(plain[:6000]) if len(plain) > 6000 else None)
    if kind is None and body and html:
        kind = find_postal_address(_LINK_TARGET.sub("", "\n".join(html))[-6000:])
    if kind is None:
        findings.append(Finding("bulk.postal_address.missing", where=("body", "html"), detail="no postal address found"))
    stop_if_late(deadline, NAME)
    findings += header_findings(message)
    if html and not body:
        findings.append(Finding("bulk.text_alternative.missing", where=("html",), detail="HTML without a text/plain part"))
    if html:
        words = sum(len(_WORD.findall(_LINK_TARGET.sub("", t))) for t in html)
        if words < state.image_only_max_words:
            findings.append(Finding("bulk.html.image_only", confidence=0.7, where=("html",),
                                    detail=f"HTML with {words} words of text"))
    return findings


class BulkCheck:
    """Bulk-mail compliance: unsubscribe, postal address, honest headers."""

    emits = ("bulk.detected", "bulk.headers.display_name_domain", "bulk.headers.fake_reply",
             "bulk.headers.reply_to_domain", "bulk.html.image_only", "bulk.postal_address.missing",
             "bulk.text_alternative.missing", "bulk.unsubscribe.body_missing", "bulk.unsubscribe.missing",
             "bulk.unsubscribe.no_https", "bulk.unsubscribe.one_click_missing")
    settings_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "phrases_file": {"type": ["string", "null"]},
            "same_body_window_seconds": {"type": "number", "exclusiveMinimum": 0},
            "compliance_min_confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "many_recipients": {"type": "integer", "minimum": 1},
            "same_body_recipients": {"type": "integer", "minimum": 1},
            "image_only_max_words": {"type": "integer", "minimum": 0},
        },
    }

    def __init__(self) -> None:
        self.state = State()

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        self.state = make_state(context.settings, context.services)

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        return inspect(message, self.state, getattr(context, "deadline", None))
