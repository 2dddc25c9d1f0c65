"""Where inspection runs for the daemon: inline (a Python thread in the milter process)
or in a pool of worker processes started before the milter.

Both take raw bytes (or a spool file path) plus an Envelope and return a Decision, or raise
InspectionFailed; the milter then applies the configured on_error action, or, for an
inspection that ran out of time (InspectionTimedOut), `daemon.on_timeout`. The pool also
contains what a thread cannot: a check that segfaults or hangs forever is killed and
its worker replaced, and two cores inspect at once despite the GIL.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import select
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from outguard.core.budget import BudgetExceeded, call_with_budget
from outguard.core.config import Config, load_config, merge
from outguard.core.decision import Decision
from outguard.core.message import Envelope
from outguard.pipeline import Inspector
from outguard.rules.loader import load_rules

log = logging.getLogger("outguard.daemon.runner")


class InspectionFailed(Exception):
    """Inspection did not produce a decision (timeout, dead worker, no worker free)."""


class InspectionTimedOut(InspectionFailed):
    """The whole inspection overran `daemon.inspect_timeout_seconds`. Unlike a dead worker
    or a busy pool, a retry of the same message would overrun again: the milter applies
    `daemon.on_timeout` (default quarantine), not on_error."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"inspection exceeded {seconds:g} s")
        self.seconds = seconds


@dataclass(frozen=True)
class Setup:
    """How to build an Inspector: enough to rebuild it in another process or on reload."""

    config_path: Path | None
    rule_paths: tuple[Path, ...] = ()
    include_defaults: bool | None = None
    store_url: str | None = None  # `--store`: overrides the config's store.url

    def config(self) -> Config:
        return load_config(self.config_path)

    def inspector(self) -> Inspector:
        config = self.config()
        if self.store_url:
            config = Config(raw=merge(config.raw, {"store": {"url": self.store_url}}), source=config.source)
        return Inspector.create(config, list(self.rule_paths), self.include_defaults)

    def validate(self) -> Config:
        """Load config and rules without starting plugins; raise on any error."""
        config = self.config()
        load_rules(config, list(self.rule_paths), self.include_defaults)
        return config


Payload = bytes | str  # message bytes, or the path of a spool file holding them


def read_payload(payload: Payload) -> bytes:
    return Path(payload).read_bytes() if isinstance(payload, str) else payload


class Runner(Protocol):
    def inspect(self, payload: Payload, envelope: Envelope) -> Decision: ...
    def reload(self) -> Config: ...
    def close(self) -> None: ...


class InlineRunner:
    """Inspection in a Python-made thread of the milter process (spaCy-safe, GIL-bound)."""

    def __init__(self, setup: Setup, timeout: float) -> None:
        self.setup = setup
        self.timeout = timeout
        self.inspector = setup.inspector()

    def inspect(self, payload: Payload, envelope: Envelope) -> Decision:
        try:
            result = call_with_budget(lambda: self.inspector.inspect(read_payload(payload), envelope),
                                      self.timeout, "inspect")
        except BudgetExceeded:
            raise InspectionTimedOut(self.timeout) from None
        except OSError as exc:
            raise InspectionFailed(f"spool unreadable: {exc.strerror}") from None
        return result.decision

    def reload(self) -> Config:
        """Validate, then build a whole new inspector (new check objects, start-up run again,
        as the pool's new worker generation does) and swap it in; the old one is closed."""
        config = self.setup.validate()
        fresh = self.setup.inspector()
        old, self.inspector = self.inspector, fresh
        old.close()
        return config

    def close(self) -> None:
        self.inspector.close()


