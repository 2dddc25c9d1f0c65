"""Patient tables: CSV/TSV exports, spreadsheet text and HTML tables as the message model
renders them (one row a line; cells split by a delimiter or, for HTML today, by a space).

A header row names the columns. When one column is a name (patient, name, member name,
first/last name...) or an identifier (DOB, MRN, SSN, member ID, MBI, account, phone) and
another header names an identifier or health information (diagnosis, medication...), the
values under those columns are that patient's name and identifiers: "Jane Roe" under
"Patient" is a name even without a "Patient:" label before it, 00482913 under "MRN" a
record number. Rows are read only below such a header, at most MAX_ROWS of them, each once:
the cost stays linear in the text.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

import regex

from outguard_plugins.phi import labels
from outguard_plugins.phi import validators as v
from outguard_plugins.phi.deadline import NONE as NO_DEADLINE
from outguard_plugins.phi.deadline import Deadline
from outguard_plugins.phi.identifiers import Hit
from outguard_plugins.phi.prefilter import Anchored

MAX_ROWS = 5000
MAX_HEADER = 400   # characters of a header row
_HEADER_WORDS = re.compile(
    r"(?<![a-z])(?:patient(?:'s)?(?: full)? name|patient|pt name|pt(?![a-z])|member name|insured name|beneficiary name|resident"
    r"|student(?: name)?|employee(?: name)?|child(?:'s)?(?: name)?|client(?: name)?"
    r"|full name|name|first name|last name|surname|dob|d\.o\.b\.?|date of birth|birth ?date|mrn"
    r"|medical record(?: number| no\.?| #)?|chart(?: number| no\.?| #)?|patient id|ssn|social security(?: number)?"
    r"|member id|subscriber id|member #|policy(?: number| no\.?| #)?|insurance id|medicaid(?: id)?|mbi|medicare(?: id| number)?"
    r"|account(?: number| no\.?| #)?|acct(?: no\.?| #)?|phone|home phone|cell|diagnos[ie]s|dx|icd(?:-?10)?|condition"
    r"|medications?|meds|rx|drugs?|allergies|procedure|reason for visit|visit reason|admit date|discharge date"
    r"|health plan(?: id| number| no\.?| #)?|guarantor|insured)(?![a-z])")
# header words tried only where a literal opening stands (prefilter.py: one Aho-Corasick pass, the same matches)
_HEADER_WORDS_AT = Anchored(_HEADER_WORDS)
_KIND = {"dob": "dob", "d.o.b": "dob", "d.o.b.": "dob", "date of birth": "dob", "birthdate": "dob", "birth date": "dob",
         "mrn": "mrn", "patient id": "mrn", "ssn": "ssn", "mbi": "mbi", "medicare": "mbi", "medicare id": "mbi",
         "medicare number": "mbi", "member id": "health_plan", "subscriber id": "health_plan", "member #": "health_plan",
         "insurance id": "health_plan", "medicaid": "health_plan", "medicaid id": "health_plan", "phone": "phone",
         "home phone": "phone", "cell": "phone"}
_PREFIX_KIND = (("medical record", "mrn"), ("chart", "mrn"), ("social security", "ssn"), ("policy", "health_plan"),
                ("account", "account"), ("acct", "account"), ("patient account", "account"), ("health plan", "health_plan"))
_NAME_COLUMN = re.compile(r"(?:patient(?:'s)?(?: full)? name|patient|pt name|pt|member name|insured name|beneficiary name"
                          r"|resident|client(?: name)?|full name|name|first name|last name|surname"
                          r"|student(?: name)?|employee(?: name)?|child(?:'s)?(?: name)?)")
_WORD = regex.compile(r"\p{Lu}[\p{Ll}'\-]+|\p{Lu}{2,}(?:'\p{Lu}+)?|\p{Lu}\.?", regex.VERSION0)
_LOWER_WORD = regex.compile(r"\p{L}[\p{L}'\-]*", regex.VERSION0)
_ID_VALUE = re.compile(r"(?=[A-Z0-9\-]*\d{4})[A-Z0-9][A-Z0-9\-]{3,18}[A-Z0-9]")
_DATE = re.compile(r"\d{1,2}[/\-.]\d{1,2}[/\-.](?:19|20)?\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}")
_NOT_NAMES = frozenset("The This Total Name Patient Date None Unknown Male Female Yes No Na Test Census Diagnosis".split())


def _kind(header_cell: str) -> str | None:
    cell = header_cell.replace("_", " ").strip(" :#*\"'").lower()
    if cell in _KIND:
        return _KIND[cell]
    kind = next((kind for prefix, kind in _PREFIX_KIND if cell.startswith(prefix)), None)
    if kind is None and (m := labels.LABEL.fullmatch(cell)) is not None:
        kind = labels.kind_of(m)[0]   # a record, plan or account label of labels.py ("visit #", "guarantor id")
    return kind


# a health column, qualified or not ("primary_dx", "admitting diagnosis", "reason for visit")
_HEALTH_COLUMN = re.compile(r"(?:[a-z]+ ){0,2}(?:diagnos[ie]s|dx|condition|medications?|meds|rx|drugs?|allergies|procedure"
                            r"|reason for visit|visit reason)")


def _known(head: str) -> bool:
    """A header cell that names a column the table scan reads: its own words or a label of labels.py,
    a health column qualified ("primary_dx", "admitting diagnosis") too."""
    cell = head.replace("_", " ").strip(" :#*\"'")
    return _HEADER_WORDS.fullmatch(cell) is not None or labels.LABEL.fullmatch(cell) is not None or \
        _HEALTH_COLUMN.fullmatch(cell.lower()) is not None


def _delimiter(line: str) -> str | None:
    return next((d for d in ("\t", "|", ";", ",") if d in line), None)


def _cells(line: str, delim: str) -> list[str]:
    if delim == ",":
        try:
            return [c.strip() for c in next(csv.reader([line]))]
        except (csv.Error, StopIteration):
            pass
    return [c.strip() for c in line.split(delim)]


def _person(cell: str, any_case: bool = False) -> str | None:
    """`cell` when shaped like a person's name: two to four words ("Jane Roe", "Roe, Jane", "Jane Q. Roe");
    under a name column (`any_case`) lower-case words count too."""
    words = cell.replace(",", " ").split()
    if not 2 <= len(words) <= 4 or words[0] in _NOT_NAMES:
        return None
    shape = _LOWER_WORD if any_case else _WORD
    if any(not shape.fullmatch(w.rstrip(".")) and not _WORD.fullmatch(w) for w in words):
        return None
    return cell if sum(len(w.rstrip(".")) > 1 for w in words) >= 2 else None


def _leading_person(row: str) -> str | None:
    """The capitalised words an HTML row starts with (its cells are joined by spaces today)."""
    words: list[str] = []
    for w in row.split()[:3]:
        if not _WORD.fullmatch(w.rstrip(",")):
            break
        words.append(w.rstrip(","))
    return _person(" ".join(words)) if len(words) >= 2 else None


def _value_hit(kind: str, value: str, at: int) -> Hit | None:
    """A cell under an identifier column, validated like the same identifier in prose."""
    value = value.strip()
    if not value:
        return None
    if kind == "dob":
        value = value.removesuffix(" 00:00:00")   # a spreadsheet date cell, as the XLSX extractor writes it
        m = _DATE.fullmatch(value)
        return Hit("dob", value, at, at + len(value), 0.9, "dob") if m else None
    if kind == "ssn":
        digits = value.replace("-", "").replace(" ", "")
        return Hit("ssn", value, at, at + len(value), 0.95, "ssn") if v.ssn_valid(digits) else None
    if kind == "mbi":
        return Hit("mbi", value, at, at + len(value), 0.95, "medicare") if v.mbi_valid(value) else None
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        return Hit("phone", value, at, at + len(value), 0.85, "patient") if len(digits) in (10, 11) else None
    if _ID_VALUE.fullmatch(value.upper()) and not _DATE.fullmatch(value):
        return Hit(kind, value, at, at + len(value), 0.9, kind)
    return None


def _header(lower: str, start: int, end: int) -> tuple[str | None, list[str], bool] | None:
    """(delimiter, header cells, first column is a name) when the line is a patient table's header."""
    line = lower[start:end].replace("_", " ")   # snake_case column names: patient_name, member_id
    if len(line) > MAX_HEADER:
        return None
    words = [m.group() for m in _HEADER_WORDS.finditer(line)]
    if len(words) < 2:
        return None
    delim = _delimiter(line)
    if delim is not None:
        heads = _cells(line, delim)
        known = sum(1 for h in heads if _known(h))
        return (delim, heads, False) if known >= 2 and _about_patients(heads) else None
    if ":" in line or len(line.split()) > 20 or not _HEADER_WORDS.match(line.lstrip()) or not _about_patients(words):
        return None
    return None, words, _NAME_COLUMN.fullmatch(words[0]) is not None


