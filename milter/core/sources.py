"""Where messages come from on the command line: files, folders (Maildir too), mboxes, stdin."""

from __future__ import annotations

import mailbox
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """One message, or the reason it could not be read."""

    label: str
    raw: bytes | None
    error: str | None = None


def _from_mbox(path: Path, label: str) -> Iterator[Source]:
    box = mailbox.mbox(path, create=False)
    try:
        keys = list(box.iterkeys())
        for n, key in enumerate(keys, 1):
            yield Source(label if len(keys) == 1 else f"{label}#{n}", box.get_bytes(key))
    finally:
        box.close()


def _from_file(path: Path) -> Iterator[Source]:
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
        if head == b"From ":
            yield from _from_mbox(path, str(path))
        else:
            yield Source(str(path), path.read_bytes())
    except OSError as exc:
        yield Source(str(path), None, exc.strerror or str(exc))


def _from_stdin() -> Iterator[Source]:
    data = sys.stdin.buffer.read()
    if not data.startswith(b"From "):
        yield Source("-", data)
        return
    with tempfile.NamedTemporaryFile(prefix="outguard-stdin-", suffix=".mbox") as tmp:
        tmp.write(data)
        tmp.flush()
        yield from _from_mbox(Path(tmp.name), "-")


def read_sources(paths: list[str]) -> Iterator[Source]:
    """Every message under `paths`, in a stable order; unreadable ones as errors, not exceptions."""
    for arg in paths:
        if arg == "-":
            yield from _from_stdin()
            continue
        path = Path(arg)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield from _from_file(Path(root) / name)
        elif path.exists():
            yield from _from_file(path)
        else:
            yield Source(arg, None, "no such file or directory")
