#!/usr/bin/env python3
"""The 5-minute soak: 20 concurrent SMTP sessions through Postfix and outguard.

    .venv/bin/python bench/soak.py [SECONDS] [SESSIONS]

Prints messages sent, accepted, delivered, RSS and open fds at start and end, and the p50/p99
SMTP transaction latency (it runs tests/e2e/test_soak.py with a longer clock).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

project = Path(__file__).resolve().parent.parent
env = dict(os.environ, OUTGUARD_SOAK_SECONDS=sys.argv[1] if len(sys.argv) > 1 else "300",
           OUTGUARD_SOAK_SESSIONS=sys.argv[2] if len(sys.argv) > 2 else "20", PYTHONSAFEPATH="1")
pytest = Path(sys.executable).parent / "pytest"
sys.exit(subprocess.call([str(pytest), "-q", "-s", "-p", "no:cacheprovider", str(project / "tests/e2e/test_soak.py")],
                         env=env, cwd=project))
