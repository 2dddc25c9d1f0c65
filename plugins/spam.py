"""Spam-like phrasing: one `spam.phrasing` finding with a score and the top reasons.

Mailbox providers score a sending IP by the spamminess of its mail, so copy that reads
like spam hurts every other message from the same relay. The check computes a few dozen
features of the text and the markup and combines them linearly:

* phrase families (urgency, money, "free", guarantees, miracle claims, calls to action,
  compliance claims, credit, prizes, work-from-home, pharma, advance-fee, ...): the
  families live in `data/spam_phrases.yaml` and are matched in one pass of an
  Aho-Corasick automaton (ahocorasick-rs) over the whole text, on word boundaries;
* structure: all-caps and exclamation density, shouting subjects, money amounts and
  percentages, link text that names another domain than its target, URL shorteners,
  links to bare IP addresses, many links, HTML without a plain-text part, HTML with little text.

The weights are learned, not hand-picked: `bench/train_spam_weights.py` fits a logistic
regression on the calibration half of the SpamAssassin public corpus and writes
`data/spam_weights.yaml` (users may tune it, or point `weights_file` at their own). The
score is the model's log-odds mapped linearly so that **5 is the tag threshold** (ham
false positives about 0.5 % on the calibration half) and **8 the hold threshold** (about
0.1 %); the shipped rules use those two numbers.

Those features explain a score but do not generalise to senders the project never saw, so
the shipped score blends them with a text model over hashed words and word pairs learned from
three corpora of unrelated senders (`spam_model`, `data/spam_text_model.bin`, written by
`bench/train_spam_model.py`); the blend and its 5/8 mapping come from that file, calibrated on
its training corpora only; a text too short to carry evidence (under the model's `min_evidence`
features) has its text-model part shrunk toward the typical training ham. Without a text model the phrasing log-odds
alone are mapped as above.

The detail names feature families and counts only ("money x3, caps 41%", "text model 0.93"),
never message text.

Settings (`plugins.settings.spam`): `weights_file`, `phrases_file`, `model_file` (paths replacing
the shipped ones), `min_score` (report only at or above it; default 2.5, so ordinary mail carries no finding).
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from outguard.checks import Finding, InspectContext, Message, StartupContext, hookimpl
from outguard_plugins.helpers import PhraseMatcher, psl, registrable, stop_if_late

from . import spam_model

NAME = "spam"
DATA = Path(__file__).with_name("data")
PHRASES_FILE = DATA / "spam_phrases.yaml"
WEIGHTS_FILE = DATA / "spam_weights.yaml"


def url_host(href: str) -> str:
    href = href.strip()
    if href.lower().startswith("www."):
        href = "http://" + href
    try:
        host = urlsplit(href).hostname or ""
    except ValueError:
        return ""
    return host.lower()


_DOMAIN_TEXT = re.compile(r"^(?:https?://)?(?:[\w-]+@)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24})(?:[/:?#]\S*)?$",
                          re.IGNORECASE)
_URL = re.compile(r"\bhttps?://([^/\s<>\"')]+)", re.IGNORECASE)
_IP_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?$")
_UPPER = string.ascii_uppercase.encode()     # counted by _letters_and_upper (as re's [A-Z] would, 50x faster)
_LOWER = string.ascii_lowercase.encode()
_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
_MONEY = re.compile(r"[$£€]\s?\d|\d\s?(?:usd|eur|dollars)\b", re.IGNORECASE)
_PERCENT = re.compile(r"\d\s?%")
# lines whose first character other than white space is ">": what (?m)^\s*> finds, on "\n" + text
# (a literal first, so re jumps from line break to line break: 5x faster)
_QUOTED = re.compile(r"\n\s*>")
_LINK_TARGET = re.compile(r" <[^<>\s]+>")  # what htmltext appends after a link's text
_SUBJECT_ADV = re.compile(r"^\W*(?:adv|ad|advertisement)\b\W", re.IGNORECASE)
# A tracking token stuck on the end of a subject ("... rates available! hsdpr", "... wife! 27283").
_SUBJECT_TOKEN = re.compile(r"(?:[\s!?.]\d{5,}|[!?.]\s+[a-z]{5,}|\s[A-Z]{7,}|\s(?=\S*\d)(?=\S*[a-z])(?=\S*[A-Z])\S{6,})\s*$")


def _log(x: float) -> float:
    return math.log1p(max(0.0, x))


def link_text_mismatch(text: str, href: str) -> bool:
    """The visible text of a link names a domain other than the link's target."""
    m = _DOMAIN_TEXT.match(text.strip())
    if not m:
        return False
    target = url_host(href)
    if not target or href.lower().startswith("mailto:"):
        return False
    return registrable(m.group(1)) != registrable(target)


