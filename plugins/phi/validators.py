"""Check digits and structure rules of US health identifiers. Pure functions, no I/O.

Sources: SSA (SSN area/group/serial rules, randomization 2011), CMS "Understanding the
Medicare Beneficiary Identifier (MBI) format", CMS NPI check-digit standard (Luhn over the
80840 prefix), DEA registration number check digit, FDA NDC 10-digit layouts.
"""

from __future__ import annotations

from stdnum import luhn
from stdnum.us import ssn as _stdnum_ssn

# Numbers published in advertising, on sample cards or in documentation, used as examples:
# never a real person's number (SSA, Wikipedia "Social Security number" invalid SSNs).
KNOWN_FAKE_SSNS = frozenset({
    "078051120",   # the Woolworth wallet card
    "219099999",   # SSA's own advertising pamphlet
    "457555462",   # LifeLock's CEO's published number
    "123456789", "987654320", "987654321", "987654322", "987654323", "987654324",
    "987654325", "987654326", "987654327", "987654328", "987654329",  # advertising range
    "111223333", "012345678", "234567890", "345678901",
})


def ssn_valid(digits: str) -> bool:
    """`digits` is 9 digits (separators already removed). SSA rules: area not 000, 666 or
    9xx, group not 00, serial not 0000; published/fake numbers and runs of one digit rejected."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    if digits in KNOWN_FAKE_SSNS or len(set(digits)) == 1:
        return False
    return bool(_stdnum_ssn.is_valid(digits))


# Medicare Beneficiary Identifier (CMS): 11 characters
#   pos 1: digit 1-9; 2, 5, 8, 9: letter; 3, 6: letter or digit; 4, 7, 10, 11: digit.
# Letters exclude S, L, O, I, B, Z.
MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
_MBI_SHAPE = "NAaNAaNAANN"  # N digit (pos 1: 1-9), A letter, a letter or digit


def mbi_valid(value: str) -> bool:
    v = value.replace("-", "").upper()
    if len(v) != 11:
        return False
    for i, (ch, kind) in enumerate(zip(v, _MBI_SHAPE, strict=True)):
        if kind == "N":
            if not ch.isdigit() or (i == 0 and ch == "0"):
                return False
        elif kind == "A":
            if ch not in MBI_LETTERS:
                return False
        elif not (ch.isdigit() or ch in MBI_LETTERS):
            return False
    return True


# HICN (legacy Medicare claim number): the beneficiary's (or wage earner's) SSN plus a
# beneficiary identification code: a letter, optionally followed by a digit or letter
# (A, B, B1..B9, BA, C1..C9, D, D1..D9, E, F1..F8, HA, J1..J4, K1..K4, M, T, TA, W, ...).
HICN_BIC_FIRST = set("ABCDEFGHJKMTW")


def hicn_valid(value: str) -> bool:
    v = value.replace("-", "").replace(" ", "").upper()
    if len(v) not in (10, 11) or not v[:9].isdigit():
        return False
    bic = v[9:]
    if bic[0] not in HICN_BIC_FIRST:
        return False
    if len(bic) == 2 and not bic[1].isalnum():
        return False
    return ssn_valid(v[:9])


def npi_valid(digits: str) -> bool:
    """National Provider Identifier: 10 digits starting 1 or 2; the Luhn check over the
    number prefixed with 80840 (the US health industry prefix, ISO 7812)."""
    if len(digits) != 10 or not digits.isdigit() or digits[0] not in "12":
        return False
    return bool(luhn.is_valid("80840" + digits))


# DEA registrant type letters (first character): A/B/F/G practitioners and hospitals,
# M mid-level practitioners, P/R distributors, X Suboxone/Subutex prescribers, ...
DEA_FIRST = set("ABCDEFGHJKLMPRSTUX")


def dea_valid(value: str) -> bool:
    """Two letters + 7 digits; check digit = last digit of (d1+d3+d5) + 2*(d2+d4+d6)."""
    v = value.upper()
    if len(v) != 9 or v[0] not in DEA_FIRST or not (v[1].isalpha() or v[1] == "9") or not v[2:].isdigit():
        return False
    d = [int(c) for c in v[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def ndc_valid(value: str) -> bool:
    """NDC in one of FDA's three 10-digit layouts (4-4-2, 5-3-2, 5-4-1) or the 11-digit
    billing form 5-4-2; the dashes are required (a bare digit run is not an NDC claim)."""
    parts = value.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return False
    shape = tuple(len(p) for p in parts)
    if shape not in ((4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2)):
        return False
    return int(parts[0]) != 0


class ICD10CM:
    """The ICD-10-CM code list (CMS, via the `simple_icd_10_cm` package), loaded once."""

    def __init__(self) -> None:
        import importlib.util
        from pathlib import Path

        # the package's own data file, read directly: importing the package parses its XML (1 s)
        spec = importlib.util.find_spec("simple_icd_10_cm")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("simple_icd_10_cm is not installed")
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        listing = next(p for p in data.iterdir() if p.name.startswith("code-list") and p.name.endswith(".txt"))
        codes = set()
        for line in listing.read_text(encoding="utf-8").splitlines():
            code = line.strip()
            if code and "-" not in code and len(code) >= 3 and code[0].isalpha():
                codes.add(code.upper())
        self.codes = frozenset(codes)

    def valid(self, code: str) -> bool:
        """`code` as written (`E11.9` or `E119`); must be a real category or subcategory code."""
        return code.replace(".", "").upper() in self.codes
