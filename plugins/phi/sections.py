"""Clinical statements that are health information without a lexicon term: section labels of
clinical documents, encounters between a provider and a patient, allergy statements.

Labels by one Aho-Corasick pass (`ahocorasick-rs`), the statements by one `re` pass each over
the lower-cased text (linear, no backtracking across lines): a
compliance officer reads "Reason for visit: ..." or "your visit with Dr. Lee" as health
information whatever follows, and "Assessment:" or "Plan:" only beside a health term.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from outguard_plugins.phi.prefilter import Anchored, Group


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
    r"|under the care of dr|complains of|c/o\s|tolerated? the procedure|recovery room"
    r"|follow-?up (?:visit|appointment|exam)|post-?op(?:erative)? (?:visit|check|course))", re.ASCII)

ALLERGY = re.compile(r"(?<![a-z])(?:nkda|nka|no known (?:drug )?allergies|allergic to|allergy to|allergies to)(?![a-z])",
                     re.ASCII)

# Vital signs and measurements (LOINC's vital-sign panel names and their standard clinical
# abbreviations) with a value in the human range and, where a bare number would be ambiguous,
# its unit: "BP 140/90", "Pulse: 72", "O2 sat 98% on room air", "FEV1/FVC ratio was 52%".
# Energy and shipping mail say "pressure", "temperature of 95 degrees" and "weight 20 lbs" too,
# so a name a memo also uses needs the clinical value shape (a systolic/diastolic pair, a
# temperature with its decimal); the ambiguous ones (HR, RR, BMI, weight, height) are WEAK_VITAL
# and count only two kinds together, one of them HR, RR or BMI.
_SEP = r"\s*[:=]?\s*(?:(?:was|is|of|were|are|at|remains|remained|measured|today)\s*){0,2}"
_SYS, _DIA = r"(?:[6-9]\d|1\d\d|2[0-4]\d)", r"(?:[3-9]\d|1[0-4]\d)"
VITAL = re.compile(
    r"(?<![a-z])(?:"
    r"(?:blood pressures?|bp|b/p)" + _SEP + _SYS + r"\s*/\s*" + _DIA + r"(?!\d)"
    r"|(?:pulse(?: rate)?|heart rate)" + _SEP + r"(?:[3-9]\d|1\d\d|2[0-4]\d)(?![\d%/])"
    r"|(?:respirations?|respiratory rate|respiration rate)" + _SEP + r"(?:[6-9]|[1-5]\d)(?![\d%/])"
    r"|(?:temperature|temp|tmax|t-max)" + _SEP + r"(?:9[4-9]|10[0-6]|3[4-9]|4[0-2])\.\d(?!\d)"
    r"|(?:o2 sat(?:uration)?s?|oxygen sat(?:uration)?s?|spo2|sao2|sp02|pulse ox(?:imetry)?)" + _SEP + r"(?:[5-9]\d|100)\s*%"
    r"|(?:sat(?:uration)?s?|saturating)" + _SEP + r"(?:[5-9]\d|100)\s*%\s*(?:on |in )?"
    r"(?:room air|ra\b|\d+\s*(?:l|liters?|lpm)\b|nasal cannula)"
    r"|(?:fev1(?:/fvc)?|fev-1|fvc|dlco|fef ?25-75%?|peak (?:expiratory )?flow|pefr)(?: ratio)?" + _SEP +
    r"\d+(?:\.\d+)?\s*(?:%|l\b|liters|ml|cc)"
    r"|body mass index" + _SEP + r"(?:1[2-9]|[2-6]\d)(?:\.\d+)?(?![\d%])"
    r"|blood loss (?:was |of |:\s*)?(?:minimal|negligible|less than \d+|\d+\s*(?:cc|ml))"
    r"|vital signs (?:are |were |remain |remained )?(?:stable|normal|within normal limits|unremarkable)"
    r"|vitals (?:are |were )?(?:stable|normal)|on room air)", re.ASCII)
# An imaging study of a body region: "MRI of the lumbar spine", "CT abdomen and pelvis with
# contrast". "CT" is also Connecticut ("Stamford, CT head office"), so the region needs "of"
# before it or a contrast after it.
_REGION = (r"(?:abdomen|pelvis|chest|head|brain|cervical spine|thoracic spine|lumbar spine|spine|neck|sinuses|knee|"
           r"shoulder|hip|ankle|wrist|orbits)")
IMAGING = re.compile(
    r"(?<![a-z])(?:ct|cta|mri|mra|x-ray|xray)(?: scan| angiogram)?(?: of (?:the )?(?:left |right )?" + _REGION +
    r"(?![a-z])| " + _REGION + r"(?: (?:and|&) " + _REGION + r")? (?:with|without|w/o?|w&wo|with and without) (?:iv )?contrast)",
    re.ASCII)
WEAK_VITAL = re.compile(
    r"(?<![a-z])(?:(hr)" + _SEP + r"(?:[4-9]\d|1\d\d)(?![\d%/])"
    r"|(rr)" + _SEP + r"(?:[8-9]|[1-4]\d)(?![\d%/])"
    r"|(bmi)" + _SEP + r"(?:1[2-9]|[2-6]\d)(?:\.\d+)?(?![\d%])"
    r"|(weight|weighs|weighed|wt\.?)" + _SEP + r"\d{2,3}(?:\.\d)?\s*(?:pounds|lbs?|kg|kilograms)\b"
    r"|(height)" + _SEP + r"(?:\d{2,3}(?:\.\d)?\s*(?:inches|cm)\b|\d\s*(?:feet|foot|ft)\b))", re.ASCII)
# "The patient" as the subject of what a clinical note says of a patient ("The patient
# tolerated the procedure", "the patient is a 53-year-old", "The patient has no other
# complaints"). Linguistics mail names a "patient" role too, so only a note's verbs count.
PATIENT = re.compile(
    r"(?<![a-z])(?:(?:care of|see|saw|seeing|evaluate|evaluating) (?:this|the|your) patient(?![a-z])"
    r"|patient(?:'s)? (?:"
    r"(?:is|was) (?:a|an) \d{1,3}[- ](?:year|month|week|day)s?[- ]old|states|stated|reports|reported|denies|denied"
    r"|complains|complained|presents|presented|underwent|tolerated|returns|returned|feels|felt|describes|described"
    r"|(?:is|was) (?:seen|admitted|discharged|brought|taken|prepped|placed|given|started|instructed|advised|counseled|"
    r"evaluated|examined|noted|followed|sent|transferred|intubated|extubated|stable|afebrile|alert|awake|doing)"
    r"|has (?:a (?:past |prior |long |known )?history|had|no (?:other |known |significant |further )?"
    r"(?:problems|complaints|symptoms|history|pain|allergies))"
    r"|(?:was |is )?(?:instructed|referred)|has been (?:following|seen|followed|treated|admitted)|understands|agrees"
    r"|will (?:follow|return|be seen|continue)|received|continues))(?![a-z])", re.ASCII)
# A prescription's sig: the dotted Latin frequencies a note writes ("b.i.d.", "q.6h.", "p.r.n.")
# and a dose with its route or frequency ("20 mg p.o. daily", "1.2 cc every day", "p.o. b.i.d.").
# "P.O." is a purchase order and "cc" a copy in mail, so neither counts without a dose or a sig.
_FREQ = (r"(?:p\.o\.|po(?![a-z])|orally|by mouth|i\.v\.|iv(?![a-z])|subcutaneously|sublingually|daily|once|twice|"
         r"three times|four times|every|at bedtime|nightly|q\.|q\d|b\.i\.d|t\.i\.d|q\.i\.d|p\.r\.n|prn(?![a-z]))")
SIG = re.compile(
    r"(?<![a-z])(?:b\.i\.d\.|t\.i\.d\.|q\.i\.d\.|p\.r\.n\.|q\.h\.s\.|q\.a\.m\.|q\.p\.m\.|q\.\s?\d{1,2}\s?h(?:ours?|rs?)?(?![a-z])"
    r"|(?:(?<=\d)|(?<=\d ))(?:mg|mcg|cc|ml|units?|tablets?|capsules?)\s+" + _FREQ +
    r"|p\.o\.\s+(?:daily|once|twice|every|at bedtime|nightly|q\.|q\d|b\.i\.d|t\.i\.d|q\.i\.d|p\.r\.n|prn(?![a-z])))", re.ASCII)
_WEAK_KINDS = ("hr", "rr", "bmi", "weight", "height")   # the capture group of each WEAK_VITAL alternative

# The same patterns, tried only where a literal opening stands (prefilter.py: one Aho-Corasick
# pass finds the openings; the same matches at a tenth of the cost). Shared by identifiers.py
# and names.py, so a text's openings are found once.
STRONG_LABEL_AT = Anchored(STRONG_LABEL)
ENCOUNTER_AT = Anchored(ENCOUNTER)
VITAL_AT = Anchored(VITAL)
WEAK_VITAL_AT = Anchored(WEAK_VITAL)
PATIENT_AT = Anchored(PATIENT)
IMAGING_AT = Anchored(IMAGING)
# its openings ("ml", "cc", "q.") are frequent in any mail: an automaton of its own, run only
# where the health scan runs, keeps them out of the identifiers' shared pass
SIG_AT = Anchored(SIG, Group())

# Every ALLERGY match holds one of these: most mail has none, and `in` is far cheaper than the regex.
ALLERGY_WORDS = ("allerg", "nkda", "nka", "no known")


def find(lower: str) -> tuple[set[str], set[str], set[str]]:
    """(strong section labels, weak section labels, encounter or allergy statements) in `lower`."""
    strong, weak = labels(lower)
    statements = {"encounter"} if ENCOUNTER_AT.search(lower, lower) else set()
    if any(word in lower for word in ALLERGY_WORDS) and ALLERGY.search(lower):
        statements.add("allergy")
    if vitals(lower):
        statements.add("vital signs")
    if IMAGING_AT.search(lower, lower):
        statements.add("imaging")
    if SIG_AT.search(lower, lower):
        statements.add("prescription")
    if "patient" in lower and PATIENT_AT.search(lower, lower):   # `in` first: most mail has no "patient"
        statements.add("patient")
    return strong, weak, statements


def vitals(lower: str) -> bool:
    """A vital sign or measurement with its value: one of VITAL, or two kinds of WEAK_VITAL of
    which one is HR, RR or BMI (weight and height alone also describe a parcel)."""
    if VITAL_AT.search(lower, lower):
        return True
    kinds = {_WEAK_KINDS[m.lastindex - 1] for m in WEAK_VITAL_AT.finditer(lower, lower) if m.lastindex}
    return len(kinds) >= 2 and bool(kinds & {"hr", "rr", "bmi"})


# The number of the next item of a numbered list: "Fever. 2.", "3. Sweet syndrome. 4."; and a
# number that opens an item ("11. History of asthma.": at the start, after a line or a sentence).
_NEXT_ITEM = re.compile(r"\.[ \t]+\d{1,2}\.(?=\s|$)", re.ASCII)
_ITEM_WORD = re.compile(r"[a-z0-9][a-z0-9\-'/]*")
_ITEM_NUMBER = re.compile(r"\d{1,2}\.[ \t]+(?=[a-z])", re.ASCII)
ITEM_WORDS = 6       # words an item may have: a diagnosis or a procedure line, not a sentence of a memo
ITEM_WEIGHT = 4.0    # clinical-vocabulary weight (vocabulary.py) of one word that makes an item clinical


def _item_spans(lower: str) -> list[tuple[int, int]]:
    """(start, stop) of the text of each numbered list item: before the next number, after its own."""
    spans = [(max(lower.rfind(".", max(0, m.start() - 80), m.start()), lower.rfind("\n", max(0, m.start() - 80), m.start()),
                  m.start() - 80) + 1, m.start())
             for m in _NEXT_ITEM.finditer(lower)]   # every look-around bounded to 80 characters: linear
    for m in _ITEM_NUMBER.finditer(lower):
        at = m.start()
        if at and not (lower[at - 1] in "\n \t" and (at < 2 or lower[at - 2] in ".\n \t")):
            continue   # "page 12. See" or "v2. Then": a number inside a sentence, not a list's
        stop = min(i for i in (lower.find(".", m.end(), m.end() + 80), lower.find("\n", m.end(), m.end() + 80), m.end() + 80)
                   if i >= 0)
        spans.append((m.end(), stop))
    return spans


def list_item(lower: str, terms: dict[str, str], weights: Mapping[str, float]) -> bool:
    """Whether one item of a numbered list, a few words long, is a diagnosis, procedure or
    medication line ("2. Uterus enlargement. 3.", "Fever. 2."): a health term is most of it, or
    one of its words weighs ITEM_WEIGHT in the clinical vocabulary ("2. Tumor. 3."). A memo's numbered
    sentences ("1. Retention of the new staff is the goal.") are longer than ITEM_WORDS."""
    for start, stop in _item_spans(lower):
        item = _ITEM_WORD.findall(lower, start, stop)
        if not item or len(item) > ITEM_WORDS:
            continue
        joined = " " + " ".join(item) + " "
        if any(f" {term} " in joined and len(term.split()) * 2 >= len(item) - 1 for term in terms):
            return True
        if max(weights.get(w, 0.0) for w in item) >= ITEM_WEIGHT:
            return True
    return False
