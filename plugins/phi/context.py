"""Health context: conditions, medications, lab tests and procedures, from real sources.

* Conditions: the CMS ICD-10-CM tabular list (descriptions and inclusion terms of
  chapters A-Q, multi-word terms of R), shipped by the `simple_icd_10_cm` package.
* Medications: the drug dictionary of `drug-named-entity-recognition` (MeSH, DrugBank,
  MedlinePlus names, generics and brands): drugs MedlinePlus documents, and DrugBank drugs
  whose names are rare words (insulin glargine, penicillin).
* Common English words are dropped from both with `wordfreq`, so "focus" or "today"
  (brand names too) never count as health information.
* Lab tests and procedures: `lexicon_labs.txt` / `lexicon_procedures.txt` beside this
  module (common LOINC short names and CPT-style procedure names, curated).
* Medications the dictionary files under a class (penicillin, insulin): `lexicon_medications.txt`.
* Conditions as clinicians write them (AFib, COPD, T2DM, "heart attack"): `lexicon_conditions.txt`.
* Conditions named by everyday words ("anxiety", "cancer"): `lexicon_conditions_framed.txt`, a
  condition only right after a clinical frame ("history of", "treated for": FRAMES).
* Section labels, encounters and allergy statements: `sections.py`.
* A short text that reads as a patient's story as a whole ("She twisted her left ankle ...
  it is swollen"): `narrative.py`, a logistic model learned from the tune split.

* Clinical vocabulary: the rare words of the ICD-10-CM titles and notes of chapters A-T
  (anatomy, pathology: "ureteral", "tubal", "flexor", "postpartum"), words a business
  letter almost never holds (of 3,500 tuning messages of Enron and SpamAssassin ham, 10 hold
  two, 2 hold three). Two of them, or one beside another health term, are a health statement.

Built once per process (about a second) and matched by one leftmost-longest Aho-Corasick pass
(`ahocorasick-rs`, the library the spam check's phrases use: about twice the speed of
`pyahocorasick` per message here, though built in ~0.17 s of CPU against its 0.1 s) over the
text's tokens: cost linear in the text, independent of the size of the lexicon, no
per-message regex over it.
"""

from __future__ import annotations

import bz2
import functools
import importlib.util
import pickle
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outguard_plugins.phi import narrative, sections, vocabulary

HERE = Path(__file__).resolve().parent
MAX_NGRAM = 5

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9\-']*[A-Za-z0-9]|[A-Za-z]|\d+(?:[.,]\d+)?(?:%|mg|mcg|ml|g)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?(?:%|mg|mcg|ml|g)?$")
UNITS = frozenset("mg mcg µg g ml ml/hr units unit iu meq tablet tablets tab tabs capsule capsules puffs drops".split())
MED_CUES = frozenset("started start starting prescribed prescribe taking take takes on continue continued increase "
                     "increased decrease decreased stop stopped discontinue discontinued refill refilled dose "
                     "dosage rx mg daily bid tid qid prn effects hold held holding resume resumed".split())
# ("side effects from the Lexapro", "hold the lovenox am dose")
CLINICAL_CUES = frozenset((
    "diagnosed diagnosis diagnoses prognosis biopsy symptoms symptom admitted discharged discharge "
    "prescription prescribed medication medications referral referred chemotherapy treatment "
    "pathology radiology labs lab results hospitalized hospitalization outpatient inpatient inpatient "
    "comorbidities comorbidity allergies allergy history-of hx dx rx sx tx icd-10 icd10"
).split())

_PROCEDURE_FRAME = re.compile(r"(?:^|\s)(?:s p|status post|underwent|post op|pre op for|scheduled for)"
                              r"(?:\s(?:a|an|the|her|his|l|r))?$")
# Generic words in ICD-10-CM descriptions that are not conditions by themselves.
_ICD_STOP = frozenset(("other unspecified specified elsewhere classified unknown certain part parts site sites "
                       "types and or of with without due to in the a an by from for on at as not nos "
                       "left right bilateral initial encounter subsequent sequela").split())
_MED_SUFFIX = re.compile(r"(itis|osis|emia|aemia|oma|omas|pathy|plegia|algia|trophy|penia|megaly|rrhea|rrhoea|"
                         r"rrhage|uria|plasia|ectomy|otomy|ostomy|iasis|ism)$")
