"""Handing a thread worker's result to its screen, unless a newer read replaced it.

Screens read the store in exclusive thread workers. Starting a new one cancels the
old one, but a thread cannot be stopped: the old read still finishes, and if it
finishes last, its older answer (another owner's book, figures from before a
recompute) would replace the newer one on screen.
"""

from __future__ import annotations

from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import get_current_worker


def post_if_current(target: MessagePump, message: Message) -> bool:
    """Post ``message`` to ``target`` from a worker thread unless that worker was cancelled."""
    if get_current_worker().is_cancelled:
        return False
    return target.post_message(message)
