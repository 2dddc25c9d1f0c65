"""Safe YAML loading that remembers the line of every node, for `file:line` errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

JsonPath = tuple[Any, ...]


class SourceError(Exception):
    """An error in a YAML source file; `str()` starts with `file:line:` (`file:line:column:`
    where the parser knows the column of the mistake)."""

    def __init__(self, file: str, line: int, message: str, column: int | None = None) -> None:
        super().__init__(f"{file}:{line}:{f'{column}:' if column else ''} {message}")
        self.file = file
        self.line = line
        self.column = column
        self.message = message


@dataclass(frozen=True)
class Loaded:
    """A parsed YAML document plus the line of each path within it."""

    file: str
    data: Any
    lines: dict[JsonPath, int]

    def line_of(self, path: JsonPath) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: JsonPath, message: str) -> SourceError:
        return SourceError(self.file, self.line_of(path), message)


def load_text(text: str, file: str) -> Loaded:
    """Parse one YAML document with the safe loader; duplicate keys are errors."""
    try:
        loader = yaml.SafeLoader(text)  # checks for unprintable characters right here
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise SourceError(file, line, f"not YAML text: {exc.reason} (character {exc.character!r})") from None
    try:
        node = loader.get_single_node()
        lines: dict[JsonPath, int] = {}
        data = None if node is None else _build(node, (), lines, loader, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, None)
        context = f" ({exc.context} at line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        raise SourceError(file, line, f"YAML syntax: {exc.problem or exc}{context}", column) from None
    except yaml.YAMLError as exc:
        raise SourceError(file, 1, f"YAML: {exc}") from None
    finally:
        loader.dispose()
    return Loaded(file, data, lines)


def load_file(path: Path) -> Loaded:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(str(path), 1, f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise SourceError(str(path), 1, f"cannot read: {exc.strerror or exc}") from None
    return load_text(text, str(path))


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _build(node: Node, path: JsonPath, lines: dict[JsonPath, int], loader: yaml.SafeLoader, file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, (MappingNode, SequenceNode)) and node.tag not in _PLAIN_TAGS:
        raise SourceError(file, node.start_mark.line + 1, f"not allowed: YAML tag {node.tag}")
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build(key_node, path + ("<key>",), {}, loader, file)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise SourceError(file, key_node.start_mark.line + 1, "mapping keys must be scalars")
            if key in out:
                raise SourceError(file, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, path + (key,), lines, loader, file)
        return out
    if isinstance(node, SequenceNode):
        return [_build(item, path + (i,), lines, loader, file) for i, item in enumerate(node.value)]
    if isinstance(node, ScalarNode):
        try:
            return loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise SourceError(file, node.start_mark.line + 1, f"not allowed: {exc.problem}") from None
    raise SourceError(file, node.start_mark.line + 1, "unsupported YAML node")


def validate(loaded: Loaded, schema: dict[str, Any]) -> list[SourceError]:
    """All JSON Schema violations of `loaded`, each pinned to a line, best first."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = []
    for err in sorted(validator.iter_errors(loaded.data), key=lambda e: list(e.absolute_path).__repr__()):
        best = jsonschema.exceptions.best_match([err]) if err.context else err
        where = "/".join(str(p) for p in best.absolute_path) or "(top)"
        path = tuple(best.absolute_path)
        if best.validator == "additionalProperties" and isinstance(best.instance, dict):
            known = set(best.schema.get("properties", {}))
            extra = [k for k in best.instance if k not in known]
            path += tuple(extra[:1])  # point at the unknown key itself
        errors.append(loaded.error(path, f"{where}: {_describe(best)}"))
    errors.sort(key=lambda e: e.line)
    return errors


def _describe(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        valid = ", ".join(sorted(err.schema.get("properties", {})))
        return err.message.replace("Additional properties are not allowed", "unknown key(s)") + f" (valid: {valid})"
    return err.message
