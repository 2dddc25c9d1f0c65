"""An EDM schema (`--schema patients.yaml`): which CSV columns are identifiers, how the
checks find them in mail, and which columns corroborate a match.

```yaml
name: patients                     # the finding is phi.edm.patients
primary:                           # column: how the identifier is found in mail
  mrn: {pattern: '\\bRV-\\d{7}\\b'}  # a site format (regex), or a detector of the PHI check:
  ssn: ssn                         # ssn | mbi | mrn | member_id | digits
corroborating:                     # column: name (any word of it) | date | text (the whole value)
  first_name: name
  last_name: name
  dob: date
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DETECTORS = ("ssn", "mbi", "mrn", "member_id", "digits")
FIELD_KINDS = ("name", "date", "text")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")


class EdmSchemaError(Exception):
    """The schema file cannot be used; the message says where."""


@dataclass(frozen=True)
class Primary:
    column: str
    detector: str            # one of DETECTORS, or "pattern"
    pattern: str | None = None


@dataclass(frozen=True)
class EdmSchema:
    name: str
    primary: tuple[Primary, ...]
    corroborating: tuple[tuple[str, str], ...]   # (column, kind)
    day_first: bool = False                      # 03/04/1961 is 3 April

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "day_first": self.day_first,
                "primary": {p.column: ({"pattern": p.pattern} if p.detector == "pattern" else p.detector)
                            for p in self.primary},
                "corroborating": dict(self.corroborating)}

    @classmethod
    def from_dict(cls, data: Any, where: str = "schema") -> EdmSchema:
        if not isinstance(data, dict):
            raise EdmSchemaError(f"{where}: a mapping with name, primary and corroborating is needed")
        unknown = set(data) - {"name", "primary", "corroborating", "day_first"}
        if unknown:
            raise EdmSchemaError(f"{where}: unknown key(s) {sorted(unknown)}")
        name = data.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise EdmSchemaError(f"{where}: name must be lower-case letters, digits and _ (it names phi.edm.<name>)")
        primary_spec = data.get("primary")
        if not isinstance(primary_spec, dict) or not primary_spec:
            raise EdmSchemaError(f"{where}: primary: map each identifier column to a detector or {{pattern: REGEX}}")
        primary = []
        for column, spec in primary_spec.items():
            if isinstance(spec, dict) and set(spec) == {"pattern"}:
                try:
                    re.compile(str(spec["pattern"]))
                except re.error as exc:
                    raise EdmSchemaError(f"{where}: primary.{column}.pattern: {exc}") from None
                primary.append(Primary(str(column), "pattern", str(spec["pattern"])))
            elif spec in DETECTORS:
                primary.append(Primary(str(column), str(spec)))
            else:
                raise EdmSchemaError(f"{where}: primary.{column}: {spec!r} is neither one of {', '.join(DETECTORS)} "
                                     f"nor {{pattern: REGEX}}")
        corro = data.get("corroborating")
        if not isinstance(corro, dict) or not corro:
            raise EdmSchemaError(f"{where}: corroborating: map at least one column to {', '.join(FIELD_KINDS)}")
        for column, kind in corro.items():
            if kind not in FIELD_KINDS:
                raise EdmSchemaError(f"{where}: corroborating.{column}: {kind!r} is not one of {', '.join(FIELD_KINDS)}")
        return cls(name, tuple(primary), tuple((str(c), str(k)) for c, k in corro.items()), bool(data.get("day_first")))


def load_schema(path: Path) -> EdmSchema:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EdmSchemaError(f"{path}: {exc}") from None
    return EdmSchema.from_dict(data, str(path))