@dataclass
class Model:
    weights: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    tag_logit: float = 0.0
    hold_logit: float = 1.0

    def logit(self, features: dict[str, float]) -> float:
        return self.bias + sum(self.weights.get(k, 0.0) * v for k, v in features.items())

    def score(self, logit: float) -> float:
        """5 at the tag threshold, 8 at the hold threshold, linear in the log-odds."""
        span = (self.hold_logit - self.tag_logit) or 1.0
        return 5.0 + 3.0 * (logit - self.tag_logit) / span

    @classmethod
    def load(cls, path: Path) -> Model:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        cal = data.get("calibration") or {}
        return cls(weights={str(k): float(v) for k, v in (data.get("weights") or {}).items()},
                   bias=float(data.get("bias", 0.0)), tag_logit=float(cal.get("tag_logit", 0.0)),
                   hold_logit=float(cal.get("hold_logit", 1.0)))


class Features:
    """Feature extraction, shared by the check and the training script."""

    def __init__(self, phrases_file: Path = PHRASES_FILE) -> None:
        data = yaml.safe_load(phrases_file.read_text(encoding="utf-8")) or {}
        self.matcher = PhraseMatcher(data.get("families") or {})
        self.shorteners = frozenset(str(s).lower() for s in data.get("shorteners") or [])

    def names(self) -> list[str]:
        return [f"phrase.{f}" for f in self.matcher.families] + [
            "caps_letters", "caps_words", "subject_caps", "subject_exclaim", "exclaim", "money_amounts", "percents",
            "links", "urls_in_text", "link_text_mismatch", "shortener", "ip_link", "html_only", "html_little_text",
            "quoted_lines", "short_text", "subject_adv", "subject_token", "subject_money",
        ]

    def extract(self, message: Message, deadline: float | None = None) -> dict[str, float]:
        """The features of `message`. Each pass over the text is one C call that cannot be
        interrupted (about 0.2 s over 10 MB): between them, stop once `deadline` has passed."""
        def late() -> None:
            stop_if_late(deadline, NAME)

        subject = message.subject
        body_views = list(message.texts("body"))
        body = [v.text for v in body_views]
        html = [_LINK_TARGET.sub("", v.text) if " <" in v.text else v.text for v in message.texts("html")]
        content = "\n".join(body or html)  # the plain part when there is one, else the rendered HTML
        whole = subject + "\n" + content
        f: dict[str, float] = {}
        late()
        phrased = _folded(subject, [v.folded for v in body_views]) if body else whole
        for fam, n in self.matcher.count(phrased, normalised=bool(body), deadline=deadline, check=NAME).items():
            f[f"phrase.{fam}"] = _log(n)
        late()
        letters, upper = _letters_and_upper(content)
        late()
        words, caps_words = _word_counts(content)
        late()
        if letters >= 40:
            f["caps_letters"] = upper / letters
        if words >= 10:
            f["caps_words"] = caps_words / words
        s_letters, s_upper = _letters_and_upper(subject)
        if s_letters >= 8 and s_upper / s_letters > 0.6:
            f["subject_caps"] = 1.0
        if "!" in subject:
            f["subject_exclaim"] = 1.0
        if _SUBJECT_ADV.match(subject):
            f["subject_adv"] = 1.0
        if _SUBJECT_TOKEN.search(subject):
            f["subject_token"] = 1.0
        if _could_be_money(subject) and _MONEY.search(subject) or "%" in subject and _PERCENT.search(subject):
            f["subject_money"] = 1.0
        late()
        f["exclaim"] = _log(100.0 * whole.count("!") / max(words, 20))
        f["money_amounts"] = _log(_money_amounts(whole))
        late()
        f["percents"] = _log(len(_findall(_PERCENT, whole)) if "%" in whole else 0)
        late()
        hosts = [url_host(link.href) for link in message.links]
        body_text = "\n".join(body)
        text_hosts = _text_hosts(body_text) if "://" in body_text else []
        late()
        all_hosts = [h for h in hosts + text_hosts if h]
        f["links"] = _log(len(message.links))
        f["urls_in_text"] = _log(len(text_hosts))
        f["link_text_mismatch"] = _log(sum(1 for link in message.links if link_text_mismatch(link.text, link.href)))
        f["shortener"] = _log(sum(1 for h in all_hosts if h in self.shorteners or registrable(h) in self.shorteners))
        f["ip_link"] = _log(sum(1 for h in all_hosts if _IP_HOST.match(h)))
        if html and not body:
            f["html_only"] = 1.0
        if html and sum(_word_counts(t)[0] for t in html) < 25:
            f["html_little_text"] = 1.0
        late()
        lines = content.count("\n") + 1
        f["quoted_lines"] = len(_QUOTED.findall("\n" + content)) / lines if lines and ">" in content else 0.0
        if words < 30:
            f["short_text"] = 1.0
        return {k: v for k, v in f.items() if v}


