"""Clinical statements that are health information without a lexicon term: section labels of
clinical documents, encounters between a provider and a patient, allergy statements.

Labels by one Aho-Corasick pass (`ahocorasick-rs`), the statements by one `re` pass each over
the lower-cased text (linear, no backtracking across lines): a
compliance officer reads "Reason for visit: ..." or "your visit with Dr. Lee" as health
information whatever follows, and "Assessment:" or "Plan:" only beside a health term.
"""

from __future__ import annotations

import re
from typing import Any

from outguard_plugins.phi.prefilter import Anchored


def _expand(*parts: tuple[str, ...]) -> tuple[str, ...]:
    """Every concatenation of one choice from each part: ("", "discharge ") x ("diagnosis",) ..."""
    out = [""]
    for choices in parts:
        out = [a + b for a in out for b in choices]
    return tuple(out)


# Labels no business document uses: each names a part of a clinical record.
STRONG_LABELS = (
    "chief complaint", *_expand(("reason for ",), ("visit", "referral", "consult", "consultation", "admission", "appointment",
                                                  "encounter")),
    "history of present illness", "history of the present illness", "hpi", "past medical history", "pmh",
    "past surgical history", "psh",
    *_expand(("", "discharge ", "admission ", "admitting ", "preoperative ", "pre-operative ", "postoperative ",
              "post-operative ", "principal ", "primary ", "secondary "), ("diagnosis", "diagnoses")),
    "dx", "allergies", "drug allergies", *_expand(("", "current ", "home ", "discharge "), ("medications",)), "meds",
    "review of systems", "ros", "physical exam", "physical examination", "vital signs", "vitals", "hospital course",
    "procedure performed", "procedures performed",
    *_expand(("indication for ", "indications for "), ("procedure", "surgery")),
    *_expand(("icd-10", "icd10", "icd-10-cm", "icd10-cm"), ("", " code", " codes")),
    "problem list", "presenting problem", "presenting complaint", "symptoms", "prescription", "rx",
    "lab results", "laboratory data", "imaging", "pathology", "operative findings", "anesthesia", "estimated blood loss",
)
# Labels that are clinical only next to a health term ("Assessment:" also heads an audit).
WEAK_LABELS = ("assessment", "plan", "impression", "findings", "subjective", "objective", "history", "recommendation",
               "recommendations", "follow-up", "followup", "treatment", "procedure", "result", "results", "order",
               "orders", "referral")


def _label_regex(labels: tuple[str, ...], after: str) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True))
    return re.compile(r"(?<![a-z])(" + alternatives + r")\s*" + after, re.ASCII)


# The same labels as regexes, for a look into a short window (names.py: a label below a name).
STRONG_LABEL = _label_regex(STRONG_LABELS, r"(?::|-\s)")
WEAK_LABEL = _label_regex(WEAK_LABELS, ":")
_AFTER_STRONG = re.compile(r"\s*(?::|-\s)")
_AFTER_WEAK = re.compile(r"\s*:")


def _label_automaton() -> tuple[Any, list[tuple[str, bool]]]:
    """(automaton, (label, strong) of each key): a label in both lists counts as strong."""
    import ahocorasick_rs

    kinds = {**dict.fromkeys(WEAK_LABELS, False), **dict.fromkeys(STRONG_LABELS, True)}
    values = list(kinds.items())
    return ahocorasick_rs.AhoCorasick([label for label, _ in values]), values


# Both label lists in one Aho-Corasick automaton: one pass over the text finds every label
# (a regex alternation of a hundred labels tries each of them at every position).
_LABELS, _LABEL_VALUES = _label_automaton()


def labels(lower: str) -> tuple[set[str], set[str]]:
    """(strong, weak) section labels in `lower`: a label on a word boundary, then ":" (or "- " for a strong one)."""
    strong: set[str] = set()
    weak: set[str] = set()
    for key, start, stop in _LABELS.find_matches_as_indexes(lower, overlapping=True):
        label, is_strong = _LABEL_VALUES[key]
        end = stop - 1
        if start and "a" <= lower[start - 1] <= "z":
            continue
        if is_strong:
            if label not in strong and _AFTER_STRONG.match(lower, end + 1):
                strong.add(label)
        elif label not in weak and _AFTER_WEAK.match(lower, end + 1):
            weak.add(label)
    return strong, weak


# A provider-patient relationship: a visit, an admission, a discharge, a referral.
_CARE = (r"(?:dr\.?\ |doctor|your (?:doctor|physician|provider|care team)"
         r"|(?:the |our )?(?:clinic|hospital|practice|er|ed|icu|emergency)\b)")
ENCOUNTER = re.compile(
    r"(?<![a-z])(?:(?:your|his|her|the patient's|patient's|their)\s+(?:visit|appointment|follow-?up|consultation|procedure|"
    r"surgery|admission|stay|test results|lab results|prescription|referral)\s+(?:with|at|to|in)\s+" + _CARE +
    r"|(?:was|were|been|is being|will be|got|being)\s+(?:admitted|discharged|hospitalized|readmitted|seen (?:in|by|at) " + _CARE +
    r"|treated (?:for|with)|referred for|diagnosed|prescribed|scheduled for (?:a |an |her |his )?"
    r"(?:surgery|procedure|biopsy|mri|ct scan|colonoscopy|endoscopy|follow-?up))"
    r"|discharged (?:home|from (?:the )?hospital)|admitted (?:to|for|with) (?:the )?(?:hospital|icu|er|ed|emergency|observation"
    r"|inpatient|chest pain|pneumonia|sepsis)|seen in (?:clinic|the (?:emergency|er\b|ed\b|office|clinic))"
    r"|under the care of dr|complains of|c/o\s|tolerated the procedure|recovery room"
    r"|follow-?up (?:visit|appointment|exam)|post-?op(?:erative)? (?:visit|check|course))", re.ASCII)

ALLERGY = re.compile(r"(?<![a-z])(?:nkda|nka|no known (?:drug )?allergies|allergic to|allergy to|allergies to)(?![a-z])",
                     re.ASCII)

# The same patterns, tried only where a literal opening stands (prefilter.py: one Aho-Corasick
# pass finds the openings; the same matches at a tenth of the cost). Shared by identifiers.py
# and names.py, so a text's openings are found once.
STRONG_LABEL_AT = Anchored(STRONG_LABEL)
ENCOUNTER_AT = Anchored(ENCOUNTER)

# Every ALLERGY match holds one of these: most mail has none, and `in` is far cheaper than the regex.
ALLERGY_WORDS = ("allerg", "nkda", "nka", "no known")


def find(lower: str) -> tuple[set[str], set[str], set[str]]:
    """(strong section labels, weak section labels, encounter or allergy statements) in `lower`."""
    strong, weak = labels(lower)
    statements = {"encounter"} if ENCOUNTER_AT.search(lower, lower) else set()
    if any(word in lower for word in ALLERGY_WORDS) and ALLERGY.search(lower):
        statements.add("allergy")
    return strong, weak, statements
