"""Shared fixtures: where the shared corpora live, and small builders for configs and rules."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pg
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


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server URL (started by scripts/ensure-postgres if need be), or a skip saying why not."""
    reason = pg.pg_available()
    if reason:
        pytest.skip(pg.skip_text(reason))
    return pg.server_url()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A throw-away PostgreSQL database (dropped after the test)."""
    url = pg.create_database()
    try:
        yield url
    finally:
        pg.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on the embedded SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'suppression.sqlite3'}"
        return
    url = request.getfixturevalue("pg_url")
    yield url
