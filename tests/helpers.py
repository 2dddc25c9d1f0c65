"""Plain helpers shared by test modules (imported as `helpers`: the tests folder is on sys.path,
never the project root, whose `milter/` folder would shadow pymilter's C module `milter`)."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# beside the checkout; OUTGUARD_CORPORA names them elsewhere (a git worktree one level deeper)
CORPORA = Path(os.environ.get("OUTGUARD_CORPORA") or PROJECT.parent / "shared" / "corpora")


def eml(text: str) -> bytes:
    """A test message from an indented literal."""
    return textwrap.dedent(text).lstrip().encode("utf-8")


def outguard_command() -> list[str]:
    """The installed console script, so no subprocess puts the project root on sys.path."""
    script = Path(sys.executable).parent / "outguard"
    return [str(script)] if script.exists() else [shutil.which("outguard") or "outguard"]