def _folded(subject: str, folded_texts: list[str]) -> str:
    """What PhraseMatcher.count folds `subject + "\n" + "\n".join(texts)` to, from the texts' views'
    own folded forms (`TextView.folded`: the bulk check has made them already): a line break is white space and stops
    str.lower's one context rule (final sigma), so folding the parts and joining them with a
    space gives the same string."""
    return " ".join(x for x in (" ".join(subject.lower().split()), *folded_texts) if x)


def _ascii_twin(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` with re.ASCII: on ASCII-only text it finds exactly the same (\\w, \\b, \\d, \\s
    and IGNORECASE only differ past ASCII), 1.1-1.7x faster."""
    return re.compile(pattern.pattern, (pattern.flags & ~re.UNICODE) | re.ASCII)


_ASCII_TWIN = {p: _ascii_twin(p) for p in (_WORD, _MONEY, _PERCENT, _URL)}


def _findall(pattern: re.Pattern[str], text: str) -> list[Any]:
    """`pattern.findall(text)`, by its ASCII twin when the text is ASCII (str.isascii is O(1))."""
    return (_ASCII_TWIN[pattern] if text.isascii() else pattern).findall(text)


def _words(text: str) -> list[str]:
    return _findall(_WORD, text)


# ASCII letters kept, the other word characters of re.ASCII's \w (digits, "_") a "0", the rest a space
_WORD_RUNS = bytes(c if 65 <= c <= 90 or 97 <= c <= 122 else 48 if 48 <= c <= 57 or c == 95 else 32 for c in range(256))


def _word_counts(text: str) -> tuple[int, int]:
    """(len(_words(text)), how many of them are all capitals). A match of `_WORD` is a run of word
    characters that is all letters, 3 or more: on ASCII text, the runs left once every other byte
    is a space, counted without a string each (0.75x the regex's time on 5 KB)."""
    if not text.isascii():
        found = _words(text)
        return len(found), sum(map(str.isupper, found))
    alpha = list(filter(bytes.isalpha, text.encode("ascii").translate(_WORD_RUNS).split()))
    lengths = list(map(len, alpha))
    caps = list(map(len, filter(bytes.isupper, alpha)))  # a run of letters is upper case when every letter is
    return len(alpha) - lengths.count(1) - lengths.count(2), len(caps) - caps.count(1) - caps.count(2)


# On lower-cased ASCII text: what the ASCII twin of `_URL` finds, lower-cased. It opens with a
# literal, so re skips to each "h" instead of trying every position (5x faster); the look-behind
# is `_URL`'s \b.
_URL_LOWER = re.compile(r"h(?<=\bh)ttps?://([^/\s<>\"')]+)", re.ASCII)
_CURRENCY_WORD = re.compile(r"(?:usd|eur|dollars)\b", re.ASCII)
_DOLLAR_AMOUNT = re.compile(r"\$\s?\d", re.ASCII)  # `_MONEY`'s first branch on ASCII text
_ASCII_DIGITS = frozenset("0123456789")
_ASCII_SPACE = frozenset(" \t\n\r\f\v")  # re.ASCII's \s


def _text_hosts(text: str) -> list[str]:
    """The hosts of the http(s) URLs written in `text`, lower-cased: `_URL`'s groups."""
    if text.isascii():
        return _URL_LOWER.findall(text.lower())
    return [h.lower() for h in _URL.findall(text)]


def _money_amounts(text: str) -> int:
    """len(_MONEY.findall(text)), cheaper on ASCII text (where "$" is the only sign), counting
    each branch by a search that opens with a literal:

    * every "$", a space or none, a digit is a match of the first branch (nothing else can
      hold a "$");
    * a match of the second branch holds one digit, right before its currency word or a space
      before it: so it is one currency word with such a digit, unless that digit already ended
      a match of the first branch ("$5 usd" is one amount)."""
    if not _could_be_money(text):
        return 0
    if not text.isascii():
        return len(_findall(_MONEY, text))
    n = len(_DOLLAR_AMOUNT.findall(text)) if "$" in text else 0
    lower = text.lower()
    for m in _CURRENCY_WORD.finditer(lower):
        d = _digit_before(lower, m.start())
        if d >= 0 and not (d and lower[d - 1] == "$" or d > 1 and lower[d - 1] in _ASCII_SPACE and lower[d - 2] == "$"):
            n += 1
    return n


def _digit_before(text: str, p: int) -> int:
    r"""Where `\d\s?` ending at `p` starts its digit (re.ASCII), or -1."""
    if p and text[p - 1] in _ASCII_DIGITS:
        return p - 1
    if p > 1 and text[p - 1] in _ASCII_SPACE and text[p - 2] in _ASCII_DIGITS:
        return p - 2
    return -1


def _letters_and_upper(text: str) -> tuple[int, int]:
    """How many characters of `text` are ASCII letters, and how many ASCII upper case: what
    len(re.findall("[A-Za-z]", text)) and "[A-Z]" give, from one encoding, no list of strings."""
    raw = text.encode("ascii", "ignore")
    rest = raw.translate(None, _UPPER)
    return len(raw) - len(rest.translate(None, _LOWER)), len(raw) - len(rest)


def _could_be_money(text: str) -> bool:
    """False only where `_MONEY` cannot match: no currency sign and none of its words in any case
    (re's IGNORECASE also takes U+017F LONG S for "s", checked over every code point)."""
    if "$" in text or "£" in text or "€" in text or "\u017f" in text:
        return True
    lower = text.lower()
    return "usd" in lower or "eur" in lower or "dollars" in lower


FAMILY_LABEL = "phrase."


def reasons(model: Model, features: dict[str, float], top: int = 4) -> list[str]:
    """The features that pushed the score up most, as safe labels (names and counts)."""
    contrib = sorted(((model.weights.get(k, 0.0) * v, k, v) for k, v in features.items()), reverse=True)
    out = []
    for c, k, v in contrib[:top]:
        if c <= 0:
            break
        if k.startswith(FAMILY_LABEL):
            out.append(f"{k[len(FAMILY_LABEL):]} x{round(math.expm1(v))}")
        elif k in ("caps_letters", "caps_words", "quoted_lines"):
            out.append(f"{k} {v:.0%}")
        elif k in ("exclaim", "money_amounts", "percents", "links", "urls_in_text", "link_text_mismatch", "shortener",
                   "ip_link"):
            out.append(f"{k} {round(math.expm1(v))}" if k != "exclaim" else f"exclaim {math.expm1(v):.1f}/100 words")
        else:
            out.append(k)
    return out


@dataclass
class State:
    features: Features | None = None
    model: Model = field(default_factory=Model)
    min_score: float = 0.0
    text_model: spam_model.TextModel | None = None



def make_state(s: dict[str, Any]) -> State:
    psl()  # load the public suffix list now, not on the first message
    return State(
        features=Features(Path(s["phrases_file"]) if s.get("phrases_file") else PHRASES_FILE),
        model=Model.load(Path(s["weights_file"]) if s.get("weights_file") else WEIGHTS_FILE),
        min_score=float(s.get("min_score", 2.5)),
        text_model=spam_model.load_model(Path(s["model_file"]) if s.get("model_file") else spam_model.MODEL_FILE),
    )


def inspect(message: Message, state: State, deadline: float | None = None) -> list[Finding]:
    """The `spam.phrasing` finding, if the score reaches `min_score`; TimeoutError past `deadline`."""
    if state.features is None:
        raise RuntimeError("spam check used before outguard_startup")
    feats = state.features.extract(message, deadline)
    stop_if_late(deadline, NAME)
    logit = state.model.logit(feats)
    score = round(state.model.score(logit), 2)
    tm = state.text_model
    if tm is not None:
        text_logit, evidence = tm.read(*spam_model.message_text(message))
        logit = tm.combined_logit(text_logit, logit, evidence)
        score = round(tm.score(logit), 2)
        feats = {**feats, "text_model_logit": round(text_logit, 3)}
    if score < state.min_score:
        return []
    why = reasons(state.model, feats)
    if tm is not None:
        why.append(f"text model {1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, text_logit)))):.2f}"
                   + (f" on {evidence} of {tm.min_evidence} features" if evidence < tm.min_evidence else ""))
    probability = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
    where = tuple(w for w in ("subject", "body", "html") if any(True for _ in message.texts(w)))
    return [Finding("spam.phrasing", confidence=round(probability, 3), count=1, where=where, score=score,
                    detail=f"score {score:.1f}" + (f": {', '.join(why)}" if why else ""))]


class SpamCheck:
    """Spam-like phrasing and structure as one scored `spam.phrasing` finding."""

    emits = ("spam.phrasing",)
    settings_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {"weights_file": {"type": ["string", "null"]}, "phrases_file": {"type": ["string", "null"]},
                       "model_file": {"type": ["string", "null"]}, "min_score": {"type": "number"}},
    }

    def __init__(self) -> None:
        self.state = State()

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        self.state = make_state(context.settings)

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        return inspect(message, self.state, getattr(context, "deadline", None))
