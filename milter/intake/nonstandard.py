"""The common non-standard bounces (qmail, old Exchange, Yahoo, Gmail/Postfix texts, ...),
recognised by structure and phrasing. The recipient is taken from the text; when the text
names none, from the attached original message's To: (only when it names exactly one).

Conservative on purpose: a message that does not clearly read as a bounce gives no
event, and an address is only taken when it sits where a failed recipient sits.
"""

from __future__ import annotations

import re
from email.message import Message

from outguard.intake.events import DeliveryEvent, Report, assess, find_code, find_status, text_status
from outguard.intake.reasons import phrase_reason
from outguard.intake.util import LIST_HEADERS, addresses_in, header_addresses, is_robot, original_headers, part_text
from outguard.store.policy import Policy

_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|failed|notification|problem|report)|returned mail|"
    r"failure notice|mail delivery|non.?deliver|not delivered|could not (be )?deliver|delivery error|"
    r"failed mail|mail (system )?error|returned to sender|warning: could not|unknown user|user unknown|"
    r"message status|error sending|bounce|failure delivery|undelivered|nicht zustellbar|delivery has failed|"
    r"permanent error|mail failure|unable to deliver|deliver(y|ing) (was |has )?(unsuccessful|delayed)",
    re.I)
_BOUNCE_FROM = re.compile(r"mailer-daemon|postmaster|mail ?delivery|mdaemon|mail-daemon|mailerdaemon|"
                          r"smtp[._-]?(gateway|service)|system administrator|internet mail|mail administrator", re.I)
# Where the returned original message starts: nothing below is the report's text.
_ORIGINAL_START = re.compile(
    r"^\s*(-{2,}.{0,10}(below this line is a copy|original message|returned message|this is a copy|"
    r"unsent message|undelivered message|message (header|text|body)s? follow|the header of the original|"
    r"start of returned|transcript of session follows|copy of the message)|"
    r"-{3,}\s*(original|returned|forwarded) message|original message follows|"
    r"the original message (was received|follows|headers)|"
    r"here (is|are) (a copy|the (first|headers)|your message)|"
    r"your message (reads|follows)|\*{3,} ?original message|"
    r"(the )?(first|following) (\d+ )?lines of (your|the) (original )?message follow)", re.I | re.M)
_FAIL_NEAR = re.compile(
    r"unknown|not (found|exist|known|valid|listed|deliver|reach)|no such|invalid|unavailable|full|quota|"
    r"disabled|rejected|refused|failed|failure|undeliverable|could not|couldn'?t|unable|error|permanent|"
    r"denied|bad|does ?n.?t exist|expired|inactive|problem|delay|timed? ?out|giving up|given up|\b5\d\d\b|"
    r"\b4\d\d\b|#[45]\.\d|wrong|not recogni[sz]ed|did not (exactly )?match|no longer|no matches|not accept|exceed",
    re.I)
_SENDMAIL_REASON = re.compile(r"\(reason: ((?:[^()]|\([^()]*\))+)\)")  # one level of (...) inside
_HEADING = re.compile(r"following (recipients?|address(es)?|destinations?|users?)\b|not (be )?delivered to|did not reach|"
                      r"could not deliver to|failed to deliver to|addresses? failed|undeliverable to|"
                      r"not (receive|reach)|unable to deliver (your message )?to|delivery to the following", re.I)
_STARTS_WITH_ADDR = re.compile(r"^\s*[<>*-]?\s*<?[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+\.")
_EXPANDED = re.compile(r"\((?:ultimately )?(expanded|generated) from:?\s*<?([^\s<>()]+@[^\s<>()]+?)>?\)", re.I)
_WARNING = re.compile(r"\bwarning\b|delayed|will (continue|keep)|will be retried|still (trying|in the queue|queued)|"
                      r"not yet been delivered|has not been delivered yet|retry (for|until)|"
                      r"delivery attempts will continue|this is (only )?a warning|no action is required|"
                      r"you do not need to resend|temporarily", re.I)


def looks_like_bounce(msg: Message) -> bool:
    subject = str(msg.get("Subject") or "")
    sender = " ".join(str(msg.get(h) or "") for h in ("From", "Sender", "Return-Path"))
    return bool(_BOUNCE_SUBJECT.search(subject) or _BOUNCE_FROM.search(sender)
                or msg.get_content_type() == "multipart/report")


