"""At most `count` events per key within `per_seconds` (a sliding window): sender notices
per sender, login attempts per client. In memory, thread-safe, bounded in keys."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


class RateLimit:
    def __init__(self, count: int, per_seconds: float, max_keys: int = 100_000) -> None:
        self.count = count
        self.per_seconds = per_seconds
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _window(self, key: str, now: float) -> deque[float]:
        seen = self._events.setdefault(key, deque())
        self._events.move_to_end(key)
        while seen and now - seen[0] >= self.per_seconds:
            seen.popleft()
        while len(self._events) > self.max_keys:  # forget the longest-idle key first
            self._events.popitem(last=False)
        return seen

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count one event for `key` if the window has room; False (and nothing counted) if not."""
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._window(key, now)
            if len(seen) >= self.count:
                return False
            seen.append(now)
            return True

    def blocked(self, key: str, now: float | None = None) -> bool:
        """Would the next event for `key` be refused? (Counts nothing.)"""
        now = time.monotonic() if now is None else now
        with self._lock:
            return len(self._window(key, now)) >= self.count
