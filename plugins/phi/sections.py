"""Clinical statements that are health information without a lexicon term: section labels of
clinical documents, encounters between a provider and a patient, allergy statements.

One `re` pass over the lower-cased text each (linear, no backtracking across lines): a
compliance officer reads "Reason for visit: ..." or "your visit with Dr. Lee" as health
information whatever follows, and "Assessment:" or "Plan:" only beside a health term.
"""

from __future__ import annotations

import re

# Labels no business document uses: each names a part of a clinical record.
STRONG_LABEL = re.compile(
    r"(?<![a-z])(chief complaint|reason for (?:visit|referral|consult(?:ation)?|admission|appointment|encounter)"
    r"|history of (?:the )?present illness|hpi|past medical history|pmh|past surgical history|psh"
    r"|(?:discharge |admission |admitting |pre-?operative |post-?operative |principal |primary |secondary )?diagnos[ie]s"
    r"|dx|(?:drug )?allergies|(?:current |home |discharge )?medications|meds|review of systems|ros"
    r"|physical exam(?:ination)?|vital signs|vitals|hospital course|procedures? performed|indications? for (?:procedure|surgery)"
    r"|icd-?10(?:-cm)?(?: codes?)?|problem list|presenting problem|presenting complaint|symptoms|prescription|rx"
    r"|lab results|laboratory data|imaging|pathology|operative findings|anesthesia|estimated blood loss)"
    r"\s*(?::|-\s)", re.ASCII)

# Labels that are clinical only next to a health term ("Assessment:" also heads an audit).
WEAK_LABEL = re.compile(r"(?<![a-z])(assessment|plan|impression|findings|subjective|objective|history|recommendations?"
                        r"|follow-?up|treatment|procedure|results?|orders?|referral)\s*:", re.ASCII)

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

# Every ALLERGY match holds one of these: most mail has none, and `in` is far cheaper than the regex.
ALLERGY_WORDS = ("allerg", "nkda", "nka", "no known")


def find(lower: str) -> tuple[set[str], set[str], set[str]]:
    """(strong section labels, weak section labels, encounter or allergy statements) in `lower`."""
    strong = {" ".join(m.group(1).split()) for m in STRONG_LABEL.finditer(lower)}
    weak = {m.group(1) for m in WEAK_LABEL.finditer(lower)}
    statements = {"encounter"} if ENCOUNTER.search(lower) else set()
    if any(word in lower for word in ALLERGY_WORDS) and ALLERGY.search(lower):
        statements.add("allergy")
    return strong, weak, statements
