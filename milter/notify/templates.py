"""Notice templates: shipped in English and German, added or replaced per id and language
in the config (`notify.templates`). Only fields outguard fills exist, none of them message
content: finding ids and counts, the rule, what happens now, the incident id."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

FIELDS = frozenset({"rule_id", "rule_description", "findings", "outcome", "what_now", "incident", "recipients",
                    "support", "override_hint", "secure_hint"})


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


SHIPPED: dict[str, dict[str, Template]] = {"default": {
    "en": Template(
        subject="Your message was {outcome} (incident {incident})",
        body=("Your message to {recipients} recipient(s) was {outcome} by the mail gateway.\n\n"
              "What was found (types and counts only):\n{findings}\n\n"
              "Rule: {rule_id} - {rule_description}\n\n"
              "What happens now: {what_now}\n\n"
              "How to fix it:\n"
              "  - remove the identifiers and send the message again;\n"
              "  - or send it through the secure portal, or add the secure marker ({secure_hint});\n"
              "  - or ask for a review: {support}, quoting incident {incident}.\n"
              "{override_hint}")),
    "de": Template(
        subject="Ihre Nachricht wurde {outcome} (Vorgang {incident})",
        body=("Ihre Nachricht an {recipients} Empfänger wurde vom Mail-Gateway {outcome}.\n\n"
              "Gefunden (nur Art und Anzahl):\n{findings}\n\n"
              "Regel: {rule_id} - {rule_description}\n\n"
              "Wie es weitergeht: {what_now}\n\n"
              "So beheben Sie es:\n"
              "  - entfernen Sie die Kennungen und senden Sie die Nachricht erneut;\n"
              "  - oder senden Sie über das sichere Portal bzw. mit der Sicherheitsmarkierung ({secure_hint});\n"
              "  - oder bitten Sie um Prüfung: {support}, mit Vorgang {incident}.\n"
              "{override_hint}")),
}}

OUTCOMES: dict[str, dict[str, tuple[str, str]]] = {
    "en": {"quarantine": ("held for review", "a reviewer will release or delete it; nothing was delivered yet."),
           "reject": ("refused", "it was not delivered; send it again once fixed."),
           "encrypt": ("sent encrypted", "it was delivered over the encryption route; recipients may need to "
                                         "open it in the secure portal.")},
    "de": {"quarantine": ("zurückgehalten", "eine Prüferin oder ein Prüfer gibt sie frei oder löscht sie; "
                                            "zugestellt wurde noch nichts."),
           "reject": ("abgewiesen", "sie wurde nicht zugestellt; senden Sie sie nach der Korrektur erneut."),
           "encrypt": ("verschlüsselt gesendet", "sie wurde über den verschlüsselten Weg zugestellt.")},
}
OVERRIDE_HINT = {
    "en": "If this is intended, resend with \"[{tag}: your reason]\" in the subject; the override is logged.\n",
    "de": "Falls beabsichtigt, senden Sie erneut mit \"[{tag}: Ihre Begründung]\" im Betreff; das wird protokolliert.\n",
}


class TemplateError(ValueError):
    pass


def check(text: str, where: str) -> None:
    """A template may name only FIELDS (an unknown one would fail at the worst moment: a hold)."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise TemplateError(f"{where}: bad template: {exc}") from None
    unknown = names - FIELDS
    if unknown:
        raise TemplateError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(FIELDS)}")


def catalogue(configured: dict[str, Any]) -> dict[str, dict[str, Template]]:
    """Shipped templates with the config's merged over them, each checked."""
    out = {tid: dict(langs) for tid, langs in SHIPPED.items()}
    for tid, langs in (configured or {}).items():
        for lang, spec in langs.items():
            tpl = Template(str(spec["subject"]), str(spec["body"]))
            check(tpl.subject, f"notify.templates.{tid}.{lang}.subject")
            check(tpl.body, f"notify.templates.{tid}.{lang}.body")
            out.setdefault(tid, {})[lang] = tpl
    return out


def choose(catalogue_: dict[str, dict[str, Template]], template_id: str, languages: list[str],
           fallback: str) -> tuple[str, Template]:
    """(language, template): the first of `languages` the template has, else `fallback`, else English."""
    langs = catalogue_.get(template_id) or catalogue_["default"]
    for lang in [*languages, fallback, "en"]:
        if lang in langs:
            return lang, langs[lang]
    return next(iter(langs.items()))


def render(template: Template, fields: dict[str, str]) -> tuple[str, str]:
    subject = " ".join(template.subject.format_map(fields).split())
    return subject, template.body.format_map(fields)
