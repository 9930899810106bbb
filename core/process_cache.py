"""A small per-process cache for settings-like rows that every request reads and staff rarely change
(the active earning rules, which shops have no webhook endpoints).

Each web process keeps its own copy for settings.CONFIG_CACHE_SECONDS (0 turns caching off, as the tests
do). A change saved in a process clears that process's copy at once, and again when the change commits;
the other processes see it within those seconds. That delay is the price: only cache what may lag that
long (never API keys: a revoked key must stop at once).
"""

import time
from collections.abc import Callable, Hashable

from django.conf import settings
from django.db import transaction


class ProcessCache:
    """Values by key, each loaded once per CONFIG_CACHE_SECONDS in this process."""

    def __init__(self, name: str):
        self.name = name
        self._entries: dict[Hashable, tuple[float, object]] = {}

    def get(self, key: Hashable, load: Callable[[], object]):
        seconds = settings.CONFIG_CACHE_SECONDS
        if seconds <= 0:
            return load()
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = load()
        self._entries[key] = (now + seconds, value)
        return value

    def peek(self, key: Hashable, default=None):
        """The value kept for `key` if still fresh, else `default` (nothing is loaded)."""
        found = self._entries.get(key)
        if settings.CONFIG_CACHE_SECONDS <= 0 or found is None or found[0] <= time.monotonic():
            return default
        return found[1]

    def put(self, key: Hashable, value: object) -> None:
        """Keep `value` for `key` (nothing while caching is off)."""
        seconds = settings.CONFIG_CACHE_SECONDS
        if seconds > 0:
            self._entries[key] = (time.monotonic() + seconds, value)

    def clear(self) -> None:
        self._entries = {}

    def invalidate(self, **_signal_kwargs) -> None:
        """Forget everything now and again once the current transaction commits (another thread may have
        loaded the old rows meanwhile). A receiver for post_save and post_delete."""
        self.clear()
        transaction.on_commit(self.clear)
