"""`outguard keys`: import refuses what cannot be used, list and check say what expires, remove."""

from __future__ import annotations

import json
from pathlib import Path

from keys import pgp_identity, smime_identity
from outguard.cli.main import main


def keys(tmp_path: Path, *args: str) -> list[str]:
    return ["keys", "--config", "/dev/null", "--keys-dir", str(tmp_path / "keys"), *args]


def test_import_list_check_remove(tmp_path: Path, capsys) -> None:
    good, _ = smime_identity("bob@partner.example", days=200)
    expired, _ = smime_identity("old@partner.example", days=-2, start_days_ago=40)
    (tmp_path / "bob.pem").write_bytes(good)
    (tmp_path / "old.pem").write_bytes(expired)
    (tmp_path / "carol.asc").write_bytes(pgp_identity(tmp_path / "g", "carol@partner.example"))
    assert main(keys(tmp_path, "import", str(tmp_path / "bob.pem"), str(tmp_path / "old.pem"),
                     str(tmp_path / "carol.asc"))) == 1
    out, err = capsys.readouterr()
    assert "old.pem: refused: certificate" in err and "expired" in err
    assert "bob@partner.example" in out and "carol@partner.example" in out

    assert main(keys(tmp_path, "list", "--json")) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((k["kind"], k["addresses"][0]) for k in listed) == [("pgp", "carol@partner.example"),
                                                                        ("smime", "bob@partner.example")]
    assert all(k["problem"] is None for k in listed)

    assert main(keys(tmp_path, "check", "--days", "30")) == 0
    capsys.readouterr()
    assert main(keys(tmp_path, "check", "--days", "365")) == 1
    assert "expires within 365 days" in capsys.readouterr().err

    assert main(keys(tmp_path, "remove", "bob@partner.example", "nobody@x.example")) == 1
    assert main(keys(tmp_path, "list")) == 0
    out = capsys.readouterr().out
    assert "bob@partner.example" not in out and "carol@partner.example" in out
