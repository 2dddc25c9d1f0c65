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


def dsn(status: str | None, diag: str, rcpt: str = "reader@partner.example", action: str = "failed") -> bytes:
    """A minimal RFC 3464 report for one recipient."""
    status_line = f"Status: {status}\n        " if status else ""  # indented as the literal, for dedent
    return eml(f"""
        From: MAILER-DAEMON@mx.sender.example
        To: news@sender.example
        Subject: Undelivered Mail Returned to Sender
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B"

        --B
        Content-Type: text/plain

        Your message could not be delivered.

        --B
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.sender.example

        Final-Recipient: rfc822; {rcpt}
        Action: {action}
        {status_line}Diagnostic-Code: smtp; {diag}

        --B
        Content-Type: text/rfc822-headers

        From: news@sender.example
        To: {rcpt}
        Subject: News
        Message-ID: <n-1@sender.example>

        --B--
        """)
