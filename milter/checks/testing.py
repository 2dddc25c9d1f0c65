"""A pytest fixture for plugin authors: run a message through your plugin and the rules.

    def test_my_check(outguard_harness):
        harness = outguard_harness(plugins={"mycheck": my_module}, rules=RULES_YAML)
        result = harness.check("Subject: hi\\n\\nbody", rcpts=["a@example.net"])
        assert result.decision.verdict == "quarantine"

Installed with outguard (entry point `pytest11`), so nothing to import in conftest.py.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from outguard.checks.host import exactly
from outguard.core.config import load_config
from outguard.core.decision import Result
from outguard.core.message import Envelope
from outguard.pipeline import Inspector


class Harness:
    """One Inspector built the way the daemon builds it, with your plugins added."""

    def __init__(self, inspector: Inspector) -> None:
        self.inspector = inspector

    def check(self, message: str | bytes, sender: str = "", rcpts: list[str] | tuple[str, ...] = (),
              auth_user: str | None = None, client_address: str | None = None) -> Result:
        raw = message if isinstance(message, bytes) else textwrap.dedent(message).lstrip().encode("utf-8")
        envelope = Envelope(sender=sender, recipients=tuple(rcpts), auth_user=auth_user, client_address=client_address)
        return self.inspector.inspect(raw, envelope, envelope_from_headers=True)

    def finding_ids(self, result: Result) -> list[str]:
        return sorted({f.id for f in result.findings})


@pytest.fixture
def outguard_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Factory: `outguard_harness(plugins={name: check object}, rules=yaml_text_or_path,
    defaults=True, enabled=[installed checks to run, exactly], config={overrides})`."""
    made: list[Inspector] = []

    def make(plugins: dict[str, object] | None = None, rules: str | Path | None = None, defaults: bool = True,
             enabled: list[str] | None = None, config: dict[str, Any] | None = None) -> Harness:
        overrides = dict(config or {})
        overrides.setdefault("rules", {"site": None, "local": [], "override": []})
        if enabled is not None:  # exactly these checks (shipped ones not named are disabled)
            overrides.setdefault("plugins", {}).update(exactly(enabled))
        cfg = load_config(Path("/dev/null"), overrides)
        paths = []
        if isinstance(rules, Path):
            paths.append(rules)
        elif rules:
            path = tmp_path / f"harness-rules-{len(made)}.yaml"
            path.write_text(textwrap.dedent(rules).lstrip())
            paths.append(path)
        inspector = Inspector.create(cfg, paths, include_defaults=defaults, extra_plugins=plugins)
        made.append(inspector)
        return Harness(inspector)

    yield make
    for inspector in made:
        inspector.close()
