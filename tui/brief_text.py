"""``quadrant brief ACCOUNT_ID``: the account brief printed with Rich, for a call-prep doc."""

from __future__ import annotations

from datetime import date

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from core.store import Store
from tui.brief_data import load_brief
from tui.brief_render import SECTIONS, kpi_table, title


def render_brief(store: Store, account_id: str, as_of: date, console: Console) -> None:
    """Print the brief of ``account_id`` as of ``as_of``; raises StoreError for an unknown account."""
    brief = load_brief(store, account_id, as_of)
    console.print(
        Panel(title(brief), box=box.HEAVY, subtitle=f"as of {as_of.isoformat()}", subtitle_align="right")
    )
    console.print(Panel(kpi_table(brief), title="At a glance", title_align="left", box=box.ROUNDED))
    for heading, render in SECTIONS:
        console.print(Panel(render(brief), title=heading, title_align="left", box=box.ROUNDED))
    console.print(Text(f"Quadrant brief · {store.path.name}", style="dim"))
