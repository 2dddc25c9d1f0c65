"""Submission through Postfix's own sendmail(1): what outguard sends itself (notices, shadow
copies, releases as-is) takes the site's normal path, its queue and its retries."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


class SubmitError(Exception):
    """sendmail(1) failed; the message says how (never what was sent)."""


def sendmail(command: Sequence[str], raw: bytes, sender: str, recipients: Sequence[str], timeout: float = 30) -> None:
    """Submit `raw` with envelope `sender` ("" for the null sender) to `recipients`."""
    if not recipients:
        raise SubmitError("no recipients")
    cmd = [*command, "-i", "-f", sender or "<>", "--", *recipients]
    try:
        proc = subprocess.run(cmd, input=raw.replace(b"\r\n", b"\n"), capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SubmitError(f"{command[0]}: {type(exc).__name__}") from None
    if proc.returncode != 0:
        raise SubmitError(f"{command[0]} exited {proc.returncode}: {proc.stderr.decode(errors='replace').strip()[:200]}")
