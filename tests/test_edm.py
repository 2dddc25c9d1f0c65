"""Exact data match: import is idempotent and stores no value; the check fires on a real
patient's number next to that patient's name or date of birth, and on nothing else."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from edm_synth import SCHEMA_YAML, patients, unused_numbers, write_csv
from outguard.cli.main import main
from outguard.edm import EdmSchemaError, EdmService, Hasher, import_csv, load_schema
from outguard.store import resolve

RULES = """
rules:
  - id: edm-hold
    description: own patients are held
    status: experimental
    when: {finding: "phi.edm.*"}
    then: {quarantine: own patient}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("edm")
    (base / "edm.key").write_text("k" * 48)
    (base / "patients.yaml").write_text(SCHEMA_YAML)
    write_csv(base / "patients.csv", patients(10_000))
    (base / "outguard.yaml").write_text(f"edm: {{secret_file: '{base / 'edm.key'}'}}\n"
                                        f"store: {{url: '{base / 'store.sqlite3'}'}}\n")
    assert main(["edm", "--config", str(base / "outguard.yaml"), "import", str(base / "patients.csv"),
                 "--schema", str(base / "patients.yaml")]) == 0
    return {"base": base, "store": base / "store.sqlite3", "config": base / "outguard.yaml"}


def test_import_counts_and_is_idempotent(site: dict[str, Path], capsys) -> None:
    args = ["edm", "--config", str(site["config"]), "import", str(site["base"] / "patients.csv"),
            "--schema", str(site["base"] / "patients.yaml")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "10000 rows, 0 new records, 10000 already stored" in out and "0 bad rows" in out
    assert main(["edm", "--config", str(site["config"]), "list"]) == 0
    assert "phi.edm.patients: 10000 records" in capsys.readouterr().out


def test_the_store_holds_no_value(site: dict[str, Path]) -> None:
    data = b"".join(f.read_bytes() for f in site["base"].glob("store.sqlite3*"))   # WAL included
    for p in patients(10_000)[:200]:
        values = (p.mrn, p.mrn[3:], p.last_name, p.last_name.lower(), p.dob.isoformat(), p.dob.strftime("%m/%d/%Y"))
        for value in values:
            assert len(value) < 6 or value.encode() not in data   # shorter ones turn up in any binary by chance


def test_bad_rows_and_schemas_are_reported(site: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("mrn,first_name,last_name,dob\n,Ann,Lee,01/02/1960\nRV-1234567,Bo,Kim,\n")
    hasher = Hasher(b"k" * 48)
    counts = import_csv(resolve(str(tmp_path / "s.sqlite3")), bad, load_schema(site["base"] / "patients.yaml"),
                        hasher)
    assert counts.rows == 2 and counts.records_new == 1 and counts.bad == [f"{bad}:2: no identifier"]
    (tmp_path / "s.yaml").write_text("name: Patients\nprimary: {mrn: mrn}\ncorroborating: {dob: date}\n")
    with pytest.raises(EdmSchemaError, match="name must be"):
        load_schema(tmp_path / "s.yaml")
    (tmp_path / "s.yaml").write_text("name: p\nprimary: {mrn: passport}\ncorroborating: {dob: date}\n")
    with pytest.raises(EdmSchemaError, match="primary.mrn"):
        load_schema(tmp_path / "s.yaml")


def test_precision_on_planted_lookalikes(site: dict[str, Path], outguard_harness) -> None:
    harness = outguard_harness(enabled=["edm"], defaults=False, rules=RULES, config={
        "edm": {"secret_file": str(site["base"] / "edm.key")}, "store": {"url": str(site["store"])}})
    rng = random.Random(3)
    known = patients(10_000)
    planted = rng.sample(known, 60)
    positives = []
    for i, p in enumerate(planted):
        near = [f"{p.first_name} {p.last_name}", p.last_name.upper(), f"DOB {p.dob:%m/%d/%Y}",
                f"born {p.dob:%B %-d, %Y}"][i % 4]
        positives.append(f"Subject: referral\n\nPlease see {near}, MRN {p.mrn}, for follow-up.\n")
    negatives = []
    for i, mrn in enumerate(unused_numbers(known, 60)):   # nobody's number, next to real names and dates
        p = planted[i]
        negatives.append(f"Subject: referral\n\nPlease see {p.first_name} {p.last_name} (DOB {p.dob:%m/%d/%Y}), "
                         f"MRN {mrn}.\n")
    for p in planted[:30]:                                # a real number with another patient's name and date
        other = next(o for o in known if o.last_name != p.last_name and o.first_name != p.first_name
                     and o.dob != p.dob)
        negatives.append(f"Subject: x\n\n{other.first_name} {other.last_name} {other.dob:%m/%d/%Y}: MRN {p.mrn}\n")
    for p in planted[30:]:                                # a real number with nothing of its patient near
        negatives.append(f"Subject: x\n\nThe lab called about MRN {p.mrn} again.\n")

    def fires(text: str) -> bool:
        result = harness.check(text, rcpts=["doc@partner.example"])
        return "phi.edm.patients" in harness.finding_ids(result)

    true_pos = sum(fires(m) for m in positives)
    false_pos = sum(fires(m) for m in negatives)
    assert false_pos == 0 and true_pos == len(positives)   # precision 1.0, and every planted patient found
    result = harness.check(positives[0], rcpts=["doc@partner.example"])
    [finding] = [f for f in result.findings if f.id == "phi.edm.patients"]
    assert finding.detail == "1 record(s) of patients matched on first_name, last_name, mrn"
    assert result.decision.verdict == "quarantine"


def test_import_and_match_on_sqlite_and_postgresql(store_url: str, tmp_path: Path) -> None:
    rows = patients(50, seed=21)
    csv_path = write_csv(tmp_path / "p.csv", rows)
    (tmp_path / "s.yaml").write_text(SCHEMA_YAML)
    schema, hasher, location = load_schema(tmp_path / "s.yaml"), Hasher(b"q" * 40), resolve(store_url)
    assert import_csv(location, csv_path, schema, hasher).records_new == 50
    again = import_csv(location, csv_path, schema, hasher)
    assert (again.records_new, again.records_known) == (0, 50)
    service = EdmService(location, hasher)
    try:
        p, q = rows[0], rows[1]
        hits = service.match("patients", [("mrn", p.mrn, f"patient {p.last_name}"), ("mrn", q.mrn, "no name here"),
                                          ("mrn", "RV-0000001", f"{p.first_name} {p.last_name}")])
        assert hits == [(0, ("mrn", "last_name"))]
    finally:
        service.close()
    assert import_csv(location, csv_path, schema, Hasher(b"r" * 40), replace=True).records_new == 50
