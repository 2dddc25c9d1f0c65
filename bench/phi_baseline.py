"""The PHI check of another git revision, loaded beside the current one (for side-by-side timing).

    check = phi_baseline.load("37b216a")   # a module with build_state() and inspect_message()

The revision's `plugins/phi/` is written to a temporary folder as the package
`phi_baseline_<rev>`, its imports of `outguard_plugins.phi` pointed at that copy; everything
else (`outguard.checks`, the installed data packages) is the current one. Not a test.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

PROJECT = Path(__file__).resolve().parent.parent


def load(rev: str) -> ModuleType:
    """`outguard_plugins.phi.check` as it was at `rev`."""
    files = subprocess.run(["git", "-C", str(PROJECT), "ls-tree", "--name-only", rev, "plugins/phi/"],
                           check=True, capture_output=True, text=True).stdout.split()
    package = "phi_baseline_" + "".join(ch for ch in rev if ch.isalnum())
    root = Path(tempfile.mkdtemp(prefix="phi-baseline-"))
    (root / package).mkdir()
    for name in files:
        data = subprocess.run(["git", "-C", str(PROJECT), "show", f"{rev}:{name}"], check=True, capture_output=True).stdout
        if name.endswith(".py"):
            data = data.replace(b"outguard_plugins.phi", package.encode())
        (root / package / Path(name).name).write_bytes(data)
    sys.path.insert(0, str(root))
    return importlib.import_module(f"{package}.check")
