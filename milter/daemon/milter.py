"""`outguard run`: the pymilter edge. Collects one message per transaction, hands it to the
runner, and applies the Decision. Nothing here decides anything; the pipeline does.

Signals (docs/postfix-and-pymilter.md#trap-3): TERM/INT/HUP/USR1 are blocked before any thread starts;
libmilter's own thread takes TERM/INT/HUP and stops cleanly, ours takes USR1 to reload.
"""

from __future__ import annotations

import grp
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import Milter

from outguard.checks.host import BUDGET_EXCEEDED, where_it_broke
from outguard.core.config import Config
from outguard.core.decision import Decision, Reply
from outguard.core.findings import Finding
from outguard.core.headers import HeaderNames
from outguard.core.message import Envelope
from outguard.core.verdict import Verdict
from outguard.daemon.ops import apply_decision
from outguard.daemon.runner import InspectionFailed, InspectionTimedOut, Payload, Runner
from outguard.daemon.sdnotify import notify
from outguard.notify.loop import SenderLoop
from outguard.ops.audit import AuditLog, record_of
from outguard.ops.logs import setup_logging
from outguard.ops.metrics import Metrics
from outguard.pipeline import failure_decision
from outguard.reputation.recorder import AcceptedRecorder, recorder_from_config

log = logging.getLogger("outguard.daemon.milter")
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
RELOAD_SIGNAL = signal.SIGUSR1
ACTIONS = Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY | Milter.ADDRCPT | Milter.DELRCPT | Milter.QUARANTINE
RESULT = {Verdict.REJECT: Milter.REJECT, Verdict.TEMPFAIL: Milter.TEMPFAIL, Verdict.DISCARD: Milter.DISCARD}


def timeout_decision(on_timeout: str, detail: str) -> Decision:
    """`daemon.on_timeout` for a message whose whole inspection overran its timeout.

    Reported as a check's overrun is (`scan.budget_exceeded`, which the rules and metrics
    know), never as error.internal: a retry would overrun again, so the default holds the
    message for review instead of tempfailing it at every retry, forever."""
    decision = failure_decision(on_timeout, detail)
    decision.findings = [Finding(BUDGET_EXCEEDED, where=("message",), detail=detail, plugin="core")]
    decision.deciding_rule = "on_timeout"
    if decision.verdict == Verdict.QUARANTINE:
        decision.quarantine_reason = f"not fully inspected in time ({BUDGET_EXCEEDED}); review and release"
    elif decision.verdict == Verdict.REJECT:
        decision.reply = Reply("550", "5.3.4", "Message too large or complex to be inspected")
    return decision


