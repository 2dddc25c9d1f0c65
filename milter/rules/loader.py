"""Rule files: load, validate (`file:line` errors), layer defaults/local/override, compile.

Layers, after rspamd: the shipped defaults; local files that add rules and patterns;
override files whose entries replace fields of an existing rule or pattern by id
(`enabled: false` switches one off). A set loads whole or not at all.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outguard.core.config import Config, load_schema
from outguard.core.patterns import Pattern, PatternError, PatternSet
from outguard.core.yamlsource import Loaded, SourceError, load_file, validate
from outguard.rules.actions import Actions, compile_actions
from outguard.rules.conditions import Condition, ConditionError, compile_condition

if TYPE_CHECKING:
    from outguard.rules.index import RuleIndex


class RuleSetError(Exception):
    """The rule set cannot be used; `errors` each name `file:line`."""

    def __init__(self, errors: list[SourceError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class RuleTest:
    name: str
    expect: str
    message: str | None
    file: Path | None
    sender: str | None
    recipients: tuple[str, ...]
    auth_user: str | None
    client_address: str | None
    matches: bool | None
    findings: tuple[str, ...]
    origin: str
    headers: tuple[tuple[str, str], ...] = ()  # header name -> value glob the decision must add
    quarantine_reason: str | None = None        # glob
    route: str | None = None
    reply: str | None = None                    # glob over the reject/tempfail text
    drop_recipients: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    status: str
    mode: str
    when: Condition
    then: Actions
    tests: tuple[RuleTest, ...]
    origin: str  # file:line
    finding_refs: tuple[tuple[str, str], ...] = ()  # (finding glob, file:line) of every `finding:` in `when`
    reads_bulk: bool = False                          # `when` has a `bulk:` condition (bulk.detected)
    shadow: bool = False                              # trial: mail goes on as if the rule did not exist, a copy is held
    allow_override: str | None = None                 # "justification" | "acknowledge": the sender may resend past it


BULK_FINDING = "bulk.detected"   # what a `bulk:` condition reads (rules.conditions)


def reads_bulk(when: Any) -> bool:
    """Does a condition tree use `bulk:` anywhere?"""
    if not isinstance(when, dict):
        return False
    return "bulk" in when or any(reads_bulk(sub) for key in ("all", "any") for sub in when.get(key) or []) \
        or reads_bulk(when.get("not"))


def finding_refs(when: Any, loaded: Loaded, path: tuple[Any, ...]) -> list[tuple[str, str]]:
    """Every `finding:` glob in a condition tree, with the file:line it was written at."""
    out: list[tuple[str, str]] = []
    if isinstance(when, dict):
        if isinstance(when.get("finding"), str):
            out.append((when["finding"], f"{loaded.file}:{loaded.line_of(path + ('finding',))}"))
        for key in ("all", "any"):
            for i, sub in enumerate(when.get(key) or []):
                out += finding_refs(sub, loaded, path + (key, i))
        if "not" in when:
            out += finding_refs(when["not"], loaded, path + ("not",))
    return out


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    patterns: PatternSet
    files: tuple[str, ...] = ()
    version: str = ""  # digest of the rule files' bytes: which rules decided, in the audit trail

    @property
    def finding_globs(self) -> frozenset[str]:
        """Every finding glob a rule's `when` reads: findings outside them cannot change a verdict."""
        globs = {glob for rule in self.rules for glob, _ in rule.finding_refs}
        return frozenset(globs | ({BULK_FINDING} if any(rule.reads_bulk for rule in self.rules) else set()))

    @property
    def adds_unsubscribe(self) -> bool:
        return any(r.then.add_unsubscribe for r in self.rules)

    @functools.cached_property
    def index(self) -> RuleIndex:
        """Which rules could match, from a message's finding ids (rules/index.py): built on the
        first decision, kept on this (frozen) set; a reload or `enforcing` makes a new one."""
        from outguard.rules.index import RuleIndex

        return RuleIndex.of(self)

    def enforcing(self, rule_id: str) -> RuleSet:
        """This set with one rule forced to enforce mode (its own tests judge its actions)."""
        return replace(self, rules=tuple(replace(r, mode="enforce") if r.id == rule_id else r for r in self.rules))