_OTHER_PERSON = re.compile(r"(?:student|employee|child)(?:'s)?(?: name)?|client")


def _about_patients(heads: list[str]) -> bool:
    """A table of students, employees or clients (not patients by their column) is read only with a
    birth date, a record number or a health column beside the names: an HR list of employees and
    their supervisors names people, no patient."""
    cells = [h.replace("_", " ").strip(" :#*\"'").lower() for h in heads]
    if not any(_OTHER_PERSON.fullmatch(c) for c in cells):
        return True
    return any(_kind(c) is not None or _HEALTH_COLUMN.fullmatch(c) for c in cells if not _OTHER_PERSON.fullmatch(c))


def _row_hits(text: str, start: int, end: int, delim: str | None, heads: list[str], name_first: bool) -> Iterator[Hit]:
    row = text[start:end]
    if delim is not None:
        cells = _cells(row, delim)
        at = start
        name_cols = [i for i, h in enumerate(heads) if _NAME_COLUMN.fullmatch(h.replace("_", " ").strip(" :#*\"'").lower())]
        if len(name_cols) == 2 and all(i < len(cells) for i in name_cols):   # first name | last name
            joined = _person(" ".join(cells[i] for i in name_cols), any_case=True)
            if joined:
                yield Hit("name", joined, start, end, 0.85, "patient")
            name_cols = []
        for i, cell in enumerate(cells[: len(heads)]):
            pos = text.find(cell, at, end) if cell else -1
            at = pos if pos >= 0 else at
            if i in name_cols:
                name = _person(cell, any_case=True)
                if name:
                    yield Hit("name", name, at, at + len(name), 0.85, "patient")
                continue
            kind = _kind(heads[i])
            hit = _value_hit(kind, cell, at) if kind else None
            if hit:
                yield hit
        return
    # space-joined (HTML): a name first; identifiers by shape where the header leaves one reading
    if name_first:
        name = _leading_person(row)
        if name:
            yield Hit("name", name, start, start + len(name), 0.85, "patient")
    kinds = {_kind(h) for h in heads} - {None}
    generic = {k for k in kinds & {"mrn", "health_plan", "account"} if k is not None}
    for token in row.split():
        at = text.find(token, start, end)
        if _DATE.fullmatch(token):
            hit = _value_hit("dob", token, at) if "dob" in kinds else None
        elif "ssn" in kinds and re.fullmatch(r"\d{3}-\d{2}-\d{4}", token):
            hit = _value_hit("ssn", token, at)
        elif "mbi" in kinds and v.mbi_valid(token):
            hit = _value_hit("mbi", token, at)
        elif len(generic) == 1 and _ID_VALUE.fullmatch(token) and not re.fullmatch(r"\d{3}-\d{3,4}", token):
            hit = _value_hit(next(iter(generic)), token, at)
        else:
            hit = None
        if hit:
            yield hit


