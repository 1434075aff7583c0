"""Keeping a large queue of waiting calls out of CPython's full garbage collections.

A full collection walks every object the collector tracks; 100,000 waiting calls are some
600,000 of them (asyncio's task, context, registry entry and wake-up callback, the coroutine,
the lane's future), so each full collection while they wait pauses the event loop for a tenth
of a second or more, whoever's code allocates at that moment. ``gc.freeze()`` moves every
tracked object into a permanent generation that collections skip (in O(1)); ``gc.unfreeze()``
puts them back (O(1) too).

Each lane freezes the process's objects as its queue reaches ``gc_freeze_above`` waiters
(:data:`DEFAULT_GC_FREEZE_ABOVE`, 10,000, unless the client or limiter says otherwise; ``None``:
never), again each 1,000 more waiters beyond the highest point frozen so far, and the last of them
to drain unfreezes. Only a batch reaches that: below it a full collection over the queue takes
some 10-30 ms, and above it the pauses grow with the queue (0.14 s at 100,000 queued calls,
docs/benchmarks.md). Bounded on purpose:

* nothing is done when someone else froze first (``gc.get_freeze_count()`` is not 0 when no
  lane holds a freeze: a pre-fork server's ``gc.freeze()``), or when the collector is disabled;
* freezing follows the queue's *high-water mark*: a queue that stays long (arrivals matching
  departures) is not frozen again and again, so what a freeze keeps from the collector is at
  most what was alive at the peak;
* when the last frozen lane's queue drains (served, cancelled or failed), everything goes back
  to the collector; cyclic garbage that formed among frozen objects meanwhile is collected then;
* a child process forked while a queue holds the freeze keeps its inherited objects frozen (as
  after a pre-fork server's ``gc.freeze()``: they are its parent's, and the parent's queue never
  drains in the child), and its own lanes leave the collector alone.

The collector is process-wide, so this state is too (one per process, whichever loop or thread).
"""

from __future__ import annotations

import gc
import os
import sysconfig
import threading
from typing import Any

__all__: list[str] = []

DEFAULT_GC_FREEZE_ABOVE = 10_000
"""Queued calls in one category past which a lane keeps the queue out of full collections."""

_CAN_FREEZE = hasattr(gc, "freeze") and not sysconfig.get_config_var("Py_GIL_DISABLED")
"""CPython 3.7+ with the GIL, where ``gc.freeze()`` moves the collector's lists in O(1). The
free-threaded build's stops the world and marks every object on the heap, at each call, which
is the cost a freeze is meant to save; other interpreters have no generational collector."""


class _Freezer:
    """Who holds the process's freeze: the set of lanes whose queue grew past their limit."""

    def __init__(self) -> None:
        self._holders: set[Any] = set()
        self._lock = threading.Lock()
        self.freezes = 0
        """``gc.freeze()`` calls made (for tests and benchmarks)."""
        self.unfreezes = 0

    @property
    def holders(self) -> int:
        return len(self._holders)

    def holds(self, lane: Any) -> bool:
        """Whether ``lane``'s queue holds a freeze."""
        return lane in self._holders

    def freeze(self, lane: Any) -> bool:
        """``lane``'s queue reached its next freeze point: freeze (``False``: not ours to do)."""
        with self._lock:
            if not self._holders and (
                not _CAN_FREEZE or gc.get_freeze_count() or not gc.isenabled()
            ):
                return False  # someone else's freeze (or no collector): leave it alone
            self._holders.add(lane)
            gc.freeze()
            self.freezes += 1
            return True

    def release(self, lane: Any) -> None:
        """``lane``'s queue drained: the last holder gives every object back to the collector."""
        with self._lock:
            if lane not in self._holders:
                return
            self._holders.discard(lane)
            if not self._holders:
                gc.unfreeze()
                self.unfreezes += 1

    def forget(self) -> None:
        """In a forked child: the parent's lanes are not the child's to drain. What they froze
        stays frozen in the child, as someone else's freeze (see :meth:`freeze`)."""
        self._holders = set()
        self._lock = threading.Lock()


FREEZER = _Freezer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=FREEZER.forget)
