"""Run a message's check calls one after another in one pooled thread, each within its own budget.

One thread per check cost 0.3-0.5 ms a message (seven hand-offs, and the checks then fight
for the GIL anyway). Here one pooled thread takes the calls in turn, each call's budget
starting when it starts. A call that overruns is abandoned like any other (it counts in
`abandoned_calls()` until it ends) and a fresh pooled thread takes the calls still waiting,
so one slow check delays the others by no more than its own budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from outguard.core.budget import BudgetExceeded, Running

Call = Callable[[float], Any]  # given its deadline (a time.monotonic() value), returns the result


class InTurn:
    """`calls[i]` with `budgets[i]` seconds each; `wait(i)` in order gives each result or raises its error."""

    def __init__(self, calls: Sequence[Call], budgets: Sequence[float], kind: str = "plugin") -> None:
        self._calls = list(calls)
        self._budgets = list(budgets)
        self._kind = kind
        self._results: list[Future[Any]] = [Future() for _ in self._calls]
        self._next = 0
        self._lock = threading.Lock()
        self._lane = self._start_lane()

    def _start_lane(self) -> tuple[Running, threading.Event]:
        retired = threading.Event()
        return Running(lambda: self._work(retired), self._kind), retired

    def _claim(self, retired: threading.Event) -> int | None:
        with self._lock:
            if retired.is_set() or self._next >= len(self._calls):
                return None
            index, self._next = self._next, self._next + 1
            return index

    def _work(self, retired: threading.Event) -> None:
        while (index := self._claim(retired)) is not None:
            result = self._results[index]
            try:
                result.set_result(self._calls[index](time.monotonic() + self._budgets[index]))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiter, as a Future does
                result.set_exception(exc)

    def wait(self, index: int) -> Any:
        """The result of call `index` (call in index order): raises its error, or BudgetExceeded
        once it has run its budget past the moment it could start (when this wait began)."""
        try:
            return self._results[index].result(timeout=self._budgets[index])
        except FutureTimeout:
            running, retired = self._lane
            retired.set()  # its thread finishes this call and takes no other
            try:
                running.wait(0.0)  # counted as abandoned until the call ends
            except BudgetExceeded:
                pass
            self._lane = self._start_lane()
            raise BudgetExceeded() from None