# Procedure names by their Greek and Latin endings: nearly every word ending so is a procedure
# ("arthrodesis", "myringotomy", "angiogram"); the few that are not are listed.
_PROCEDURE_WORD = re.compile(r"[a-z\-]{3,}(?:ectomy|ectomies|otomy|otomies|ostomy|ostomies|oplasty|oplasties|oscopy|oscopies"
                             r"|odesis|opexy|orrhaphy|centesis|otripsy)|[a-z\-]*(?:angio|arterio|veno|mammo|sono|myelo|hystero"
                             r"|pyelo|cholangio|urethro|cysto|echocardio|electrocardio|electroencephalo|electromyo)gra(?:m|ms|phy)")
_NOT_PROCEDURES = frozenset("microscopy spectroscopy telescopy stereoscopy dichotomy lobotomy".split())
# What makes an everyday word ("anxiety", "cancer") a patient's condition: a clinical frame right
# before it, with at most one severity or time word between ("history of severe depression";
# "the history of the Great Depression" has two words between and stays business).
FRAMES = frozenset(tuple(f.split()) for f in (
    "history of", "hx of", "h o", "hx", "diagnosed with", "dx of", "dx", "diagnosis of", "treated for",
    "treatment for", "treating", "suffers from", "suffering from", "suffered from", "complains of", "complaining of",
    "presents with", "presented with", "admitted for", "admitted with", "hospitalized for", "hospitalized with",
    "seen for", "evaluated for", "evaluation of", "positive for", "negative for", "denies", "denied", "secondary to",
    "workup for", "screening for", "follow-up of", "follow up of", "followup of", "status post"))
FRAME_MODIFIERS = frozenset("chronic severe mild moderate acute recurrent major metastatic generalized untreated worsening "
                            "ongoing postpartum situational intermittent persistent significant prior previous recent "
                            "new lower upper left right".split())


def _framed(before: list[str]) -> bool:
    """Whether the tokens before a term end with a clinical frame (FRAMES), one modifier allowed."""
    if before and before[-1] in FRAME_MODIFIERS:
        before = before[:-1]
    return any(tuple(before[-n:]) in FRAMES for n in (1, 2, 3) if len(before) >= n)


_SPLIT = re.compile(r",| with | without | due to | in | and | or |;")


# Tokens are joined by two spaces and each key is " tok  tok ": two adjacent matches never
# share a boundary space, so the leftmost-longest pass sees every phrase on token boundaries.
_JOIN = "  "


@dataclass
class Lexicon:
    phrases: dict[tuple[str, ...], str] = field(default_factory=dict)   # token tuple -> kind
    first: dict[str, int] = field(default_factory=dict)                 # first token -> longest n
    _automaton: Any = field(default=None, init=False, repr=False, compare=False)

    def add(self, phrase: str, kind: str) -> None:
        toks = tuple(t.lower() for t in _TOKEN.findall(phrase))
        if not toks or len(toks) > MAX_NGRAM:
            return
        self.phrases.setdefault(toks, kind)
        self.first[toks[0]] = max(self.first.get(toks[0], 0), len(toks))
        self._automaton = None

    def __len__(self) -> int:
        return len(self.phrases)

    def automaton(self) -> _Automaton:
        """The phrases as one leftmost-longest Aho-Corasick automaton (built on first use, ~0.17 s
        of CPU for the full lexicon)."""
        if self._automaton is None:
            self._automaton = _Automaton(self.phrases)
        return self._automaton


class _Automaton:
    """The lexicon's keys (" tok  tok ") in one `ahocorasick-rs` automaton, leftmost-longest and
    non-overlapping; `values[i]` is (kind, phrase, key length) of key i."""

    def __init__(self, phrases: dict[tuple[str, ...], str]) -> None:
        import ahocorasick_rs

        keys = [" " + _JOIN.join(toks) + " " for toks in phrases]
        self.values = [(kind, " ".join(toks), len(key)) for key, (toks, kind) in zip(keys, phrases.items(), strict=True)]
        self._auto = ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest) if keys else None

    def __len__(self) -> int:
        return len(self.values)

    def iter_long(self, hay: str) -> list[tuple[int, tuple[str, str, int]]]:
        """(index of the match's last character, (kind, phrase, key length)) of each match, left to right."""
        if self._auto is None:
            return []
        values = self.values
        return [(end - 1, values[i]) for i, _, end in self._auto.find_matches_as_indexes(hay)]


def _common(word: str, limit: float) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") >= limit


