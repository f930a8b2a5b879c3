"""The segment selector the portfolio and rules screens share: all / enterprise / mid-market / smb."""

from __future__ import annotations

from textual.widgets import Tab, Tabs

from core.frames import SEGMENTS

SEGMENT_CHOICES = ("all", *SEGMENTS)
SEGMENT_LABELS = {"all": "All accounts", "enterprise": "Enterprise", "mid-market": "Mid-market", "smb": "SMB"}


class SegmentTabs(Tabs):
    """Tabs whose ids are ``seg-<segment>``; :attr:`segment` names the active one."""

    DEFAULT_CSS = """
    SegmentTabs { height: 2; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(*(Tab(SEGMENT_LABELS[s], id=f"seg-{s}") for s in SEGMENT_CHOICES), id=id)

    @property
    def segment(self) -> str:
        return (self.active or "seg-all").removeprefix("seg-")

    def cycle(self) -> None:
        """Activate the next segment (wrapping), as the ``g`` key does."""
        index = SEGMENT_CHOICES.index(self.segment)
        self.active = f"seg-{SEGMENT_CHOICES[(index + 1) % len(SEGMENT_CHOICES)]}"