def block_signals() -> None:
    """First thing in `run`: before any thread exists, so every thread inherits the mask."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS | {RELOAD_SIGNAL})


class Spool:
    """Message bytes in memory up to a size, then in a private file (mode 0600)."""

    def __init__(self, limit: int, directory: str | None) -> None:
        self.limit = limit
        self.directory = directory
        self._chunks: list[bytes] = []
        self._size = 0
        self._file: Any = None
        self.error: str | None = None

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        """Never raises: a full disk is remembered in `error` and decided at end-of-message."""
        self._size += len(data)
        if self.error is not None:
            return
        try:
            if self._file is None and self._size > self.limit:
                self._file = tempfile.NamedTemporaryFile(prefix="msg-", dir=self.directory, delete=False)
                self._file.write(b"".join(self._chunks))
                self._chunks = []
            if self._file is not None:
                self._file.write(data)
            else:
                self._chunks.append(data)
        except OSError as exc:
            self.error = exc.strerror or type(exc).__name__

    def payload(self) -> Payload:
        if self.error is not None:
            raise InspectionFailed(f"message could not be spooled: {self.error}")
        if self._file is None:
            return b"".join(self._chunks)
        try:
            self._file.flush()
        except OSError as exc:
            raise InspectionFailed(f"message could not be spooled: {exc.strerror}") from None
        return str(self._file.name)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            try:
                os.unlink(self._file.name)
            except OSError:
                pass
            self._file = None
        self._chunks = []
        self._size = 0


@dataclass
class Daemon:
    """What every milter connection shares: the runner, the settings in force, the audit
    trail and the metrics."""

    runner: Runner
    config: Config
    names: HeaderNames = field(init=False)
    messages: int = 0
    audit: AuditLog | None = None
    metrics: Metrics | None = None
    loop: SenderLoop | None = None  # notices, shadow copies, recognising our own submissions
    reputation: AcceptedRecorder | None = None   # counts accepted recipients (outguard.reputation)

    def __post_init__(self) -> None:
        self.apply_config(self.config)

    @classmethod
    def create(cls, runner: Runner, config: Config) -> Daemon:
        daemon = cls(runner, config)
        audit = config.section("audit")
        if audit.get("path"):
            daemon.audit = AuditLog(Path(audit["path"]), audit["fsync"], int(audit["rotate_bytes"]),
                                    int(audit["keep"]), int(audit["rotate_seconds"]))
            log.info("audit trail %s, chain head %s", audit["path"], daemon.audit.head)
        daemon.metrics = Metrics()
        daemon.loop = SenderLoop(config)
        daemon.reputation = recorder_from_config(config)
        listen = config.section("metrics").get("listen")
        if listen:
            daemon.metrics.serve(listen)
        return daemon

    def apply_config(self, config: Config) -> None:
        self.config = config
        self.names = HeaderNames.from_config(config.headers)
        if self.loop is not None:
            self.loop.configure(config)

    @property
    def daemon_settings(self) -> dict[str, Any]:
        return self.config.section("daemon")

    def decide(self, payload: Callable[[], Payload], envelope: Envelope, message_id: str | None,
               headers: list[tuple[str, str]] | None = None) -> Decision:
        """Inspect, then write the audit record; no decision is carried out without its record."""
        started = time.monotonic()
        if self.metrics:
            self.metrics.in_flight.inc()
        try:
            own = self.loop.recognise(headers or [], message_id) if self.loop else None
            decision = own or self.runner.inspect(payload(), envelope)
        except InspectionTimedOut as exc:
            on_timeout = str(self.daemon_settings["on_timeout"])
            log.error("%s: %s; applying on_timeout=%s", envelope.queue_id or "NOQUEUE", exc, on_timeout)
            decision = timeout_decision(on_timeout, f"{exc} (daemon.inspect_timeout_seconds)")
        except InspectionFailed as exc:
            log.error("%s: %s; applying on_error=%s", envelope.queue_id or "NOQUEUE", exc, self.config.on_error)
            decision = failure_decision(self.config.on_error, str(exc))
        finally:
            if self.metrics:
                self.metrics.in_flight.dec()
        if self.audit is not None:
            record = record_of(decision, envelope.queue_id, message_id, envelope.sender, len(envelope.recipients), "milter")
            try:
                self.audit.write(record)
            except OSError as exc:
                log.error("%s: audit trail not writable (%s); applying on_error=%s",
                          envelope.queue_id or "NOQUEUE", exc.strerror, self.config.on_error)
                decision = failure_decision(self.config.on_error, "audit trail not writable")
        if self.metrics:
            self.metrics.observe(decision, time.monotonic() - started)
        return decision

    def reload(self) -> None:
        try:
            config = self.runner.reload()
        except Exception as exc:  # keep the rules in force, say why
            log.error("reload failed, keeping the rules in force: %s", exc)
            return
        self.apply_config(config)
        setup_logging(str(config.raw["log_level"]))
        log.info("reloaded configuration and rules")


class OutguardMilter(Milter.Base):
    """One SMTP connection. Postfix may send several messages over it: state resets in envfrom."""

    daemon: Daemon  # set by serve()

    def __init__(self) -> None:
        self.client_address: str | None = None
        self.spool: Spool | None = None
        self._reset()

    def _reset(self) -> None:
        if self.spool is not None:
            self.spool.discard()
        settings = self.daemon.daemon_settings
        self.spool = Spool(int(settings.get("spool_bytes", 1 << 20)), settings.get("spool_dir"))
        self.sender = ""
        self.recipients: list[str] = []
        self.headers: list[tuple[str, str]] = []
        self._headers_ended = False
        self.auth_user: str | None = None

    @Milter.noreply
    def connect(self, hostname: str, family: int, hostaddr: Any) -> int:
        addr = hostaddr[0] if isinstance(hostaddr, tuple) and hostaddr else None
        self.client_address = self.getsymval("{client_addr}") or addr
        return Milter.CONTINUE

    @Milter.noreply
    def envfrom(self, mailfrom: str, *params: str) -> int:
        self._reset()
        self.sender = mailfrom.strip().strip("<>")
        self.auth_user = self.getsymval("{auth_authen}") or None
        return Milter.CONTINUE

    @Milter.noreply
    def envrcpt(self, to: str, *params: str) -> int:
        self.recipients.append(to)
        return Milter.CONTINUE

    @Milter.noreply
    @Milter.decode("bytes")
    def header(self, name: Any, value: Any) -> int:
        name_s = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        value_b = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")
        assert self.spool is not None
        self.spool.write(name_s.encode("ascii", "replace") + b": " + value_b + b"\r\n")
        self.headers.append((name_s, value_b.decode("utf-8", "replace")))
        return Milter.CONTINUE

    # No eoh callback (one protocol step less a message): the blank line that ends the header
    # goes into the spool with the first body chunk, or at end-of-message if there is none.
    def _end_headers(self) -> None:
        if not self._headers_ended:
            self._headers_ended = True
            assert self.spool is not None
            self.spool.write(b"\r\n")

    @Milter.noreply
    def body(self, chunk: bytes) -> int:
        self._end_headers()
        assert self.spool is not None
        self.spool.write(chunk)
        return Milter.CONTINUE

    def eom(self) -> int:
        started = time.monotonic()
        queue_id = self.getsymval("i") or "NOQUEUE"
        envelope = Envelope(sender=self.sender, recipients=tuple(r.strip().strip("<>") for r in self.recipients),
                            auth_user=self.auth_user, client_address=self.client_address, queue_id=queue_id)
        self._end_headers()
        assert self.spool is not None
        size = self.spool.size
        try:
            message_id = next((v.strip() for n, v in self.headers if n.lower() == "message-id"), None)
            decision = self.daemon.decide(self.spool.payload, envelope, message_id, self.headers)
            verdict = apply_decision(self, decision, self.daemon.names, self.headers, self.recipients)
            if self.daemon.loop is not None:
                self.daemon.loop.after(decision, envelope, self.headers, message_id, self._raw)
            if self.daemon.reputation is not None:
                self.daemon.reputation.decided(decision, envelope, self.headers)
        except Exception as exc:  # never let a bug answer for Postfix: the configured action does
            log.error("%s: applying the decision failed: %s", queue_id, where_it_broke(exc))
            decision = failure_decision(self.daemon.config.on_error, "internal error")
            verdict = decision.verdict
            if decision.reply is not None:
                self.setreply(decision.reply.code, decision.reply.status, decision.reply.text)
        finally:
            self.spool.discard()
        self.daemon.messages += 1
        if log.isEnabledFor(logging.INFO):  # the arguments alone cost more than the check of the level
            log.info("%s: verdict=%s rules=%s findings=%s from=<%s> nrcpt=%d size=%d ms=%.1f", queue_id,
                     decision.verdict, ",".join(decision.rule_ids) or "-", decision.finding_summary(), self.sender,
                     len(self.recipients), size, (time.monotonic() - started) * 1000)
        if decision.verdict == Verdict.QUARANTINE:
            log.info("%s: held in quarantine: %s", queue_id, decision.quarantine_reason)
        return RESULT.get(verdict, Milter.ACCEPT)

    def _raw(self) -> bytes:
        """The message as received (a shadow copy is this, marked)."""
        assert self.spool is not None
        payload = self.spool.payload()
        return payload if isinstance(payload, bytes) else Path(payload).read_bytes()

    def abort(self) -> int:
        self._reset()
        return Milter.CONTINUE

    def close(self) -> int:
        if self.spool is not None:
            self.spool.discard()
        return Milter.CONTINUE


def socket_path(spec: str) -> Path | None:
    for prefix in ("unix:", "local:"):
        if spec.startswith(prefix):
            return Path(spec[len(prefix):])
    return None if ":" in spec else Path(spec)


def _secure_socket(spec: str, mode: int, group: str | None) -> None:
    path = socket_path(spec)
    if path is None:
        return
    if group:
        try:
            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        except (KeyError, PermissionError) as exc:
            log.warning("cannot give socket %s to group %s: %s", path, group, exc)
    os.chmod(path, mode)


def _reload_loop(daemon: Daemon) -> None:
    while True:
        signal.sigwait({RELOAD_SIGNAL})
        log.info("SIGUSR1: reloading")
        daemon.reload()


def serve(daemon: Daemon, spec: str, timeout: int = 600) -> None:
    """Open the socket (0660, group postfix by default), tell systemd we are ready, serve
    until libmilter gets TERM/INT/HUP."""
    milter = Milter.milter
    settings = daemon.daemon_settings
    OutguardMilter.daemon = daemon
    Milter.factory = OutguardMilter
    path = socket_path(spec)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    milter.set_flags(ACTIONS)
    milter.set_connect_callback(Milter.connect_callback)
    milter.set_helo_callback(lambda ctx, host: ctx.getpriv().hello(host))
    milter.set_envfrom_callback(lambda ctx, *b: ctx.getpriv().envfrom_bytes(*b))
    milter.set_envrcpt_callback(lambda ctx, *b: ctx.getpriv().envrcpt_bytes(*b))
    milter.set_header_callback(lambda ctx, f, v: ctx.getpriv().header_bytes(f, v))
    milter.set_body_callback(lambda ctx, chunk: ctx.getpriv().body(chunk))
    milter.set_eom_callback(lambda ctx: ctx.getpriv().eom())
    milter.set_abort_callback(lambda ctx: ctx.getpriv().abort())
    milter.set_close_callback(Milter.close_callback)
    milter.setconn(spec)
    milter.settimeout(timeout)
    milter.register("outguard", data=lambda ctx: ctx.getpriv().data(),
                    unknown=lambda ctx, cmd: ctx.getpriv().unknown(cmd), negotiate=Milter.negotiate_callback)
    old_umask = os.umask(0o117)
    try:
        milter.opensocket(True)
    finally:
        os.umask(old_umask)
    _secure_socket(spec, int(str(settings.get("socket_mode", "0660")), 8), settings.get("socket_group", "postfix"))
    threading.Thread(target=_reload_loop, args=(daemon,), name="outguard-reload", daemon=True).start()
    notify("READY=1")
    log.info("outguard listening on %s", spec)
    try:
        milter.main()
    finally:
        notify("STOPPING=1")
        if daemon.loop is not None:
            daemon.loop.drain(5)  # notices and shadow copies already decided on
        if daemon.audit is not None:
            log.info("audit trail chain head %s", daemon.audit.head)
        if path is not None:
            try:
                path.unlink()
            except OSError:
                pass
