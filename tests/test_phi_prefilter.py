"""The literal-opening prefilter finds exactly the matches its pattern finds, and falls back where it cannot."""

from __future__ import annotations

import random
import re

import pytest
import regex

from outguard_plugins.phi import identifiers, names, sections, tables
from outguard_plugins.phi.prefilter import Anchored, Group, openings

# The patterns the PHI check runs through the prefilter, with what they are matched against.
PATTERNS = [
    (identifiers.KEYWORDS, "text"), (identifiers.OTHER_LABEL, "text"), (identifiers.ANCHORED, "text"),
    (identifiers._PATIENT_WORDS, "lower"), (identifiers._RECORD_WORDS, "lower"),
    (names._TRIGGER, "lower"), (names._RECORD_WORDS, "lower"), (tables._HEADER_WORDS, "lower"),
    (sections.STRONG_LABEL, "lower"), (sections.ENCOUNTER, "lower"),
]

WORDS = ("SSN", "ssn#", "Social Security", "DOB", "d.o.b.", "date of birth", "born", "patient", "Pt.", "pt",
         "member ID", "MRN", "medical record", "acct #", "account number", "invoice", "Order", "PO", "claim number",
         "Medicare", "MBI", "NPI", "DEA", "fax", "ICD-10", "dx", "diagnosis", "NDC", "cell", "mobile", "Home phone",
         "Chief complaint", "reason for visit", "was admitted", "your visit with Dr.", "discharged home", "name",
         "Re", "Dear Ms.", "resident", "client", "beneficiary", "insured", "y/o", "year-old", "age 4", "HPI",
         "Allergies", "chart #", "subscriber id", "policy", "encounter id", "accept", "except", "username",
         "recall", "codename", "tin", "continue", "123-45-6789", "1EG4-TE5-MK73", "00482913", "AB1234563",
         "March 3, 1950", "03/04/1950", "(617) 555-0199", ":", " - ", ",", "\n", "\t", "  ", "#", "=", "İ")


def _texts(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        parts = [rnd.choice(WORDS) for _ in range(rnd.randint(1, 60))]
        out.append("".join(p + rnd.choice((" ", "", ": ", "\n", " is ", "-")) for p in parts))
    return out


@pytest.mark.parametrize("pattern,on", PATTERNS, ids=lambda p: getattr(p, "pattern", str(p))[:30])
def test_same_matches_as_the_pattern(pattern: re.Pattern[str], on: str) -> None:
    fast = Anchored(pattern, Group())
    assert openings(pattern.pattern), "the check's keyword patterns all start with literal openings"
    for text in _texts(hash(pattern.pattern) & 0xFFFF, 300):
        lower = text.lower()
        subject = text if on == "text" else lower
        assert [m.span() for m in fast.finditer(subject, lower)] == [m.span() for m in pattern.finditer(subject)]
        lo, hi = len(text) // 4, len(text) // 4 * 3
        assert [m.span() for m in fast.finditer(subject, lower, lo, hi)] == \
            [m.span() for m in pattern.finditer(subject, lo, hi)]
        got, want = fast.search(subject, lower, lo), pattern.search(subject, lo)
        assert (got and got.span()) == (want and want.span())


def test_lookbehind_sees_the_text_before_the_window() -> None:
    fast = Anchored(identifiers.KEYWORDS, Group())
    text = "xSSN 123 SSN"
    assert [m.span() for m in fast.finditer(text, text.lower(), 1)] == [(9, 12)]


def test_openings_follow_the_pattern() -> None:
    assert sorted(openings(r"(?<![a-z])(?:dob|d\.o\.b|birth ?date)") or []) == ["birth", "d.o.b", "dob"]
    assert sorted(openings(r"diagnos[ie]s") or []) == ["diagnose", "diagnosi"]   # cut at MAX_OPENING characters
    assert sorted(openings(r"(?i:SSN|soc\.?\ sec)") or []) == ["soc", "ssn"]
    assert openings(r"ss|ssn") == ["ss"]   # "ss" already finds every place "ssn" starts
    # a match may start with any digit or word character: no openings, the pattern runs as before
    assert openings(r"\d{3}-\d{2}") is None
    assert openings(r"(?:a|\w)x") is None
    assert openings(r"\p{Lu}[a-z]+") is None   # `regex`-only syntax


def test_falls_back_without_openings_or_when_lower_casing_moves_offsets() -> None:
    digits = Anchored(re.compile(r"\d+"), Group())
    assert [m.group() for m in digits.finditer("a 12 b 345", "a 12 b 345")] == ["12", "345"]
    kw = Anchored(identifiers.KEYWORDS, Group())
    text = "\u0130stanbul SSN 123"   # U+0130 lower-cases to two characters
    assert len(text.lower()) != len(text)
    assert [m.group() for m in kw.finditer(text, text.lower())] == ["SSN"]
    assert [m.group() for m in kw.finditer(text, None)] == ["SSN"]


def test_openings_of_a_new_keyword_are_found_without_a_second_list() -> None:
    pat = regex.compile(r"(?i:(?<!\w)(?:SSN|tax\ id)(?!\w))", regex.VERSION0)
    fast = Anchored(pat, Group())
    text = "Tax ID 12 and ssn"
    assert [m.group() for m in fast.finditer(text, text.lower())] == ["Tax ID", "ssn"]


def test_the_last_texts_openings_are_not_reused_for_another_text() -> None:
    fast = Anchored(re.compile(r"ssn"), Group())
    a, b = "ssn here", "no, ssn there"
    assert [m.span() for m in fast.finditer(a, a)] == [(0, 3)]
    assert [m.span() for m in fast.finditer(b, b)] == [(4, 7)]


def test_patterns_sharing_a_group_each_get_their_own_matches() -> None:
    group = Group()
    a = Anchored(re.compile(r"(?<![a-z])(?:ssn|pat)"), group)
    b = Anchored(re.compile(r"patient|ss\b"), group)
    c = Anchored(identifiers.KEYWORDS, group)
    texts = ["the patient's SSN; pat ss", "no match here", "Patient pt SS ssn patient"]
    for _ in range(2):   # texts in turn: each text's openings are found afresh
        for text in texts:
            lower = text.lower()
            for fast in (a, b, c):
                assert [m.span() for m in fast.finditer(lower if fast is not c else text, lower)] == \
                    [m.span() for m in fast.pattern.finditer(lower if fast is not c else text)]
    late = Anchored(re.compile(r"here"), group)   # joining later rebuilds the shared automaton
    assert [m.span() for m in late.finditer(texts[1], texts[1])] == [(9, 13)]
    assert [m.span() for m in a.finditer(texts[0], texts[0])] == [(4, 7), (19, 22)]
