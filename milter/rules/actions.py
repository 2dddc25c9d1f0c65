"""What a rule does when it matches, compiled from its `then` mapping."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from outguard.core.decision import Reply
from outguard.core.verdict import Verdict
from outguard.rules.conditions import ConditionError

TEMPLATE_FIELDS = {"rule_id", "finding_ids"}
# `encrypt: auto`: the method is chosen per message from the recipients' keys (outguard.encryption)
AUTO_ROUTE = "auto"


@dataclass(frozen=True)
class Actions:
    tags: tuple[tuple[str, str], ...] = ()
    subject_prefix: str | None = None
    encrypt: str | None = None
    quarantine: str | None = None
    reject: Reply | None = None
    tempfail: Reply | None = None
    discard: bool = False
    drop_recipients: bool = False
    add_unsubscribe: bool = False
    notify: tuple[str, ...] = ()
    notify_sender: str | None = None  # notice template id ("default" for `true`); see outguard.notify

    @property
    def verdict(self) -> Verdict:
        """The terminal verdict this rule asks for on its own (deliver if none)."""
        for verdict, on in ((Verdict.REJECT, self.reject), (Verdict.TEMPFAIL, self.tempfail),
                            (Verdict.DISCARD, self.discard), (Verdict.QUARANTINE, self.quarantine),
                            (Verdict.ENCRYPT, self.encrypt)):
            if on:
                return verdict
        return Verdict.DELIVER


def render(template: str, rule_id: str, finding_ids: list[str]) -> str:
    """Fill a tag/reply template; only non-PHI fields exist. CR/LF never survive."""
    value = template.format_map({"rule_id": rule_id, "finding_ids": ",".join(finding_ids) or "-"})
    return " ".join(value.split())


def _check_template(text: str, path: tuple[Any, ...]) -> None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ConditionError(path, f"bad template: {exc}") from None
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise ConditionError(path, f"unknown template field(s) {sorted(unknown)}; allowed: {sorted(TEMPLATE_FIELDS)}")


def compile_actions(spec: dict[str, Any], description: str, routes: set[str] | None, path: tuple[Any, ...],
                    oneclick_ready: bool = True) -> Actions:
    tags_spec = spec.get("tag", [])
    tags_list = [tags_spec] if isinstance(tags_spec, dict) else list(tags_spec)
    tags = []
    for i, tag in enumerate(tags_list):
        tpath = path + ("tag",) + ((i,) if isinstance(tags_spec, list) else ())
        _check_template(tag["value"], tpath + ("value",))
        tags.append((tag["header"], tag["value"]))
    route = spec.get("encrypt")
    if route is not None and route != AUTO_ROUTE and routes is not None and route not in routes:
        raise ConditionError(path + ("encrypt",), f"route {route!r} is not defined in the config "
                                                  f"(routes: {', '.join(sorted(routes)) or 'none'}; or auto)")
    if spec.get("add_unsubscribe") and not oneclick_ready:
        raise ConditionError(path + ("add_unsubscribe",), "add_unsubscribe needs oneclick.base_url (and a secret) "
                                                           "in the config")
    reject = None
    if "reject" in spec:
        r = spec["reject"]
        r = {"text": r} if isinstance(r, str) else r
        _check_template(r["text"], path + ("reject",))
        status = r.get("status", "5.7.1")
        code = str(r.get("code", 550))
        if status[0] != code[0]:
            raise ConditionError(path + ("reject",), f"status {status} does not fit code {code}")
        reject = Reply(code, status, r["text"])
    tempfail = None
    if "tempfail" in spec:
        t = spec["tempfail"]
        tempfail = Reply("451", "4.7.1", t if isinstance(t, str) else "Message could not be inspected; try again later")
        _check_template(tempfail.text, path + ("tempfail",))
    quarantine = spec.get("quarantine")
    notify = spec.get("notify", []), spec.get("bcc", [])
    notice = spec.get("notify_sender")
    return Actions(
        tags=tuple(tags),
        subject_prefix=spec.get("subject_prefix"),
        encrypt=route,
        quarantine=(description if quarantine is True else quarantine) if quarantine else None,
        reject=reject,
        tempfail=tempfail,
        discard=bool(spec.get("discard")),
        drop_recipients=bool(spec.get("drop_recipients")),
        add_unsubscribe=bool(spec.get("add_unsubscribe")),
        notify=tuple(a for group in notify for a in ([group] if isinstance(group, str) else group)),
        notify_sender=("default" if notice is True else str(notice)) if notice else None,
    )
