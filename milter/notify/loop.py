"""What the daemon asks of the sender loop: before inspecting, is this one of our own
submissions (notice, shadow copy, release as-is)? After deciding, is a notice or a shadow
copy due? Submissions run on one background thread: the milter callback never waits for
sendmail(1), and a failure is logged (without content) and never touches the message."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from outguard.core.config import Config
from outguard.core.decision import Decision, Match
from outguard.core.findings import Finding
from outguard.core.message import Envelope
from outguard.core.verdict import Verdict
from outguard.notify.marker import HEADER, Origin, OriginMarker, prepend_header, review_secret
from outguard.notify.notice import NOTICE_VERDICTS, NoticePolicy, compose
from outguard.notify.submit import SubmitError, sendmail
from outguard.ops.queue import SHADOW_HEADER
from outguard.unsubscribe.tokens import SecretError

log = logging.getLogger("outguard.notify")
RELEASED_HEADER = "X-Outguard-Released"


def own_decision(origin: Origin) -> Decision:
    """The decision for a submission of ours: notices and releases go out uninspected (a
    release must not meet the rule that held it again); a shadow copy goes to quarantine
    with the findings and rule of the original."""
    if origin.kind == "shadow":
        try:
            would = Verdict(origin.would)
        except ValueError:
            would = Verdict.QUARANTINE
        return Decision(
            verdict=Verdict.QUARANTINE, origin="shadow", deciding_rule=origin.rule,
            findings=[Finding(fid, count=max(1, count), plugin="shadow") for fid, count in origin.findings],
            matches=[Match(origin.rule, would, False, ("shadow copy",))],
            quarantine_reason=f"shadow copy: rule {origin.rule} would {would}",
            add_headers=[(SHADOW_HEADER, f"rule={origin.rule}; would={would}")])
    if origin.kind == "release":
        return Decision(verdict=Verdict.DELIVER, origin="release", deciding_rule="release-as-is",
                        add_headers=[(RELEASED_HEADER, f"as-is by {origin.actor or 'admin'}; held by {origin.rule}")])
    return Decision(verdict=Verdict.DELIVER, origin="notice", deciding_rule="outguard-notice")


class SenderLoop:
    def __init__(self, config: Config) -> None:
        self.configure(config)
        self._jobs: queue.Queue[tuple[str, bytes, str, list[str]]] = queue.Queue(maxsize=1000)
        self._thread: threading.Thread | None = None
        self.sent = {"notice": 0, "shadow": 0}

    def configure(self, config: Config) -> None:
        """(Re)read the settings; a reload keeps the per-sender counts if the limit is unchanged."""
        notify = config.section("notify")
        self.command = [str(c) for c in notify.get("sendmail") or ["/usr/sbin/sendmail"]]
        try:
            self.marker: OriginMarker | None = OriginMarker(review_secret(config.section("review")))
        except (SecretError, OSError) as exc:
            self.marker = None
            log.info("sender notices, shadow copies and releases as-is are off: %s", exc)
        old = getattr(self, "policy", None)
        try:
            self.policy = NoticePolicy.from_config(notify, config.section("override"))
            self.notices = True
        except ValueError as exc:  # a bad template or network: check-config says so; keep what works
            log.error("notify settings not usable, %s: %s", "keeping the previous ones" if old else "notices off", exc)
            if old is None:
                self.policy, self.notices = NoticePolicy.from_config({}, {}), False
            return
        if old is not None and (old.limit.count, old.limit.per_seconds) == (self.policy.limit.count,
                                                                            self.policy.limit.per_seconds):
            self.policy.limit = old.limit

    def recognise(self, headers: list[tuple[str, str]], message_id: str | None) -> Decision | None:
        """Our own decision for one of our submissions; None for anything else (forged markers too)."""
        if self.marker is None:
            return None
        value = next((v for n, v in headers if n.lower() == HEADER.lower()), None)
        origin = self.marker.read(value, message_id) if value else None
        return own_decision(origin) if origin else None

    def after(self, decision: Decision, envelope: Envelope, headers: list[tuple[str, str]],
              message_id: str | None, raw: Callable[[], bytes]) -> None:
        """Queue the notice and the shadow copy this decision asks for (never raises)."""
        if self.marker is None or decision.origin != "inspected":
            return
        try:
            self._shadow(decision, envelope, message_id, raw)
            self._notice(decision, envelope, headers)
        except Exception as exc:  # a notice is never worth a message
            log.error("%s: sender loop failed: %s", envelope.queue_id or "NOQUEUE", type(exc).__name__)

    def _shadow(self, decision: Decision, envelope: Envelope, message_id: str | None, raw: Callable[[], bytes]) -> None:
        trial = [(rule, would) for rule, would in decision.shadowed if would != Verdict.DELIVER]
        if not trial or not envelope.recipients:
            return
        if not message_id:  # the copy is matched to its original (and its marker bound) by Message-ID
            log.info("%s: no shadow copy for rule %s: the message has no Message-ID", envelope.queue_id or "NOQUEUE",
                     trial[0][0])
            return
        assert self.marker is not None
        rule, would = trial[0]
        counts = [(f.id, f.count) for f in decision.findings]
        origin = Origin("shadow", message_id.strip(), rule, str(would), counts)
        copy = prepend_header(raw(), HEADER, self.marker.make(origin))
        self._enqueue("shadow", copy, envelope.sender, list(envelope.recipients))

    def _notice(self, decision: Decision, envelope: Envelope, headers: list[tuple[str, str]]) -> None:
        if not self.notices or decision.notice is None or decision.verdict not in NOTICE_VERDICTS:
            return
        why_not = self.policy.eligible(envelope, headers)
        if why_not is None and not self.policy.admit(envelope.sender):
            why_not = "rate limit for this sender"
        if why_not is not None:
            log.info("%s: no sender notice: %s", envelope.queue_id or "NOQUEUE", why_not)
            return
        assert self.marker is not None
        notice = compose(self.policy, decision, envelope, headers, self.marker)
        self._enqueue("notice", notice.as_bytes(), "", [envelope.sender.strip().strip("<>")])

    def _enqueue(self, kind: str, raw: bytes, sender: str, recipients: list[str]) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="outguard-notify", daemon=True)
            self._thread.start()
        try:
            self._jobs.put_nowait((kind, raw, sender, recipients))
        except queue.Full:
            log.error("sender loop queue full: a %s was not submitted", kind)

    def _work(self) -> None:
        while True:
            kind, raw, sender, recipients = self._jobs.get()
            try:
                sendmail(self.command, raw, sender, recipients)
                self.sent[kind] += 1
                log.info("submitted a %s for %d recipient(s)", kind, len(recipients))
            except SubmitError as exc:
                log.error("%s not submitted: %s", kind, exc)
            finally:
                self._jobs.task_done()

    def drain(self, timeout: float = 10) -> None:
        """Wait (bounded) for queued submissions: at shutdown, and in tests."""
        done = threading.Event()

        def wait() -> None:
            self._jobs.join()
            done.set()
        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)
