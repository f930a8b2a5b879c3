"""Quadrant's engine: the store and the analyses. Never imports textual or tui."""

__version__ = "0.1.0"
