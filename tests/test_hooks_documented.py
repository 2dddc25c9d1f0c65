"""Meta-tests (after datasette): every hook is documented in the README and in its spec,
and exercised by a test; the README's example check runs as printed."""

from __future__ import annotations

import inspect
import re

import pytest

from helpers import PROJECT
from outguard.checks import spec

README = (PROJECT / "README.md").read_text()
TESTS = {p: p.read_text() for p in (PROJECT / "tests").rglob("test_*.py")}


@pytest.mark.parametrize("hook", spec.HOOKS)
def test_hook_has_a_row_in_the_readme(hook: str) -> None:
    assert re.search(rf"^\| `{hook}` \|", README, re.M), f"README's Hooks table lacks {hook}"


@pytest.mark.parametrize("hook", spec.HOOKS)
def test_hook_spec_documents_every_parameter(hook: str) -> None:
    function = getattr(spec, hook)
    doc = inspect.getdoc(function) or ""
    assert doc, f"{hook} has no docstring"
    for name in inspect.signature(function).parameters:
        assert f":param {name}:" in doc, f"{hook}: parameter {name} undocumented"


@pytest.mark.parametrize("hook", spec.HOOKS)
def test_hook_is_implemented_by_some_test(hook: str) -> None:
    users = [p.name for p, text in TESTS.items() if re.search(rf"@hookimpl[^\n]*\n\s+def {hook}\(", text)]
    assert users, f"no test implements {hook}"


def test_every_spec_function_is_listed() -> None:
    declared = {name for name, _ in inspect.getmembers(spec, inspect.isfunction) if name.startswith("outguard_")}
    assert declared == set(spec.HOOKS)


def test_the_readme_example_check_runs(outguard_harness) -> None:
    code = re.search(r"```python\n(# ticketcheck.py\n.*?)```", README, re.S)
    assert code, "README lost its example check"
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md:ticketcheck.py", "exec"), namespace)  # noqa: S102 (our own README)
    harness = outguard_harness(plugins={"ticketcheck": namespace["TicketCheck"]()}, enabled=[], defaults=False,
                               rules="""
        rules:
          - id: hold-tickets
            description: hold ticket numbers
            status: experimental
            when: {finding: org.ticket}
            then: {quarantine: true}
        """)
    result = harness.check("Subject: hi\n\nsee TCK-1234", rcpts=["a@example.net"])
    assert result.decision.verdict == "quarantine"
    [finding] = [f for f in result.findings if f.id == "org.ticket"]
    assert finding.detail == "ticket ***-**34"  # redacted but for the last two
