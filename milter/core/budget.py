"""Run a call in a Python-made thread with a wall-clock budget.

Threads made by Python also keep C extensions that use PyGILState_* (spaCy) safe when
the caller is a libmilter thread (docs/postfix-and-pymilter.md#trap-1). A call that overruns is
abandoned, not killed: the caller gets BudgetExceeded and goes on. Threads come from
long-lived pools (a new thread per call cost ~0.1 ms a message, measured), one pool per
kind of call so an outer call never waits on an inner one queued behind it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

MAX_THREADS = 64
_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
_overdue: set[Future[Any]] = set()


class BudgetExceeded(Exception):
    """The call did not finish within its budget."""


def _pool(kind: str) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(kind)
        if pool is None:
            pool = _pools[kind] = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix=f"outguard-{kind}")
        return pool


class Running:
    """One call under way; `wait()` returns its result or raises its error."""

    def __init__(self, fn: Callable[[], Any], kind: str = "call") -> None:
        self._future = _pool(kind).submit(fn)

    def wait(self, deadline: float) -> Any:
        try:
            return self._future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            _overdue.add(self._future)
            self._future.add_done_callback(_overdue.discard)
            raise BudgetExceeded() from None


def call_with_budget(fn: Callable[[], Any], seconds: float, kind: str = "call") -> Any:
    return Running(fn, kind).wait(time.monotonic() + seconds)


def abandoned_calls() -> int:
    """Calls still running past their budget (a gauge for operators: each holds a thread)."""
    return len(_overdue)
