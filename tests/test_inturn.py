"""The checks of one message run in turn in one pooled thread (outguard.checks.inturn): each
within its own budget from when it starts, an overrun left behind, the rest run once each."""

from __future__ import annotations

import threading
import time

import pytest

from outguard.checks.inturn import InTurn
from outguard.core.budget import BudgetExceeded, abandoned_calls


def test_results_and_errors_come_back_in_order_from_one_thread() -> None:
    threads: list[int] = []

    def answer(value: int) -> object:
        def call(deadline: float) -> int:
            threads.append(threading.get_ident())
            if value < 0:
                raise ValueError("negative")
            return value
        return call

    turns = InTurn([answer(1), answer(-1), answer(3)], [1.0, 1.0, 1.0])
    assert turns.wait(0) == 1
    with pytest.raises(ValueError, match="negative"):
        turns.wait(1)
    assert turns.wait(2) == 3
    assert len(set(threads)) == 1 and threading.get_ident() not in threads


def test_an_overrun_is_left_behind_and_the_rest_run_once_each_with_their_own_budget() -> None:
    release = threading.Event()
    runs: list[str] = []
    deadlines: dict[str, float] = {}

    def call(name: str, hold: bool = False) -> object:
        def run(deadline: float) -> str:
            deadlines[name] = deadline - time.monotonic()
            runs.append(name)
            if hold:
                release.wait(10)
            return name
        return run

    started = time.monotonic()
    turns = InTurn([call("slow", hold=True), call("next"), call("last")], [0.4, 1.0, 1.0])
    with pytest.raises(BudgetExceeded):
        turns.wait(0)
    assert 0.35 < time.monotonic() - started < 2.0
    assert abandoned_calls() >= 1  # the slow call still holds its thread, and says so
    assert turns.wait(1) == "next" and turns.wait(2) == "last"
    assert deadlines["next"] > 0.8  # its budget began when it started, not with the message
    release.set()
    until = time.monotonic() + 5
    while abandoned_calls() and time.monotonic() < until:
        time.sleep(0.01)
    assert abandoned_calls() == 0
    time.sleep(0.05)
    assert sorted(runs) == ["last", "next", "slow"]  # the overrun's thread took no other call
