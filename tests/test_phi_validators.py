"""Validators of the PHI check, with vectors from public sources:
SSA (invalid SSN areas, groups, serials; numbers published in advertising), CMS (MBI format
and its published example; the NPI check-digit standard's worked example), the DEA check digit."""

from __future__ import annotations

import pytest

from outguard_plugins.phi import validators as v


@pytest.mark.parametrize("ssn", ["536904399", "001010001", "665999999", "899999999", "123456788", "772451234"])
def test_ssn_valid(ssn: str) -> None:
    assert v.ssn_valid(ssn)


@pytest.mark.parametrize("ssn,why", [
    ("000123456", "area 000"), ("666123456", "area 666"), ("900123456", "area 9xx"), ("987654321", "advertising range"),
    ("999123456", "area 9xx"), ("123001234", "group 00"), ("123450000", "serial 0000"),
    ("078051120", "Woolworth wallet card"), ("219099999", "SSA pamphlet"), ("457555462", "published"),
    ("123456789", "sequence"), ("111111111", "one repeated digit"), ("555555555", "one repeated digit"),
    ("12345678", "too short"), ("1234567890", "too long"), ("12345678a", "not digits"),
])
def test_ssn_invalid(ssn: str, why: str) -> None:
    assert not v.ssn_valid(ssn), why


@pytest.mark.parametrize("mbi", [
    "1EG4-TE5-MK73",   # CMS's published example ("Understanding the MBI format")
    "1EG4TE5MK73", "9AA0A00AA00", "1E14TE5MK73",  # positions 3 and 6 may be digits
    "1A00A00AA00", "2C34E56FG78", "8Y91W23VU45",
])
def test_mbi_valid(mbi: str) -> None:
    assert v.mbi_valid(mbi)


@pytest.mark.parametrize("mbi,why", [
    ("0EG4TE5MK73", "position 1 is 1-9"), ("1SG4TE5MK73", "S excluded"), ("1LG4TE5MK73", "L excluded"),
    ("1OG4TE5MK73", "O excluded"), ("1IG4TE5MK73", "I excluded"), ("1BG4TE5MK73", "B excluded"),
    ("1ZG4TE5MK73", "Z excluded"), ("1EG4TS5MK73", "S excluded in position 6"),
    ("11G4TE5MK73", "position 2 is a letter"), ("1EGATE5MK73", "position 4 is a digit"),
    ("1EG4TE5MK7", "10 characters"), ("1EG4TE5MK733", "12 characters"), ("1EG4-TE5-MK7S", "position 11 is a digit"),
])
def test_mbi_invalid(mbi: str, why: str) -> None:
    assert not v.mbi_valid(mbi), why


def test_hicn_is_an_ssn_with_a_beneficiary_code() -> None:
    assert v.hicn_valid("536904399A")
    assert v.hicn_valid("536-90-4399-B1")
    assert v.hicn_valid("536904399D6")
    assert not v.hicn_valid("536904399Z")      # no such beneficiary code
    assert not v.hicn_valid("000904399A")      # the SSN part must be valid
    assert not v.hicn_valid("536904399")       # no code: that is an SSN


@pytest.mark.parametrize("npi", ["1234567893",   # CMS "NPI check digit" worked example
                                 "1245319599", "1679576722", "1003000126", "2000000002"])
def test_npi_valid(npi: str) -> None:
    assert v.npi_valid(npi)


@pytest.mark.parametrize("npi", ["1234567890", "1234567894", "3234567893", "123456789", "12345678931", "0234567893"])
def test_npi_invalid(npi: str) -> None:
    assert not v.npi_valid(npi)


@pytest.mark.parametrize("dea", [
    "AB1234563",   # (1+3+5) + 2*(2+4+6) = 33 -> 3
    "BJ6125341",   # (6+2+3) + 2*(1+5+4) = 31 -> 1
    "FS1234563", "MA4000004", "X91234563",
])
def test_dea_valid(dea: str) -> None:
    assert v.dea_valid(dea)


@pytest.mark.parametrize("dea", ["AB1234567", "BJ6125342", "1B1234563", "AB123456", "AB12345630", "QB1234563", "A11234563"])
def test_dea_invalid(dea: str) -> None:
    assert not v.dea_valid(dea)


def test_ndc_layouts() -> None:
    assert v.ndc_valid("0002-3227-30")     # 4-4-2
    assert v.ndc_valid("12345-678-90")     # 5-3-2
    assert v.ndc_valid("12345-6789-0")     # 5-4-1
    assert v.ndc_valid("00002-3227-30")    # 11-digit billing form 5-4-2
    assert not v.ndc_valid("123-4567-89")
    assert not v.ndc_valid("0000-0000-00")
    assert not v.ndc_valid("0002322730")


def test_icd10cm_against_the_cms_code_list() -> None:
    icd = v.ICD10CM()
    assert len(icd.codes) > 70000
    for code in ("E11.9", "E119", "I10", "J45.909", "Z79.4", "C50.911", "F32.A"):
        assert icd.valid(code), code
    for code in ("E11.99", "I10.0", "A99.9", "U99", "Z99.99", "E1"):
        assert not icd.valid(code), code
