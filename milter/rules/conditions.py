"""Rule conditions: compiled once from YAML, evaluated per message with reasons.

Each condition mapping may hold several keys; all must hold (an implicit `all`).
Evaluation returns why it matched, and which findings it matched, so `--explain`
and `drop_recipients` need no second pass.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Protocol

import regex

from outguard.core.findings import Finding
from outguard.core.message import Envelope, Message

HEADER_REGEX_TIMEOUT = 0.1


@dataclass
class Facts:
    """Everything a condition may look at for one message."""

    message: Message
    findings: list[Finding]
    # glob -> the findings whose id it matches: many rules ask for the same few globs
    _by_glob: dict[str, list[Finding]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def envelope(self) -> Envelope:
        return self.message.envelope

    def with_id(self, glob: str) -> list[Finding]:
        """The findings whose id matches `glob`, worked out once per glob and message."""
        hits = self._by_glob.get(glob)
        if hits is None:
            hits = self._by_glob[glob] = [f for f in self.findings if id_matches(f.id, glob)]
        return hits


# (finding id, glob) -> match: both come from a small set (the checks' ids, the rules' globs),
# and a rule set asks about thirty globs of every finding of every message
id_matches = lru_cache(maxsize=8192)(fnmatchcase)


@dataclass
class Outcome:
    matched: bool
    reasons: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)  # recipients the condition pointed at

    def absorb(self, other: Outcome) -> None:
        self.reasons += other.reasons
        self.findings += other.findings
        self.recipients += other.recipients


class Condition(Protocol):
    def evaluate(self, facts: Facts) -> Outcome: ...


class ConditionError(ValueError):
    """A condition is well-formed YAML but makes no sense; `path` locates it."""

    def __init__(self, path: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower().rstrip(">").strip() if "@" in address else ""


def _glob_any(value: str, globs: list[str]) -> bool:
    value = value.lower()
    return any(fnmatchcase(value, g.lower()) for g in globs)


def domain_matches(domain: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """`example.org` matches that domain only; `.example.org` the domain and every subdomain;
    `*.example.org` subdomains only (a glob). Case does not matter."""
    domain = domain.lower().rstrip(".")
    for pattern in patterns:
        p = pattern.lower().rstrip(".")
        if p.startswith("."):
            if domain == p[1:] or domain.endswith(p):
                return True
        elif fnmatchcase(domain, p):
            return True
    return False


@dataclass(frozen=True)
class FindingCondition:
    glob: str
    min_count: int = 1
    min_confidence: float = 0.0
    min_score: float | None = None
    where: tuple[str, ...] = ()

    def _accepts(self, f: Finding) -> bool:
        """For a finding whose id matches the glob (`Facts.with_id`)."""
        if f.confidence < self.min_confidence:
            return False
        if self.min_score is not None and (f.score is None or f.score < self.min_score):
            return False
        # `attachment` matches every attachment:NAME view; `attachment:*.csv` is a glob over names
        return not self.where or any(w.startswith(p + ":") or fnmatchcase(w.lower(), p.lower())
                                     for w in f.where for p in self.where)

    def evaluate(self, facts: Facts) -> Outcome:
        candidates = facts.with_id(self.glob)
        if not candidates:   # the usual case: most rules ask about findings this message has not got
            return Outcome(False)
        hits = [f for f in candidates if self._accepts(f)]
        total = sum(f.count for f in hits)
        if not hits or total < self.min_count:
            return Outcome(False)
        ids = ", ".join(sorted({f"{f.id} x{f.count}" for f in hits}))
        limits = []
        if self.min_count > 1:
            limits.append(f"count {total} >= {self.min_count}")
        if self.min_confidence:
            limits.append(f"confidence >= {self.min_confidence:g}")
        if self.min_score is not None:
            limits.append(f"score >= {self.min_score:g}")
        extra = f" ({'; '.join(limits)})" if limits else ""
        return Outcome(True, [f"finding {self.glob}: {ids}{extra}"], hits)


@dataclass(frozen=True)
class Predicate:
    """A check of the envelope or headers, described for `--explain`."""

    label: str
    test: Any

    def evaluate(self, facts: Facts) -> Outcome:
        return Outcome(True, [self.label]) if self.test(facts) else Outcome(False)


@dataclass(frozen=True)
class RecipientDomain:
    """Matches when any recipient is in one of the domains, and names those recipients
    (so `drop_recipients` can drop exactly them)."""

    globs: tuple[str, ...]

    def evaluate(self, facts: Facts) -> Outcome:
        hits = [r for r in facts.envelope.recipients if domain_matches(_domain(r), self.globs)]
        if not hits:
            return Outcome(False)
        return Outcome(True, [f"{len(hits)} recipient(s) in {list(self.globs)}"], recipients=hits)


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]

    def evaluate(self, facts: Facts) -> Outcome:
        out = Outcome(True)
        for part in self.parts:
            res = part.evaluate(facts)
            if not res.matched:
                return Outcome(False)
            out.absorb(res)
        return out


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def evaluate(self, facts: Facts) -> Outcome:
        out = Outcome(False)
        for part in self.parts:
            res = part.evaluate(facts)
            if res.matched:
                out.matched = True
                out.absorb(res)
        return out


@dataclass(frozen=True)
class Not:
    inner: Condition
    label: str

    def evaluate(self, facts: Facts) -> Outcome:
        return Outcome(False) if self.inner.evaluate(facts).matched else Outcome(True, [f"not ({self.label})"])


def compile_condition(spec: Any, path: tuple[Any, ...] = ()) -> Condition:
    """Compile a schema-valid condition (mapping, or list meaning all)."""
    if isinstance(spec, list):
        return AllOf(tuple(compile_condition(c, path + (i,)) for i, c in enumerate(spec)))
    parts: list[Condition] = []
    if "all" in spec:
        parts.append(AllOf(tuple(compile_condition(c, path + ("all", i)) for i, c in enumerate(spec["all"]))))
    if "any" in spec:
        parts.append(AnyOf(tuple(compile_condition(c, path + ("any", i)) for i, c in enumerate(spec["any"]))))
    if "not" in spec:
        parts.append(Not(compile_condition(spec["not"], path + ("not",)), _summary(spec["not"])))
    if "finding" in spec:
        parts.append(FindingCondition(
            glob=spec["finding"],
            min_count=int(spec.get("min_count", 1)),
            min_confidence=float(spec.get("min_confidence", 0.0)),
            min_score=None if spec.get("min_score") is None else float(spec["min_score"]),
            where=tuple(_as_list(spec.get("where", []))),
        ))
    else:
        for key in ("min_count", "min_confidence", "min_score", "where"):
            if key in spec:
                raise ConditionError(path + (key,), f"'{key}' only qualifies a 'finding' condition")
    parts += _envelope_predicates(spec, path)
    if not parts:
        raise ConditionError(path, "condition tests nothing")
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _envelope_predicates(spec: dict[str, Any], path: tuple[Any, ...]) -> list[Condition]:
    preds: list[Condition] = []
    if "sender" in spec:
        g = _as_list(spec["sender"])
        preds.append(Predicate(f"sender matches {g}", lambda f, g=g: _glob_any(f.envelope.sender, g)))
    if "sender_domain" in spec:
        g = _as_list(spec["sender_domain"])
        preds.append(Predicate(f"sender domain in {g}", lambda f, g=g: domain_matches(_domain(f.envelope.sender), g)))
    if "recipient_domain" in spec:
        preds.append(RecipientDomain(tuple(_as_list(spec["recipient_domain"]))))
    if "all_recipients_domain" in spec:
        g = _as_list(spec["all_recipients_domain"])
        preds.append(Predicate(f"every recipient domain in {g}",
                               lambda f, g=g: bool(f.envelope.recipients)
                               and all(domain_matches(_domain(r), g) for r in f.envelope.recipients)))
    if "header" in spec:
        preds.append(_header_predicate(spec["header"], spec.get("matches"), path))
    elif "matches" in spec:
        raise ConditionError(path + ("matches",), "'matches' needs a 'header'")
    if "authenticated" in spec:
        want = bool(spec["authenticated"])
        preds.append(Predicate("sender authenticated" if want else "sender not authenticated",
                               lambda f, want=want: bool(f.envelope.auth_user) == want))
    if "auth_user" in spec:
        g = _as_list(spec["auth_user"])
        preds.append(Predicate(f"authenticated user in {g}",
                               lambda f, g=g: bool(f.envelope.auth_user) and _glob_any(f.envelope.auth_user or "", g)))
    if "client_address" in spec:
        nets = []
        for i, text in enumerate(_as_list(spec["client_address"])):
            try:
                nets.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ConditionError(path + ("client_address", i) if not isinstance(spec["client_address"], str)
                                     else path + ("client_address",), f"not an address or network: {text!r}") from None
        preds.append(Predicate(f"client address in {[str(n) for n in nets]}", lambda f, nets=tuple(nets): _in_nets(f, nets)))
    if "size_over" in spec:
        n = int(spec["size_over"])
        preds.append(Predicate(f"size over {n} bytes", lambda f, n=n: f.message.size > n))
    if "size_under" in spec:
        n = int(spec["size_under"])
        preds.append(Predicate(f"size under {n} bytes", lambda f, n=n: f.message.size < n))
    if "bulk" in spec:
        want = bool(spec["bulk"])
        preds.append(Predicate("bulk mail" if want else "not bulk mail",
                               lambda f, want=want: any(x.confidence >= 0.5 for x in f.with_id("bulk.detected")) == want))
    return preds


def _in_nets(facts: Facts, nets: tuple[Any, ...]) -> bool:
    try:
        addr = ipaddress.ip_address((facts.envelope.client_address or "").strip("[]").removeprefix("IPv6:"))
    except ValueError:
        return False
    return any(addr in n for n in nets if addr.version == n.version)


def _header_predicate(name: str, pattern: str | None, path: tuple[Any, ...]) -> Condition:
    if pattern is None:
        return Predicate(f"header {name} present", lambda f: f.message.header(name) is not None)
    try:
        rx = regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        raise ConditionError(path + ("matches",), f"header regex does not compile: {exc}") from None

    def test(facts: Facts) -> bool:
        try:
            return any(rx.search(v, timeout=HEADER_REGEX_TIMEOUT) for v in facts.message.header_all(name))
        except TimeoutError:
            return False

    return Predicate(f"header {name} matches /{pattern}/", test)


def _summary(spec: Any) -> str:
    if isinstance(spec, dict):
        return ", ".join(f"{k}={v}" if not isinstance(v, (dict, list)) else k for k, v in spec.items())
    return "..."