def _report_text(msg: Message) -> str:
    """The human-readable text of the bounce, without the returned original."""
    chunks: list[str] = []

    def walk(part: Message, depth: int) -> None:
        if depth > 8 or len(chunks) > 20:
            return
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            return
        if part.is_multipart():
            for sub in part.get_payload() or []:
                if isinstance(sub, Message):
                    walk(sub, depth + 1)
            return
        if part.get_content_maintype() == "text" or ctype in ("message/delivery-status",):
            text = part_text(part)
            if ctype == "text/html":
                text = re.sub(r"<[^>]+>", " ", text).replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ")
            if part.get("Content-Disposition", "").lower().startswith("attachment") and chunks:
                return
            chunks.append(text)

    walk(msg, 0)
    text = "\n".join(chunks).replace("\r\n", "\n")
    m = _ORIGINAL_START.search(text)
    if m and m.start() > 0:
        text = text[:m.start()]
    # an inline copy of the original headers ("Received: ..." at a line start) also ends it
    m2 = re.search(r"^(Received|Return-Path|Message-ID|X-Mailer): ", text, re.M | re.I)
    if m2 and m2.start() > 40:
        text = text[:m2.start()]
    return text[:100_000]


def heading_at(lines: list[str], i: int) -> bool:
    return any(_HEADING.search(lines[j]) for j in range(max(0, i - 2), i))


def _candidates(text: str, exclude: set[str], bare_domain: str | None = None) -> list[tuple[str, str]]:
    """(address, the text around it that says what happened), in order, best-placed first."""
    lines = text.split("\n")
    found: list[tuple[float, str, str]] = []
    heading: int | None = None
    for i, line in enumerate(lines):
        if _HEADING.search(line):
            heading = i
        for addr in addresses_in(line):
            low = addr.lower()
            if low in exclude or is_robot(addr):
                continue
            # what is said about it: its line and those below, up to the next address
            end = i + 1
            while end < len(lines) and end < i + 8 and not _STARTS_WITH_ADDR.match(lines[end]):
                end += 1
            # the address alone on its line (qmail "<addr>:", Postfix "<addr>: why", under a heading)
            alone = re.match(r"^[>*-]?\s*<?\s*" + re.escape(addr) + r"\s*>?\s*:?\s*$", line.strip(), re.I) \
                or re.match(r"^<" + re.escape(addr) + r">:? ", line.strip(), re.I)
            # sendmail/exim name the address we sent to below the final one
            m = _EXPANDED.search(" ".join(lines[i:i + 3]))
            if m and m.group(2).lower() != low and m.group(2).lower() not in exclude:
                addr, low = m.group(2), m.group(2).lower()
            context = " ".join(lines[i:end])
            before = lines[i - 1] if i else ""
            score = 0.0
            if alone:
                score = 3  # qmail "<addr>:", Postfix "<addr>: why", an address alone under a failure heading
            elif heading is not None and i - heading <= 3:
                score = 3
            elif re.match(r"^\s*(to|subject|sent|date|cc)\s*:", line, re.I):
                score = 1 if not _FAIL_NEAR.search(line) else 1
                found.append((0.5, addr, context))  # the original's To: quoted in the text: a last resort
                continue
            elif _FAIL_NEAR.search(line):
                score = 2
            elif _FAIL_NEAR.search(context) or _FAIL_NEAR.search(before):
                score = 1
            # The address in a trace or sender line is no recipient.
            if re.search(r"\b(sender|envelope-from|mail from|reply-to|return-path|received|message-id|in-reply-to|"
                         r"references)\b\W{0,3}<?"
                         + re.escape(addr), line, re.I):
                continue
            found.append((score, addr, context))
    if not found and bare_domain:
        # AOL-style: a bare screen name under a failure heading, the domain the bounce's own
        # (only when that is a two-label mail domain, never a host name)
        for i, line in enumerate(lines):
            if heading_at(lines, i) and re.fullmatch(r"\s*([A-Za-z0-9._-]{1,64})\s*", line):
                local = line.strip()
                found.append((2, f"{local}@{bare_domain}", " ".join(lines[max(0, i - 2):i + 1])))
    if not found:
        return []
    best = max(s for s, _, _ in found)
    if best == 0:
        return []
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for score, addr, ctx in found:
        if score == best and addr.lower() not in seen:
            seen.add(addr.lower())
            out.append((addr, ctx))
    return out


