"""The authored bench sets (bench/data/authored*/): every item is one the bench can fill and score."""

from __future__ import annotations

import importlib.util
import json
import random
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
FORMS = {"plain", "html", "txt-attachment", "csv-attachment", "tsv-attachment"}


def _bench():  # noqa: ANN202 - a bench module, loaded by path
    spec = importlib.util.spec_from_file_location("phi_accuracy", BENCH / "phi_accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)   # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("folder", sorted(p.name for p in (BENCH / "data").iterdir() if p.name.startswith("authored")))
def test_every_item_uses_only_placeholders_the_bench_fills(folder: str) -> None:
    pa = _bench()
    items = [item for name in ("wrappers.json", "messages.json") if (BENCH / "data" / folder / name).exists()
             for item in json.loads((BENCH / "data" / folder / name).read_text())]
    assert items, folder
    assert len({item["id"] for item in items}) == len(items)
    for item in items:
        assert item.get("form", "plain") in FORMS, item["id"]
        text = " ".join(str(item.get(k) or "") for k in ("subject", "body", "attachment_body"))
        for brace in re.findall(r"\{[^}]*\}", text):
            assert pa._PLACEHOLDER.fullmatch(brace), (item["id"], brace)
        if item.get("phi"):
            assert pa._PLACEHOLDER.search(text), item["id"]   # a PHI message carries an identifier to fill
        raw = pa._authored_message(item, 1, pa._Filler(random.Random(1), ["Maria Gonzalez"]), "She was seen today.")
        assert not pa._PLACEHOLDER.search(raw.decode("utf-8", "replace")), item["id"]   # every placeholder filled
