"""Shared fixtures: where the shared corpora live, and small builders for configs and rules."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import CORPORA
from outguard.core.config import Config, load_config


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA} (they live beside the project checkout)")
    return CORPORA


@pytest.fixture
def config() -> Config:
    """Embedded defaults only: never the machine's /etc/outguard."""
    return load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}})


@pytest.fixture
def write_rules(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "local.yaml", folder: Path | None = None) -> Path:
        target = (folder or tmp_path / "rules") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
        return target

    return write


@pytest.fixture(scope="module")
def outguard_harness_once(tmp_path_factory):
    """One Inspector for many generated examples (hypothesis calls the test repeatedly)."""
    from outguard.checks.testing import Harness
    from outguard.pipeline import Inspector

    cfg = load_config(Path("/dev/null"), {"rules": {"local": [], "override": []}})
    inspector = Inspector.create(cfg)
    yield Harness(inspector)
    inspector.close()