def only_failed(cands: list[tuple[str, str]], failed: list[str], text: str) -> list[tuple[str, str]]:
    """The candidates X-Failed-Recipients names, or whose context names one of them (the
    address we sent to, "ultimately generated from" the failed one); then any it names
    that the text does not."""
    wanted = {f.lower() for f in failed}

    def names(addr: str, ctx: str) -> set[str]:
        return {addr.lower(), *(a.lower() for a in addresses_in(ctx))}

    kept = [(a, ctx) for a, ctx in cands if names(a, ctx) & wanted]
    covered = set().union(*(names(a, ctx) for a, ctx in kept))
    return kept + [(f, text) for f in failed if f.lower() not in covered]


def parse_nonstandard(msg: Message, policy: Policy | None = None) -> Report | None:
    if not looks_like_bounce(msg):
        return None
    report = Report(kind="dsn", detail="nonstandard")
    orig = original_headers(msg)
    original_from: list[str] = []
    if orig is not None:
        report.original_message_id = " ".join(str(orig.get("Message-ID") or "").split()) or None
        original_from = header_addresses(orig, "Return-Path", "From", "Sender", "Reply-To")
        original_to = {a.lower() for a in header_addresses(orig, "To", "Cc")}
        original_from = [a for a in original_from if a.lower() not in original_to]  # mail to oneself
        report.original_sender = original_from[0] if original_from else None
    exclude = {a.lower() for a in header_addresses(msg, "From", "To", "Cc", "Sender", "Return-Path", "Reply-To",
                                                   "Errors-To", "Delivered-To")}
    exclude |= {a.lower() for a in original_from}
    text = _report_text(msg)
    senders = header_addresses(msg, "From")
    domain = senders[0].rsplit("@", 1)[1].lower() if senders else ""
    cands = _candidates(text, exclude, domain if domain.count(".") == 1 else None)
    whole = text
    failed = list(dict.fromkeys(a for a in header_addresses(msg, "X-Failed-Recipients") if not is_robot(a)))
    if failed:  # Exim names the failed recipients in a header: they, not the text's guesses
        cands = only_failed(cands, failed, text)
        report.detail = "nonstandard (X-Failed-Recipients)"
    if not cands and orig is not None:
        # The envelope recipient the receiver recorded, else the To: of a one-recipient
        # message that is no list mail (a list's To: names the list, not the subscriber).
        to: list[str] = []
        if not any(orig.get(h) for h in LIST_HEADERS):
            to = [a for a in header_addresses(orig, "X-Original-To", "Delivered-To", "Envelope-To")
                  if a.lower() not in exclude and not is_robot(a)]
            to = to or [a for a in header_addresses(orig, "To", "Cc") if a.lower() not in exclude and not is_robot(a)]
        if len(set(a.lower() for a in to)) == 1 and (text_status(text) or find_status(text)):
            cands = [(to[0], text)]
            report.detail = "nonstandard (recipient from the original)"
    if not cands:
        report.problems.append("bounce without a recognisable recipient")
        return report
    warning = bool(_WARNING.search(whole)) and not re.search(
        r"permanent|given up|giving up|not going to try again|fatal|could not be delivered to", whole, re.I)
    single = len(cands) == 1
    for addr, ctx in cands:
        diag = " ".join(ctx.split())[:1000]
        status = find_status(ctx) or (find_status(whole) if single else None)
        code = find_code(ctx) or (find_code(whole) if single else None)
        said = _SENDMAIL_REASON.search(ctx)
        if said:  # what the remote said, before sendmail's own translation in the transcript
            diag = " ".join(said.group(1).split())
            status, code = find_status(diag), find_code(diag) or code
        diag_for_class = diag
        if not said and not text_status(ctx) and (single or not phrase_reason(ctx)):
            # the reason stated once for the whole list (or for the one recipient) above it
            diag_for_class = (diag + " " + " ".join(whole.split()))[:4000]
        v = assess(status, code, diag_for_class, policy, final=not warning)
        report.events.append(DeliveryEvent(addr, v.kind, v.status, code, v.reason, None, diag or None,
                                           original_message_id=report.original_message_id,
                                           original_sender=report.original_sender, cause=v.cause))
    return report
