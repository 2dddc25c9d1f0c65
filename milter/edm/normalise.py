"""One normal form for a value, used both when a record is imported and when text is
looked up, so "RV-4821937" and "rv 4821937", "Müller" and "MULLER", "03/14/1961" and
"1961-03-14" hash alike."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator

_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_WORD = re.compile(r"[^\W\d_]{2,}")
_NUMERIC_DATE = re.compile(r"(?<!\d)(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2}))(?!\d)")
_NAMED_DATE = re.compile(r"(?i)\b(?:([a-z]{3})[a-z]*\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})"
                         r"|(\d{1,2}) ([a-z]{3})[a-z]*\.? (\d{4}))\b")


def identifier(value: str) -> str:
    """Upper case, separators gone: RV-4821937, rv 4821937 -> RV4821937."""
    return re.sub(r"[\s\-./]", "", value).upper()


def _fold(text: str) -> str:
    if text.isascii():
        return text.casefold()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def name_tokens(text: str) -> set[str]:
    """Letters-only words of two or more letters, accents and case folded."""
    return set(_WORD.findall(_fold(text)))


def _iso(year: int, month: int, day: int) -> str | None:
    if year < 100:
        year += 1900 if year > (dt.date.today().year % 100) else 2000
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def dates(text: str, day_first: bool = False) -> Iterator[str]:
    """Every date written in `text`, as YYYY-MM-DD (numeric dates are month first unless
    `day_first`; dotted ones are always day first, as they are written in Europe)."""
    for m in _NUMERIC_DATE.finditer(text):
        if m.group(1):
            iso = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        else:
            a, b, year = int(m.group(4)), int(m.group(5)), int(m.group(6))
            dotted = "." in m.group(0)
            iso = _iso(year, a, b) if not (day_first or dotted) else _iso(year, b, a)
        if iso:
            yield iso
    for m in _NAMED_DATE.finditer(text):
        month = _MONTHS.get((m.group(1) or m.group(5) or "").lower())
        if month:
            day_s, year_s = (m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(6))
            iso = _iso(int(year_s), month, int(day_s))
            if iso:
                yield iso


def field_values(kind: str, text: str) -> set[str]:
    """The normal forms a corroborating field of `kind` has in `text` (a CSV cell or a window)."""
    if kind == "name":
        return name_tokens(text)
    if kind == "date":
        return set(dates(text))
    return {" ".join(_fold(text).split())} if text.strip() else set()