def _icd_tabular() -> Path:
    """The ICD-10-CM tabular list (XML) that `simple_icd_10_cm` ships."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("simple_icd_10_cm is not installed")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return next(p for p in data.iterdir() if p.name.startswith("icd10") and p.suffix == ".xml")


def _icd_terms() -> set[str]:
    tabular = _icd_tabular()
    terms: set[str] = set()
    texts: list[tuple[str, str]] = []
    for _, el in ET.iterparse(tabular):
        if el.tag != "diag":
            continue
        name = (el.findtext("name") or "").upper()
        if name[:1] in "STUVWXYZ":   # injuries by site, codes for special purposes, external causes, factors
            el.clear()
            continue
        desc = el.findtext("desc") or ""
        texts.append((name, desc))
        for note in (*el.iterfind("inclusionTerm/note"), *el.iterfind("includes/note")):
            texts.append((name, note.text or ""))
        el.clear()
    for code, text in texts:
        text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", text.lower())
        whole = " ".join(re.findall(r"[a-z0-9][a-z0-9\-']*", text))
        for chunk in _SPLIT.split(text):
            words = re.findall(r"[a-z0-9][a-z0-9\-']*", chunk)
            while words and words[0] in _ICD_STOP:
                words = words[1:]
            if not words or len(words) > MAX_NGRAM or any(w in ("elsewhere", "unspecified", "specified") for w in words):
                continue
            phrase = " ".join(words)
            if " of " in f" {phrase} ":
                head = phrase.split(" of ")[0].strip()
                if head and head.split()[-1] not in _ICD_STOP and len(head) > 4:
                    terms.add(head)
            if len(words) == 1:
                # a one-word condition only where it is the whole description ("Asthma", "Gout"),
                # not a fragment left by splitting ("skull" from "Fracture of skull and ..."); a
                # symptom (chapter R: "dizziness", "dysuria") only when it is a rare word
                w = words[0]
                if phrase == whole and len(w) >= 4 and not _common(w, 3.3 if code[0] == "R" else 4.3):
                    terms.add(w)
            elif words[-1] not in _ICD_STOP and not all(w in _ICD_STOP for w in words):
                terms.add(phrase)
            for w in words:
                if len(w) >= 7 and _MED_SUFFIX.search(w) and not _common(w, 4.0):
                    terms.add(w)
    # multi-word phrases that are mostly common words ("drowning", "fall") stay only if specific
    return {t for t in terms if " " in t or not _common(t, 4.3)}


def _drug_terms() -> dict[str, str]:
    spec = importlib.util.find_spec("drug_named_entity_recognition")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("drug-named-entity-recognition is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(path, "rb") as fh:
        data = pickle.load(fh)  # noqa: S301 - the installed package's own data file
    variants: dict[str, list[str]] = data["drug_variant_to_canonical"]
    canon: dict[str, dict] = data["drug_canonical_to_data"]
    terms: dict[str, str] = {}
    for variant, names in variants.items():
        medline = any(canon.get(c, {}).get("medline_plus_id") for c in names)
        # DrugBank-only entries (insulin glargine, penicillins) are many and odd, so they must be rarer words
        if not medline and not any(canon.get(c, {}).get("drugbank_id") for c in names):
            continue
        if len(variant) < 5 or not re.fullmatch(r"[a-z][a-z\-]+(?: [a-z][a-z\-]+){0,2}", variant):
            continue
        generic = variant in names
        if _common(variant, (4.0 if generic else 3.0) if medline else 2.5):
            continue
        # a brand alone may be a company or a product too (Exelon the drug, Exelon the utility);
        # one English almost never writes (Ozempic, Jardiance: Zipf < 1) names the drug alone
        rare_brand = not generic and " " not in variant and not _common(variant, 1.0)
        terms[variant] = "medication" if generic or rare_brand else "medication_brand"
    return terms


def _clinical_words(known: set[str]) -> set[str]:
    """Rare words of ICD-10-CM chapters A-T (titles, inclusion notes): anatomy and pathology that
    everyday and business English hardly use (wordfreq Zipf < 3). Chapters U-Z (external causes:
    "viaduct", "stingray"; factors and encounters) are left out."""
    tabular = _icd_tabular()
    words: set[str] = set()
    for _, el in ET.iterparse(tabular):
        if el.tag != "diag":
            continue
        if (el.findtext("name") or "").upper()[:1] in "ABCDEFGHIJKLMNOPQRST":
            for node in el.iter():
                if node.tag in ("desc", "note") and node.text:
                    words.update(re.findall(r"(?<![a-z\-'])[a-z]{5,}(?![a-z\-'])", node.text.lower()))
        el.clear()
    return {w for w in words if w not in known and w not in _ICD_STOP and not _PROCEDURE_WORD.fullmatch(w)
            and not _common(w, 3.0)}


def _specific(term: str) -> bool:
    """An ICD-10-CM derived term that is a condition by itself: a medical word ("cholelithiasis"),
    a rare one, or a phrase with one ("bone marrow" no, "precocious puberty" yes). Fragments of
    titles made of everyday words ("confirmation", "two years", "retention") are weak: they count
    only beside other health information."""
    words = term.split()
    return any(_MED_SUFFIX.search(w) or not _common(w, 3.0 if len(words) == 1 else 3.5) for w in words)


def _listed(name: str, keep_case: bool = False) -> set[str]:
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return {(ln.strip() if keep_case else ln.strip().lower()) for ln in lines if ln.strip() and not ln.startswith("#")}


@functools.cache
def load_lexicon() -> Lexicon:
    """The health lexicon, once per process: read-only data derived from the installed packages,
    shared by every PhiCheck instance; it holds no per-check state. Read from the cache file
    (`lexicon_cache`, ~50 ms) or built (3 s) and cached."""
    from outguard_plugins.phi import lexicon_cache

    lex = lexicon_cache.cached(build_lexicon, Lexicon)
    lex.automaton()   # at start-up, not in the first message's time
    narrative.load()  # the narrative model too (~30 ms)
    return lex


def build_lexicon() -> Lexicon:
    """Build the lexicon from the sources (3 s of CPU)."""
    lex = Lexicon()
    for term in sorted(_listed("lexicon_labs.txt", keep_case=True)):
        # short all-capital abbreviations (ALT, BP, INR) count only with a value after them
        lex.add(term, "lab_abbrev" if len(term) <= 4 and term.isupper() else "lab")
    for term in sorted(_listed("lexicon_procedures.txt")):
        lex.add(term, "procedure")
    for term, kind in sorted({**_drug_terms(), **dict.fromkeys(_listed("lexicon_medications.txt"), "medication")}.items()):
        lex.add(term, kind)
    for term in sorted(_listed("lexicon_conditions.txt", keep_case=True)):
        # capitals (COPD, HTN) must be capitals in the text too; "AfIB"-style entries match any case
        lex.add(term, "condition_caps" if term.isupper() else "condition")
    for term in sorted(_listed("lexicon_conditions_framed.txt")):
        lex.add(term, "condition_framed")
    for term in sorted(_icd_terms()):
        lex.add(term, "condition" if _specific(term) else "condition_weak")
    for word in sorted(_clinical_words({t[0] for t in lex.phrases if len(t) == 1})):
        lex.add(word, "clinical_word")
    _release_build_memory()
    return lex


def _release_build_memory() -> None:
    """Building the lexicon reads wordfreq's English list and the drug dictionary (~70 MB);
    only the lexicon (~10 MB) is kept. Drop wordfreq's caches and hand freed memory back, so
    each worker process keeps only what it uses."""
    import gc

    import wordfreq

    for name in ("get_frequency_dict", "get_frequency_list", "top_n_list", "get_language_info"):
        fn = getattr(wordfreq, name, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass   # not glibc: the memory is reused by the process instead


@dataclass
class HealthSignals:
    terms: dict[str, str] = field(default_factory=dict)     # term -> kind
    strong: set[str] = field(default_factory=set)           # terms with a dose, a value or a clinical cue
    cues: set[str] = field(default_factory=set)             # clinical words and weak section labels
    sections: set[str] = field(default_factory=set)         # clinical section labels ("reason for visit:")
    statements: set[str] = field(default_factory=set)       # "encounter" (a visit, an admission), "allergy"

    def merge(self, other: HealthSignals) -> None:
        self.terms.update(other.terms)
        self.strong |= other.strong
        self.cues |= other.cues
        self.sections |= other.sections
        self.statements |= other.statements

    @property
    def empty(self) -> bool:
        return not self.terms and not self.cues and not self.sections and not self.statements

    def confidence(self) -> float:
        """How surely this is health information about someone. One unambiguous statement is
        enough (0.8): a named condition or drug, a clinical section label, a visit or an
        admission, an allergy; the rules ask for a patient identifier beside it."""
        distinct = len(self.terms)
        words = sum(1 for k in self.terms.values() if k == "clinical_word")
        specific = sum(1 for k in self.terms.values() if not k.endswith("_weak") and k != "clinical_word")
        stated = bool(self.sections or self.statements)
        if self.strong and (distinct >= 2 or stated):
            return 0.95
        if self.strong or (stated and (specific or words)):
            return 0.9
        weak_drugs = sum(1 for k in self.terms.values() if k == "medication_weak")
        if stated or specific >= 2 or any(k in ("condition", "medication", "procedure") for k in self.terms.values()) \
                or words >= 2 or (words and distinct >= 2) or weak_drugs >= 2:
            # (two brand names side by side, "Lexapro ... adding Wellbutrin", are each other's health information)
            return 0.8
        if distinct == 1 and self.cues:
            return 0.7
        if distinct == 1:
            return 0.6
        return 0.3

    def kinds(self) -> list[str]:
        return sorted(set(self.terms.values()) | ({"section"} if self.sections else set()) | self.statements)


def scan(text: str, lex: Lexicon, lower: str | None = None, story: bool = True) -> HealthSignals:
    """The health signals of one text: lexicon terms by one leftmost-longest Aho-Corasick pass
    over its tokens, then section labels, encounters and allergy statements (each one linear pass).
    `story=False` leaves out the narrative model (three quarters of the cost of a short window)."""
    lower = lower if lower is not None else text.lower()
    out = HealthSignals()
    out.sections, weak, out.statements = sections.find(lower)
    out.cues.update(weak)
    orig = _TOKEN.findall(text)
    if not orig:
        return out
    joined = _JOIN.join(orig)
    norm = joined.lower()
    cased = joined if len(norm) == len(joined) else None   # rare: lower-casing changed the length
    vocab = set(norm.split())
    out.cues.update(vocab & CLINICAL_CUES)
    for tok in vocab:
        if len(tok) >= 8 and tok not in lex.first and tok not in _NOT_PROCEDURES and _PROCEDURE_WORD.fullmatch(tok):
            out.terms[tok] = "procedure"
    auto = lex.automaton()
    if not len(auto):
        return out
    hay = " " + norm + " "
    for end, (kind, term, size) in auto.iter_long(hay):
        start = end - size + 1              # hay[start] and hay[end] are the key's boundary spaces
        after: list[str] | None = None      # the next four tokens, for the kinds that read them
        if kind == "lab_abbrev":
            after = hay[end:end + 80].split()[:4]
            if not any(_NUMBER.match(t) for t in after[:2]) and after[:1] not in (["level"], ["levels"]):
                continue   # "TSH 2.1" and "a TSH level" name the test; "ALT" alone is a key
            kind = "lab"
        elif kind == "condition_framed":
            # without a clinical frame an everyday word ("market anxiety", "fever") counts only
            # beside other health information, as ICD-10-CM's everyday fragments do
            kind = "condition" if _framed(hay[max(0, start - 100):start].split()[-4:]) else "condition_weak"
        elif kind == "condition_caps":
            if cased is None or not all(t.isupper() or t.isdigit() for t in cased[start:end - 1].split()):
                continue
            kind = "condition"
        out.terms[term] = kind
        if kind in ("medication", "medication_brand"):
            after = hay[end:end + 80].split()[:4]
            before = hay[max(0, start - 60):start].split()[-3:]
            dose = any(_NUMBER.match(t) and (j + 1 < len(after) and after[j + 1] in UNITS or t.endswith(("mg", "mcg", "ml")))
                       for j, t in enumerate(after))
            if dose or any(b in MED_CUES for b in before):
                out.strong.add(term)
                kind = "medication"
            elif kind == "medication_brand":
                kind = "medication_weak"   # a brand name alone counts only beside other health information
            out.terms[term] = kind
        elif kind == "lab":
            if after is None:
                after = hay[end:end + 80].split()[:4]
            if any(_NUMBER.match(t) for t in after[:3]) or after[:1] in (["level"], ["levels"]):
                out.strong.add(term)   # a value, or the test ordered or read ("a TSH level will be obtained")
        elif kind == "procedure":
            # "s/p lap chole", "underwent a colonoscopy": a procedure done to a person, not named in passing
            if _PROCEDURE_FRAME.search(" ".join(hay[max(0, start - 40):start].split()[-3:])):
                out.strong.add(term)
        elif kind == "condition":
            before = hay[max(0, start - 160):start].split()[-8:]
            if any(b in ("diagnosed", "dx", "history", "hx", "with", "for", "of") for b in before[-3:]) and \
                    any(b in ("diagnosed", "dx", "hx", "history", "patient", "pt", "positive") for b in before):
                out.strong.add(term)
    if "prescription" in out.statements and any(out.terms.get(t) == "medication" for t in out.strong):
        out.statements.discard("prescription")   # the drug's own dose and sig: one statement, counted once
    if out.confidence() < 0.8 and sections.list_item(lower, out.terms, vocabulary.load()):
        out.statements.add("list item")           # a diagnosis or procedure list's item (sections.py)
    if out.confidence() < 0.8 and vocabulary.clinical(text):
        out.statements.add("clinical language")   # one or two sentences of clinical prose (vocabulary.py)
    if story and out.confidence() < 0.8 and narrative.clinical(text, lower):
        out.statements.add("clinical narrative")  # a short text that reads as a patient's note (narrative.py)
    return out
