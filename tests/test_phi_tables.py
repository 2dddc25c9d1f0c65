"""Patient tables: names and identifiers under the columns of HTML tables and CSV/TSV text."""

from __future__ import annotations

from outguard.core.htmltext import html_to_text
from outguard_plugins.phi import tables


def found(text: str) -> list[tuple[str, str, float]]:
    return [(h.kind, h.value, h.confidence) for h in tables.scan(text, text.lower())]


def test_html_census_table_as_the_message_model_renders_it() -> None:
    text, _ = html_to_text("<p>Census</p><table><tr><th>Patient</th><th>DOB</th><th>MRN</th><th>Diagnosis</th></tr>"
                           "<tr><td>Maria Gonzalez</td><td>04/12/1961</td><td>MR638338</td><td>Asthma</td></tr>"
                           "<tr><td>Tom Baker</td><td>01/02/1950</td><td>MR1234</td><td>COPD</td></tr></table>")
    assert found(text) == [("name", "Maria Gonzalez", 0.85), ("dob", "04/12/1961", 0.9), ("mrn", "MR638338", 0.9),
                           ("name", "Tom Baker", 0.85), ("dob", "01/02/1950", 0.9), ("mrn", "MR1234", 0.9)]


def test_csv_columns_are_read_by_their_headers() -> None:
    rows = found('patient,dob,mrn,ssn,diagnosis\nmaria gonzalez,04/12/1961,123456,536-90-4399,"asthma, mild"\n'
                 '"Baker, Tom",01/02/1950,1234,078-05-1120,copd\n')
    assert ("name", "maria gonzalez", 0.85) in rows and ("name", "Baker, Tom", 0.85) in rows
    assert ("ssn", "536-90-4399", 0.95) in rows
    assert not any(kind == "ssn" and value == "078-05-1120" for kind, value, _ in rows)   # a published SSN


def test_spreadsheet_rows_as_the_xlsx_extractor_writes_them() -> None:
    rows = found("Patient Name\tDate of Birth\tMember ID\tDiagnosis\nJane Roe\t1961-04-12 00:00:00\tXJK123456789\tCOPD\n")
    assert rows == [("name", "Jane Roe", 0.85), ("dob", "1961-04-12", 0.9), ("health_plan", "XJK123456789", 0.9)]


def test_first_and_last_name_columns_make_one_name() -> None:
    assert ("name", "Maria Gonzalez", 0.85) in found("first name\tlast name\tdob\nMaria\tGonzalez\t04/12/1961\n")


def test_tables_without_a_patient_header_say_nothing() -> None:
    assert found("name,price\nWidget Pro,4\nitem,account\nfoo,12345678\n") == []
    assert found("Patient: Jane Roe, DOB 04/12/1961\nThanks for coming in.\n") == []   # a labelled line, not a header


def test_one_column_title_is_no_header_and_a_qualified_health_column_is() -> None:
    lower = "client name\n"
    assert tables._header(lower, 0, len(lower) - 1) is None          # "client name" is one column, not two
    lower = "patient,primary_dx\n"
    assert tables._header(lower, 0, len(lower) - 1) is not None      # "primary_dx": a health column
