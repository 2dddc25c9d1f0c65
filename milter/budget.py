"""Run a call in a Python-made thread with a wall-clock budget.

Threads made by Python also keep C extensions that use PyGILState_* (spaCy) safe when
the caller is a libmilter thread (FIELD-NOTES trap 1). A call that overruns is
abandoned, not killed: the caller gets BudgetExceeded and goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class BudgetExceeded(Exception):
    """The call did not finish within its budget."""


@dataclass
class _Slot:
    result: Any = None
    error: BaseException | None = None


class Running:
    """One call under way; `wait()` returns its result or raises its error."""

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        self._slot = _Slot()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn,), name=f"outguard-{name}", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._slot.result = fn()
        except BaseException as exc:  # contained: reported to the waiter
            self._slot.error = exc
        finally:
            self._done.set()

    def wait(self, deadline: float) -> Any:
        if not self._done.wait(max(0.0, deadline - time.monotonic())):
            raise BudgetExceeded()
        if self._slot.error is not None:
            raise self._slot.error
        return self._slot.result


def call_with_budget(fn: Callable[[], Any], seconds: float, name: str = "call") -> Any:
    return Running(fn, name).wait(time.monotonic() + seconds)


def abandoned_threads() -> int:
    """Threads still running calls that overran (a gauge for operators)."""
    return sum(1 for t in threading.enumerate() if t.name.startswith("outguard-") and t.is_alive())