def scan(text: str, lower: str, clock: Deadline = NO_DEADLINE) -> Iterator[Hit]:
    """Names and identifiers under the columns of every patient table in `text` (`lower` = text.lower())."""
    pos, n = 0, len(text)
    while pos < n:
        clock.tick()
        m = _HEADER_WORDS_AT.search(lower, lower, pos)
        if m is None:
            return
        # a header is a short line: look for its ends only that far (a text of one huge line stays linear)
        line_start = lower.rfind("\n", max(0, m.start() - MAX_HEADER), m.start()) + 1
        line_end = lower.find("\n", m.end(), m.end() + MAX_HEADER)
        line_end = n if line_end < 0 and m.end() + MAX_HEADER >= n else line_end
        if line_end < 0 or (line_start == 0 and m.start() > MAX_HEADER):
            pos = m.end()
            continue
        pos = line_end + 1
        header = _header(lower, line_start, line_end)
        if header is None:
            continue
        delim, heads, name_first = header
        rows = 0
        while pos < n and rows < MAX_ROWS:
            end = text.find("\n", pos)
            end = n if end < 0 else end
            if not text[pos:end].strip() or (delim is not None and delim not in text[pos:end]):
                break
            rows += 1
            clock.tick()
            yield from _row_hits(text, pos, end, delim, heads, name_first)
            pos = end + 1
