"""Auto-replies (RFC 3834 Auto-Submitted, vacation programs): recognised and ignored."""

from __future__ import annotations

import re
from email.message import Message

_SUBJECT = re.compile(r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|on vacation|"
                      r"away from (the|my) office|abwesenheit|absence|r[ée]ponse automatique|vacation reply|"
                      r"autoreply|i am away|i'm away)", re.I)


def is_autoreply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted") or "").strip().lower()
    if auto.startswith("auto-replied"):
        return True
    if any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Vacation")):
        return True
    if str(msg.get("X-Auto-Response-Suppress") or "") and _SUBJECT.search(str(msg.get("Subject") or "")):
        return True
    if str(msg.get("Precedence") or "").strip().lower() == "auto_reply":
        return True
    return bool(_SUBJECT.search(str(msg.get("Subject") or "")))
