"""Messages the app sends every screen about long work: a recompute or the demo load.

The worker thread posts these to the app; the app updates the header and
forwards a fresh copy to each live screen, so a screen refreshes its data by
handling ``on_recompute_finished``.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class RecomputeStarted(Message, bubble=False):
    """A recompute (or demo load) began; screens may dim stale figures."""

    def __init__(self, label: str = "recomputing") -> None:
        super().__init__()
        self.label = label


class RecomputeProgress(Message, bubble=False):
    """One step of the running work; a newer one replaces a queued older one."""

    def __init__(self, step: str, done: int, total: int) -> None:
        super().__init__()
        self.step = step
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RecomputeProgress)


class RecomputeFinished(Message, bubble=False):
    """New results are in the store: re-read whatever the screen shows."""

    def __init__(self, report: Any = None) -> None:
        super().__init__()
        self.report = report
        """The ``core.recompute.RecomputeReport`` (``None`` after a demo load without a recompute)."""


class RecomputeFailed(Message, bubble=False):
    """The work failed; the store still holds the last good results."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
