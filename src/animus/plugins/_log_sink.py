"""Agent events to ``log_storage_backend`` plugins (``log/entry``): best effort, through a bounded buffer, never blocking a run.

``offer`` only appends to a buffer (at most ``capacity`` entries per plugin) and returns; a sender
thread per plugin delivers the entries in order. While a plugin is down or slow, entries wait in
the buffer (the sender retries the oldest with a backoff); once the buffer is full the oldest entry
is dropped and counted. So an outage shorter than the buffer loses nothing, a longer one loses the
oldest entries — and no agent run ever fails, waits or hangs because of its log storage.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from animus.domain.errors import AnimusError

if TYPE_CHECKING:
    from animus.plugins._host import PluginHost

#: the plugin kind that receives ``log/entry``
LOG_STORAGE_KIND = "log_storage_backend"
DEFAULT_LOG_BUFFER = 1000
_CALL_TIMEOUT_SECS = 5.0
_RETRY_FIRST_SECS = 0.25
_RETRY_MAX_SECS = 5.0
_log = logging.getLogger("animus.plugins")


class _Lane:
    """One plugin's buffer and sender thread."""

    def __init__(self, host: PluginHost, name: str, capacity: int) -> None:
        self.host = host
        self.name = name
        self.entries: deque[dict[str, Any]] = deque()
        self.capacity = capacity
        self.dropped = 0
        self.sent = 0
        self.failures = 0
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._send_loop, name=f"log-sink-{name}", daemon=True)
        self.thread.start()

    def offer(self, entry: dict[str, Any]) -> None:
        with self.cond:
            if len(self.entries) >= self.capacity:
                self.entries.popleft()
                self.dropped += 1
            self.entries.append(entry)
            self.cond.notify()

    def _send_loop(self) -> None:
        wait = _RETRY_FIRST_SECS
        while True:
            with self.cond:
                while not self.entries and not self.closed:
                    self.cond.wait()
                if not self.entries:
                    return
                entry = self.entries[0]
            try:
                self.host.call(self.name, "log/entry", entry, timeout=_CALL_TIMEOUT_SECS)
            except AnimusError as err:
                self.failures += 1
                if self.failures == 1 or self.failures % 100 == 0:
                    _log.warning("log_entry_failed plugin=%s failures=%s error=%s", self.name, self.failures, err.message)
                with self.cond:
                    if self.closed:
                        return
                    self.cond.wait(wait)  # the entry stays first in the buffer: tried again after the backoff
                wait = min(wait * 2, _RETRY_MAX_SECS)
                continue
            wait = _RETRY_FIRST_SECS
            with self.cond:
                if self.entries and self.entries[0] is entry:
                    self.entries.popleft()
                self.sent += 1
                self.cond.notify_all()

    def flush(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: not self.entries, timeout)

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class LogSink:
    """The ``log_storage_backend`` plugins of one process, each fed every offered entry (see the module doc)."""

    def __init__(self, host: PluginHost, names: list[str], *, capacity: int = DEFAULT_LOG_BUFFER) -> None:
        self.host = host
        self._lanes = [_Lane(host, name, capacity) for name in names]

    @property
    def plugins(self) -> list[str]:
        return [lane.name for lane in self._lanes]

    def offer(self, entry: dict[str, Any]) -> None:
        """Hand one entry to every plugin's buffer; returns at once, whatever the plugins' state."""
        for lane in self._lanes:
            lane.offer(entry)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per plugin: entries ``sent``, ``dropped`` (buffer full), ``pending`` (in the buffer), failed ``failures``."""
        return {lane.name: {"sent": lane.sent, "dropped": lane.dropped, "pending": len(lane.entries), "failures": lane.failures}
                for lane in self._lanes}

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait up to ``timeout`` seconds for every buffer to empty (tests, a clean shutdown); True when it did."""
        return all(lane.flush(timeout) for lane in self._lanes)

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()
