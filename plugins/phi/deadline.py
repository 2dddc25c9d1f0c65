"""The host's cooperative deadline, read by every loop of the check.

The host gives each check a deadline (`context.deadline`, a `time.monotonic()` value, or
None for none). Loops over chunks and candidates call `tick()`; past the deadline it raises
TimeoutError("phi: deadline"), which the host turns into a `scan.budget_exceeded` finding.
The clock is read once every `every` ticks, so the check costs next to nothing.
"""

from __future__ import annotations

import time


class Deadline:
    def __init__(self, at: float | None, every: int = 128) -> None:
        self.at = at
        self.every = every
        self._ticks = 0

    def check(self) -> None:
        """Raise if the deadline has passed (read the clock now)."""
        if self.at is not None and time.monotonic() > self.at:
            raise TimeoutError("phi: deadline")

    def tick(self) -> None:
        """One step of a loop: read the clock every `every` steps."""
        if self.at is None:
            return
        self._ticks += 1
        if self._ticks % self.every == 0:
            self.check()


NONE = Deadline(None)
