"""Render a Result for people (`--explain`) and for machines (`--json`). Redacted by construction:
only finding details (which checks must redact) and rule-file text are ever shown."""

from __future__ import annotations

from typing import Any

from outguard.core.decision import Result


def as_json(label: str, result: Result) -> dict[str, Any]:
    d = result.decision
    return {
        "file": label,
        "verdict": d.verdict,
        "findings": [f.as_dict() for f in d.findings],
        "rules": d.rule_ids,
        "actions": d.actions(),
        "matches": [m.as_dict() for m in d.matches],
        "deciding_rule": d.deciding_rule,
        "elapsed_ms": round(result.elapsed * 1000, 2),
    }


def _where(where: tuple[str, ...]) -> str:
    return ", ".join(where) or "message"


def explain(label: str, result: Result) -> str:
    d = result.decision
    lines = [f"== {label}"]
    verdict = d.verdict.upper()
    if d.route and not d.refused:
        verdict += f" (route {d.route})"
    by = f" - decided by rule {d.deciding_rule}" if d.deciding_rule else " - no rule asked for more"
    lines.append(f"Verdict: {verdict}{by}")
    if d.encryption is not None and not d.refused:
        lines.append(f"Encryption: {d.encryption.reason}")
    if result.message is not None:
        env = result.message.envelope
        lines.append(f"Envelope: sender {env.sender or '<>'}, {len(env.recipients)} recipient(s)"
                     + (f", authenticated as {env.auth_user}" if env.auth_user else ""))
    lines.append(f"Findings ({len(d.findings)}):" if d.findings else "Findings: none")
    for f in d.findings:
        score = f" score {f.score:g}" if f.score is not None else ""
        rcpt = f" recipient {f.recipient}" if f.recipient else ""
        detail = f" - {f.detail}" if f.detail else ""
        lines.append(f"  - {f.id}: confidence {f.confidence:.2f}, {f.count} unique, in {_where(f.where)}"
                     f"{score}{rcpt}{detail} [{f.plugin or 'core'}]")
    lines.append(f"Rules matched ({len(d.matches)}):" if d.matches else "Rules matched: none")
    shadow, overridden = {r for r, _ in d.shadowed}, {r for r, _ in d.overrides}
    for m in d.matches:
        mode = ("monitor: would" if m.monitor else "shadow: would" if m.rule_id in shadow
                else "overridden by the sender, would" if m.rule_id in overridden else "->")
        lines.append(f"  * {m.rule_id} [{m.status}] {mode} {m.verdict}   ({m.origin})")
        lines.append(f"      {m.description}")
        for reason in m.reasons:
            lines.append(f"      because {reason}")
    actions = d.actions()
    lines.append("Actions:" if actions else "Actions: none (delivered as is)")
    for a in actions:
        rest = ", ".join(f"{k} {v}" for k, v in a.items() if k != "action" and v is not None)
        lines.append(f"  - {a['action']}" + (f": {rest}" if rest else ""))
    return "\n".join(lines)