def shipped_rules_dir() -> Path:
    return Path(str(resources.files("outguard_rules")))


def _yaml_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path] if path.exists() else []


@dataclass(frozen=True)
class Layers:
    """Which files a rule set is made of, in the order they apply."""

    base: tuple[Path, ...]
    local: tuple[Path, ...]
    override: tuple[Path, ...]


def site_layers(folder: Path, loose: bool) -> tuple[list[Path], list[Path]]:
    """A site folder's (local, override) files: FOLDER/local.d and FOLDER/override.d, and
    with `loose` the rule files lying in FOLDER itself too (a `--rules` folder; not
    /etc/outguard, where outguard.yaml lives)."""
    return ((_yaml_files(folder) if loose else []) + _yaml_files(folder / "local.d"),
            _yaml_files(folder / "override.d"))


def layers(config: Config, extra: list[Path] | None = None, include_defaults: bool | None = None) -> Layers:
    """The files the config (and `--rules` folders or files in `extra`) name. A folder or
    file named explicitly must exist; the site folder's subfolders may be absent."""
    rules_cfg = config.rules
    defaults = rules_cfg["defaults"] if include_defaults is None else include_defaults
    local: list[Path] = []
    override: list[Path] = []
    if rules_cfg.get("site"):
        site_local, site_override = site_layers(Path(rules_cfg["site"]), loose=False)
        local += site_local
        override += site_override
    missing = []
    for key, into in (("local", local), ("override", override)):
        for name in rules_cfg[key]:
            path = Path(name)
            if not path.exists():
                missing.append(SourceError(config.source, 1, f"rules.{key}: {path} does not exist"))
            into += _yaml_files(path)
    for path in extra or []:
        if not path.exists():
            missing.append(SourceError(str(path), 1, "no such rule file or folder"))
        elif path.is_dir():
            more_local, more_override = site_layers(path, loose=True)
            local += more_local
            override += more_override
        else:
            local.append(path)
    if missing:
        raise RuleSetError(missing)
    return Layers(tuple(_yaml_files(shipped_rules_dir()) if defaults else ()), tuple(local), tuple(override))


@dataclass
class _Entry:
    spec: dict[str, Any]
    loaded: Loaded
    path: tuple[Any, ...]
    when_at: tuple[Loaded, tuple[Any, ...]] | None = None  # where `when` was written (an override may keep it)

    @property
    def when_source(self) -> tuple[Loaded, tuple[Any, ...]]:
        return self.when_at or (self.loaded, self.path)

    @property
    def origin(self) -> str:
        return f"{self.loaded.file}:{self.loaded.line_of(self.path)}"


def _override_schema() -> dict[str, Any]:
    schema = copy.deepcopy(load_schema("rules"))
    schema["$defs"]["rule"]["required"] = ["id"]
    schema["$defs"]["pattern"]["required"] = ["id"]
    schema["$defs"]["pattern"]["properties"]["enabled"] = {"type": "boolean"}
    return schema


