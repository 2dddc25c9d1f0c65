"""Sender reputation: bounce and complaint rates, volume spikes, pauses and warm-up caps of
the stream and sender domain a message belongs to (the figures come from
`services["reputation"]`, kept by the milter and `outguard ingest`; see README,
"Reputation guardrails").

| id | when |
|---|---|
| `reputation.bounce_rate` | a window with enough volume has a hard-bounce rate at or over the review threshold |
| `reputation.complaint_rate` | ... a complaint rate at or over the review threshold |
| `reputation.volume_spike` | today's recipients over `factor` times the trailing median (and over `minimum`) |
| `reputation.paused` | the stream or sender domain is paused (rates passed the pause thresholds) |
| `reputation.warmup_cap` | today's warm-up cap of the egress IP or stream is reached |
| `reputation.unavailable` | the store cannot answer (the shipped rules hold bulk mail, never transactional) |

Findings are facts about the sender, for any message; the shipped rules hold only bulk mail
(`rules/reputation.yaml`). Details carry figures and keys (List-Id, sender domain), never
message content or recipient addresses.
"""

from __future__ import annotations

from outguard.checks import (
    NO_SETTINGS,
    Finding,
    InspectContext,
    Message,
    ReputationLookup,
    ReputationStatus,
    ServiceUnavailable,
    StartupContext,
    hookimpl,
)

NAME = "reputation"


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".") + " %"


def findings_of(statuses: list[ReputationStatus], recipients: int) -> list[Finding]:
    """The findings of the message's keys; `recipients`: how many this message would add today."""
    out: list[Finding] = []
    bounce: list[str] = []
    complaint: list[str] = []
    spike: list[str] = []
    paused: list[str] = []
    capped: list[str] = []
    for st in statuses:
        for w in st.windows:
            if not w.counts:
                continue
            if w.bounce_rate >= st.review_bounce:
                bounce.append(f"{w.key} {w.hours}h: {_pct(w.bounce_rate)} ({w.hard_bounces} hard bounces of "
                              f"{w.accepted} recipients; review {_pct(st.review_bounce)}, pause {_pct(st.pause_bounce)})")
            if w.complaint_rate >= st.review_complaint:
                complaint.append(f"{w.key} {w.hours}h: {_pct(w.complaint_rate)} ({w.complaints} complaints of "
                                 f"{w.accepted} recipients; review {_pct(st.review_complaint)}, "
                                 f"pause {_pct(st.pause_complaint)})")
        if st.spiking(recipients):
            spike.append(f"{st.key}: {st.today + recipients} recipients today, trailing median {st.trailing_median:g}")
        if st.paused is not None:
            paused.append(f"{st.key} paused ({st.paused.detail}); resume: outguard reputation resume {st.key}")
        if st.warmup_cap is not None and st.warmup_sent + recipients > st.warmup_cap:
            capped.append(f"{st.key} warm-up day {st.warmup_day}: cap {st.warmup_cap}, {st.warmup_sent} sent today")
    for fid, parts in (("reputation.bounce_rate", bounce), ("reputation.complaint_rate", complaint),
                       ("reputation.volume_spike", spike), ("reputation.paused", paused),
                       ("reputation.warmup_cap", capped)):
        if parts:
            out.append(Finding(fid, where=("envelope",), count=len(parts), detail="; ".join(parts)[:900]))
    return out


class ReputationCheck:
    """Rates, pauses and warm-up caps of the message's stream, sender domain and egress IP."""

    emits = ("reputation.bounce_rate", "reputation.complaint_rate", "reputation.volume_spike", "reputation.paused",
             "reputation.warmup_cap", "reputation.unavailable")
    settings_schema = NO_SETTINGS

    def __init__(self) -> None:
        self.lookup: ReputationLookup | None = None

    @hookimpl
    def outguard_startup(self, context: StartupContext) -> None:
        self.lookup = context.services.get(NAME)

    @hookimpl
    def outguard_inspect(self, message: Message, context: InspectContext) -> list[Finding]:
        lookup = context.services.get(NAME) or self.lookup
        if lookup is None or not message.envelope.sender:
            return []
        try:
            statuses = list(lookup.status(message.envelope.sender, message.header))
        except ServiceUnavailable as exc:
            # Not error.reputation (which the shipped rules tempfail for every message):
            # transactional mail must never wait for the sender's statistics.
            return [Finding("reputation.unavailable", where=("envelope",), detail=str(exc)[:200])]
        return findings_of(statuses, len(message.envelope.recipients))
