"""Run a message's check calls one after another in one pooled thread, each within its own budget.

One thread per check cost 0.3-0.5 ms a message (seven hand-offs, and the checks then fight
for the GIL anyway). Here one pooled thread takes the calls in turn, each call's budget
starting when it starts. A call that overruns is abandoned like any other (it counts in
`abandoned_calls()` until it ends) and a fresh pooled thread takes the calls still waiting,
so one slow check delays the others by no more than its own budget.

The waiter is woken once a message, when the last call ends (or when the call under way
passes its deadline), not after every call: a wake-up per call cost a GIL hand-off and two
context switches each, about 0.1 ms a message of seven checks (measured in the worker).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from outguard.core.budget import BudgetExceeded, Running

Call = Callable[[float], Any]  # given its deadline (a time.monotonic() value), returns the result
_PENDING = object()


class InTurn:
    """`calls[i]` with `budgets[i]` seconds each; `wait(i)` in order gives each result or raises its error."""

    def __init__(self, calls: Sequence[Call], budgets: Sequence[float], kind: str = "plugin") -> None:
        self._calls = list(calls)
        self._budgets = list(budgets)
        self._kind = kind
        count = len(self._calls)
        self._results: list[Any] = [_PENDING] * count
        self._errors: list[BaseException | None] = [None] * count
        self._started: list[float | None] = [None] * count
        self._next = 0
        self._cond = threading.Condition(threading.Lock())
        self._lane = self._start_lane()

    def _start_lane(self) -> tuple[Running, threading.Event]:
        retired = threading.Event()
        return Running(lambda: self._work(retired), self._kind), retired

    def _work(self, retired: threading.Event) -> None:
        cond, last = self._cond, len(self._calls)
        while True:
            with cond:
                if retired.is_set() or self._next >= last:
                    cond.notify_all()  # nothing left for this lane: the waiter may look
                    return
                index, self._next = self._next, self._next + 1
                started = self._started[index] = time.monotonic()
            try:
                value, error = self._calls[index](started + self._budgets[index]), None
            except BaseException as exc:  # noqa: BLE001 - handed to the waiter, as a Future does
                value, error = None, exc
            with cond:
                self._results[index], self._errors[index] = value, error

    def wait(self, index: int) -> Any:
        """The result of call `index` (call in index order): raises its error, or BudgetExceeded
        once it has run its budget past the moment it started (or this wait began, if later)."""
        budget = self._budgets[index]
        with self._cond:
            since = time.monotonic()
            while self._results[index] is _PENDING:
                began = self._started[index]
                begun = since if began is None or began < since else began
                remaining = begun + budget - time.monotonic()
                if remaining <= 0:
                    self._abandon()
                    raise BudgetExceeded()
                self._cond.wait(remaining)
            error = self._errors[index]
        if error is not None:
            raise error
        return self._results[index]

    def _abandon(self) -> None:
        """Called holding the lock: the lane's thread finishes its call and takes no other;
        a fresh lane takes the calls still waiting."""
        running, retired = self._lane
        retired.set()
        try:
            running.wait(0.0)  # counted as abandoned until the call ends
        except BudgetExceeded:
            pass
        self._lane = self._start_lane()