def load_rules(
    config: Config,
    extra: list[Path] | None = None,
    include_defaults: bool | None = None,
    check_routes: bool = True,
) -> RuleSet:
    """Load the rule set the config names, plus `extra` local files or folders.

    A folder given in `extra` is read like the site folder: its `*.yaml` and `local.d/` as
    local rules, its `override.d/` as overrides.
    """
    chosen = layers(config, extra, include_defaults)
    base_files, local_files, override_files = list(chosen.base), list(chosen.local), list(chosen.override)

    errors: list[SourceError] = []
    rules: dict[str, _Entry] = {}
    patterns: dict[str, _Entry] = {}
    rule_schema, over_schema = load_schema("rules"), _override_schema()

    def read(path: Path, schema: dict[str, Any]) -> Loaded | None:
        try:
            loaded = load_file(path)
        except SourceError as exc:
            errors.append(exc)
            return None
        if loaded.data is None:
            return Loaded(loaded.file, {}, loaded.lines)
        problems = validate(loaded, schema)
        errors.extend(problems)
        return None if problems else loaded

    for path in base_files + local_files:
        loaded = read(path, rule_schema)
        if loaded is None:
            continue
        for kind, table in (("rules", rules), ("patterns", patterns)):
            for i, spec in enumerate(loaded.data.get(kind, [])):
                entry = _Entry(spec, loaded, (kind, i))
                if spec["id"] in table:
                    errors.append(loaded.error((kind, i, "id"), f"{kind[:-1]} id {spec['id']!r} already defined at "
                                                                f"{table[spec['id']].origin}; change it in an override file"))
                    continue
                table[spec["id"]] = entry

    for path in override_files:
        loaded = read(path, over_schema)
        if loaded is None:
            continue
        for kind, table in (("rules", rules), ("patterns", patterns)):
            for i, spec in enumerate(loaded.data.get(kind, [])):
                target = table.get(spec["id"])
                if target is None:
                    errors.append(loaded.error((kind, i, "id"), f"override names no existing {kind[:-1]} {spec['id']!r}"))
                    continue
                if spec.get("enabled") is False:
                    del table[spec["id"]]
                    continue
                merged = {**target.spec, **{k: v for k, v in spec.items() if k != "enabled"}}
                when_at = None if "when" in spec else target.when_source
                table[spec["id"]] = _Entry(merged, loaded, (kind, i), when_at)

    routes = set(config.routes) if check_routes else None
    oneclick_ready = bool(config.section("oneclick").get("base_url")) or not check_routes
    compiled_rules = [r for r in (_compile_rule(e, routes, errors, oneclick_ready) for e in rules.values()
                                  if e.spec.get("enabled", True)) if r]
    compiled_patterns = []
    for entry in patterns.values():
        try:
            compiled_patterns.append(Pattern.from_spec(entry.spec))
        except PatternError as exc:
            errors.append(entry.loaded.error(entry.path + ("regex",), f"pattern {entry.spec['id']}: {exc}"))
    if errors:
        raise RuleSetError(sorted(errors, key=lambda e: (e.file, e.line)))
    paths = base_files + local_files + override_files
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return RuleSet(tuple(compiled_rules), PatternSet(compiled_patterns), tuple(map(str, paths)), digest.hexdigest()[:16])


def _compile_rule(entry: _Entry, routes: set[str] | None, errors: list[SourceError],
                  oneclick_ready: bool = True) -> Rule | None:
    spec, loaded, path = entry.spec, entry.loaded, entry.path
    try:
        when = compile_condition(spec["when"], path + ("when",))
        then = compile_actions(spec["then"], spec["description"], routes, path + ("then",), oneclick_ready)
    except ConditionError as exc:
        errors.append(loaded.error(exc.path, f"rule {spec['id']}: {exc}"))
        return None
    except KeyError as exc:  # an override left a required field missing
        errors.append(loaded.error(path, f"rule {spec.get('id')}: missing {exc.args[0]!r}"))
        return None
    tests = []
    for i, t in enumerate(spec.get("tests", [])):
        file = None
        if "file" in t:
            file = (Path(loaded.file).parent / t["file"]).resolve()
            if not file.exists():
                errors.append(loaded.error(path + ("tests", i, "file"), f"test file {t['file']!r} not found"))
        tests.append(RuleTest(
            name=t["name"], expect=t["expect"], message=t.get("message"), file=file,
            sender=t.get("sender"), recipients=tuple(t.get("recipients", [])),
            auth_user=t.get("auth_user"), client_address=t.get("client_address"),
            matches=t.get("matches"), findings=tuple(t.get("findings", [])),
            origin=f"{loaded.file}:{loaded.line_of(path + ('tests', i))}",
            headers=tuple((t.get("headers") or {}).items()), quarantine_reason=t.get("quarantine_reason"),
            route=t.get("route"), reply=t.get("reply"),
            drop_recipients=tuple(t["drop_recipients"]) if "drop_recipients" in t else None,
        ))
    when_loaded, when_path = entry.when_source
    return Rule(
        id=spec["id"], description=spec["description"], status=spec["status"],
        mode=spec.get("mode", "enforce"), when=when, then=then, tests=tuple(tests), origin=entry.origin,
        finding_refs=tuple(dict.fromkeys(finding_refs(spec["when"], when_loaded, when_path + ("when",)))),
        reads_bulk=reads_bulk(spec["when"]),
        shadow=bool(spec.get("shadow")), allow_override=spec.get("allow_override"),
    )
