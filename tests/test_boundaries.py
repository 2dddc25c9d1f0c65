"""The floor plan holds: which stage may import which (README, "Where things live").

Every import statement counts, at module level or inside a function, so a lazy import
cannot hide a dependency that the layering forbids.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"outguard": ROOT / "milter", "outguard_plugins": ROOT / "plugins"}

# stage -> the outguard stages it may import (itself always allowed)
ALLOWED = {
    "outguard.core": {"outguard.core"},
    "outguard.checks": {"outguard.core"},
    "outguard.rules": {"outguard.core"},
    "outguard_plugins": {"outguard.checks", "outguard_plugins"},
}
# Only these faces may import the daemon or the CLI.
FACES = {"outguard.daemon": {"outguard.cli"}, "outguard.cli": set()}
# Named exceptions, each with its reason.
EXCEPTIONS = {
    # the plugin author's pytest fixture runs a message through the real pipeline and rules
    ("outguard.checks.testing", "outguard.pipeline"),
}


def modules() -> list[tuple[str, Path]]:
    out = []
    for name, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out.append((".".join([name, *parts]), path))
    return out


def imports_of(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & module_names()
            found.update(submodules or {target})  # `from pkg import module` names the module
    return {name for name in found if name.split(".")[0] in PACKAGES}


def module_names() -> set[str]:
    return {m for m, _ in modules()}


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "outguard_plugins" else ".".join(parts[:2])


def known(name: str) -> str | None:
    """The module `name` refers to (a `from pkg import Class` names no module: its package)."""
    names = module_names()
    while name and name not in names:
        name = name.rpartition(".")[0]
    return name or None


def violations() -> list[str]:
    problems = []
    for module, path in modules():
        stage = stage_of(module)
        for raw in sorted(imports_of(module, path)):
            target = known(raw)
            if target is None or target == module:
                continue
            tstage = stage_of(target)
            if tstage == stage or (module, target) in EXCEPTIONS:
                continue
            if stage in ALLOWED and tstage not in ALLOWED[stage]:
                problems.append(f"{module} imports {target}: {stage} may import only {sorted(ALLOWED[stage])}")
            elif tstage in FACES and stage not in FACES[tstage]:
                problems.append(f"{module} imports {target}: nothing but {sorted(FACES[tstage]) or 'itself'} "
                                f"imports {tstage}")
    return problems


def test_every_import_respects_the_stages() -> None:
    assert violations() == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A core module that imports the daemon, even lazily, is reported."""
    core = tmp_path / "milter" / "core"
    core.mkdir(parents=True)
    (core / "__init__.py").write_text("")
    (core / "bad.py").write_text("def f():\n    from outguard.daemon import milter\n")
    (tmp_path / "milter" / "daemon").mkdir()
    (tmp_path / "milter" / "daemon" / "__init__.py").write_text("")
    (tmp_path / "milter" / "daemon" / "milter.py").write_text("")
    monkeypatch.setitem(PACKAGES, "outguard", tmp_path / "milter")
    monkeypatch.setitem(PACKAGES, "outguard_plugins", tmp_path / "none")
    assert violations() == ["outguard.core.bad imports outguard.daemon.milter: outguard.core may import only "
                            "['outguard.core']"]


def test_third_party_import_paths_still_work() -> None:
    from outguard.findings import Finding
    from outguard.hookspecs import hookimpl

    assert Finding("x.y").id == "x.y" and callable(hookimpl)


def test_the_pipeline_does_not_import_the_store_engine() -> None:
    """SQLAlchemy loads only when a store is used (it cost `check` 0.3 s at every start)."""
    import subprocess
    import sys

    code = "import sys, outguard.pipeline; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/",
                         env={"PYTHONSAFEPATH": "1", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "False"