def _worker_main(conn: Connection, setup: Setup) -> None:
    """A worker: build the inspector once, then answer requests until told to stop."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)  # the parent decides; SIGTERM still ends us
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:
        inspector = setup.inspector()
    except Exception as exc:
        conn.send(("failed", str(exc)))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            break  # the parent is gone
        if request is None:
            break
        payload, envelope = request
        try:
            raw = read_payload(payload)
        except OSError as exc:
            conn.send(("error", f"spool unreadable: {exc.strerror}"))
            continue
        conn.send(("decision", inspector.inspect(raw, envelope).decision))
    inspector.close()


@dataclass
class _Worker:
    process: Any
    conn: Connection
    generation: int
    poller: Any = None   # select.poll on the pipe and the process sentinel, made once

    def __post_init__(self) -> None:
        self.poller = select.poll()
        self.poller.register(self.conn.fileno(), select.POLLIN)
        self.poller.register(self.process.sentinel, select.POLLIN)

    def quiet(self) -> bool:
        """True while the worker is alive and has said nothing: an idle worker never speaks, so
        anything here (its exit, EOF on the pipe) means it is gone. One poll(2) call, where
        `is_alive()` and `Connection.poll` build a selector each time (~35 us a message)."""
        return not self.poller.poll(0)

    def answer_ready(self, timeout: float) -> bool | None:
        """Wait up to `timeout` s: True once the pipe has something (the answer, or EOF if the
        worker died), None if the worker exited without a word, False on time-out."""
        events = self.poller.poll(max(0, int(timeout * 1000)))
        if not events:
            return False
        return True if any(fd == self.conn.fileno() for fd, _ in events) else None

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.process.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)


def _start_keeping_signal_mask(process: multiprocessing.process.BaseProcess) -> None:
    """Start a worker and put back the caller's signal mask: the first start launches
    multiprocessing's resource tracker, which (CPython 3.11) *unblocks* SIGINT and SIGTERM
    in the calling thread afterwards. Every thread created later would inherit that, and a
    TERM delivered to one of them kills the daemon instead of reaching libmilter's sigwait."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class WorkerPool:
    """N worker processes, each with its own Inspector; one message at a time each."""

    def __init__(self, setup: Setup, size: int, timeout: float, start_timeout: float = 120.0) -> None:
        self.setup = setup
        self.size = size
        self.timeout = timeout
        self.start_timeout = start_timeout
        # forkserver: workers forked from a clean single-threaded server, never from the
        # milter process with its libmilter threads (forking those is undefined territory).
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["outguard.daemon.runner"])
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._generation = 0
        self._lock = threading.Lock()
        self._closed = False
        for worker in self._spawn_many(size, 0):
            self._idle.put(worker)

    def _spawn(self, generation: int) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, self.setup), name="outguard-worker", daemon=True)
        _start_keeping_signal_mask(process)
        child.close()
        worker = _Worker(process, parent, generation)
        if not parent.poll(self.start_timeout):
            worker.stop(kill=True)
            raise InspectionFailed(f"worker did not start within {self.start_timeout:g} s")
        try:
            status, detail = parent.recv()
        except (EOFError, OSError):
            worker.stop(kill=True)
            raise InspectionFailed("worker died while starting") from None
        if status != "ready":
            worker.stop(kill=True)
            raise InspectionFailed(f"worker failed to start: {detail}")
        return worker

    def _spawn_many(self, count: int, generation: int) -> list[_Worker]:
        made: list[_Worker] = []
        try:
            for _ in range(count):
                made.append(self._spawn(generation))
        except InspectionFailed:
            for worker in made:
                worker.stop()
            raise
        return made

    def _replace_later(self, generation: int) -> None:
        def replace() -> None:
            try:
                worker = self._spawn(generation)
            except InspectionFailed as exc:
                log.error("could not replace a worker: %s", exc)
                return
            if self._closed or generation != self._generation:
                worker.stop()
            else:
                self._idle.put(worker)
        threading.Thread(target=replace, name="outguard-respawn", daemon=True).start()

    def _take(self) -> _Worker:
        while True:
            try:
                worker = self._idle.get(timeout=self.timeout)
            except queue.Empty:
                raise InspectionFailed(f"no worker free within {self.timeout:g} s") from None
            if worker.generation == self._generation and worker.quiet():
                return worker
            alive = worker.process.is_alive()
            worker.stop(kill=not alive)
            if not alive:
                self._replace_later(self._generation)

    def inspect(self, payload: Payload, envelope: Envelope) -> Decision:
        if self._closed:
            raise InspectionFailed("shutting down")
        worker = self._take()
        try:
            worker.conn.send((payload, envelope))
            ready = worker.answer_ready(self.timeout)
            if ready is False:
                log.error("worker %s exceeded %g s; killing it", worker.process.pid, self.timeout)
                worker.stop(kill=True)
                self._replace_later(worker.generation)
                raise InspectionTimedOut(self.timeout)
            if ready is None:
                raise EOFError
            kind, value = worker.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            log.error("worker %s died (exit code %s); replacing it", worker.process.pid, worker.process.exitcode)
            worker.stop(kill=True)
            self._replace_later(worker.generation)
            raise InspectionFailed("worker died during inspection") from None
        self._idle.put(worker)
        if kind != "decision":
            raise InspectionFailed(str(value))
        return value  # type: ignore[no-any-return]

    def reload(self) -> Config:
        """Validate, start a new generation of workers, then retire the old one as it comes free."""
        config = self.setup.validate()
        with self._lock:
            fresh = self._spawn_many(self.size, self._generation + 1)
            self._generation += 1
            for worker in fresh:
                self._idle.put(worker)
        return config

    def pids(self) -> list[int]:
        return [w.process.pid for w in list(self._idle.queue)]

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().stop()
            except queue.Empty:
                break
