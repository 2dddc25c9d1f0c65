"""Synthetic patient lists for the EDM tests and bench: made-up names, dates and Riverside-style
record numbers (`RV-` and 7 digits), reproducible from a seed. No real person is in them."""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

FIRST = ("ada", "basil", "clara", "dmitri", "elena", "farid", "greta", "hugo", "ines", "jonas", "keiko", "lars",
         "mina", "nadia", "oskar", "priya", "quentin", "rosa", "soren", "tamar", "umar", "vera", "wen", "xavier",
         "yara", "zeno")
LAST_STEMS = ("hart", "lind", "moor", "brook", "field", "stone", "wood", "ash", "fair", "gold", "hill", "marsh",
              "north", "oak", "pike", "rowe", "shaw", "thorn", "vale", "west", "wynn", "yates", "birch", "crane")
LAST_ENDS = ("", "ley", "man", "son", "er", "well", "ford", "by", "ton", "ham")

SCHEMA_YAML = """\
name: patients
primary:
  mrn: {pattern: '\\bRV-\\d{7}\\b'}
corroborating:
  first_name: name
  last_name: name
  dob: date
"""


@dataclass(frozen=True)
class Patient:
    mrn: str
    first_name: str
    last_name: str
    dob: dt.date


def patients(count: int, seed: int = 7) -> list[Patient]:
    rng = random.Random(seed)
    numbers = rng.sample(range(1_000_000, 10_000_000), count)
    out = []
    for n in numbers:
        last = rng.choice(LAST_STEMS) + rng.choice(LAST_ENDS)
        dob = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(80 * 365))
        out.append(Patient(f"RV-{n}", rng.choice(FIRST).title(), last.title(), dob))
    return out


def unused_numbers(known: list[Patient], count: int, seed: int = 11) -> list[str]:
    """Record numbers of the same shape that are nobody's."""
    rng = random.Random(seed)
    taken = {p.mrn for p in known}
    out: list[str] = []
    while len(out) < count:
        mrn = f"RV-{rng.randrange(1_000_000, 10_000_000)}"
        if mrn not in taken:
            out.append(mrn)
            taken.add(mrn)
    return out


def write_csv(path: Path, rows: list[Patient]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["mrn", "first_name", "last_name", "dob"])
        for p in rows:
            w.writerow([p.mrn, p.first_name, p.last_name, p.dob.strftime("%m/%d/%Y")])
    return path
