"""The Quadrant app: compose, bindings, routing. Screens, dialogs and data live elsewhere.

Build it with :func:`make_app` so tests can hand in their own store, a frozen
clock and a stand-in for the recompute.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from core.store import Store, StoreError
from tui.formatting import format_ago
from tui.messages import RecomputeFailed, RecomputeFinished, RecomputeProgress, RecomputeStarted
from tui.palette import AccountSearch
from tui.screens import BRIEF, BY_NAME, SCREENS, load_class, make_screen

Progress = Callable[[str, int, int], None]
Job = Callable[[Progress], Any]

STATUS_REFRESH_SECONDS = 30
QUADRANT_COLOURS = {
    "quadrant-fix-and-expand": "#d8a03a",
    "quadrant-rescue": "#d9534f",
    "quadrant-expand": "#4caf72",
    "quadrant-nurture": "#5b8fd6",
}
"""App-wide CSS variables ($quadrant-rescue, ...) every screen's .tcss may use; a theme may override them."""


class QuadrantApp(App):
    """Routes between the five screens and the account brief; runs long work in thread workers."""

    CSS_PATH = "app.tcss"
    TITLE = "Quadrant"
    COMMANDS = App.COMMANDS | {AccountSearch}
    BINDINGS = [
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True),
        *(Binding(e.key, f"show_screen('{e.name}')", e.label) for e in SCREENS),
        Binding("r", "recompute", "Recompute"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit", show=False),
    ]

    store_summary: reactive[str] = reactive("")
    """The header's middle: the store file and its counts."""
    status: reactive[str] = reactive("")
    """The header's right: the as-of date and when results were computed, or the running work."""
    busy: reactive[bool] = reactive(False)
    """True while a recompute or the demo load runs."""

    def __init__(
        self,
        store: Store,
        as_of: date,
        now: Callable[[], datetime],
        recompute_job: Callable[[Store, date, Progress], Any] | None = None,
        demo_job: Callable[[Store, date, Progress], Any] | None = None,
        start: str | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        """The open store; screens read it, and may use it from worker threads."""
        self.as_of = as_of
        """The analysis date every screen counts days from."""
        self.now = now
        """The clock for "computed N min ago" (frozen in tests)."""
        self._recompute_job = recompute_job or _default_recompute
        self._demo_job = demo_job or _default_demo
        self._screens: weakref.WeakSet[Screen] = weakref.WeakSet()
        self._failed = False
        self._counts: dict[str, int] = {}
        self._label = ""
        self._start_mode = start
        for entry in SCREENS:
            self.add_mode(entry.name, partial(self._make_screen, entry.name))

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **QUADRANT_COLOURS}

    # -- start-up --------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._restore_theme()
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        counts = self.refresh_summary()
        self.refresh_status()
        self.set_interval(STATUS_REFRESH_SECONDS, self.refresh_status)
        first = (
            self._start_mode if self._start_mode in BY_NAME else ("todo" if counts["todos"] else "accounts")
        )
        self.switch_mode(first)
        if counts["accounts"] == 0:
            from tui.dialogs.demo_offer import DemoOfferDialog

            self.push_screen(DemoOfferDialog(), self._demo_answered)

    def _make_screen(self, name: str) -> Screen:
        screen = make_screen(name)
        self._screens.add(screen)
        return screen

    def _restore_theme(self) -> None:
        try:
            name = self.store.settings().get("ui.theme")
        except StoreError:
            return
        if name and name in self.available_themes:
            self.theme = name

    def _remember_theme(self, theme: Any) -> None:
        try:
            if self.store.settings().get("ui.theme") != theme.name:
                self.store.set_setting("ui.theme", theme.name)
        except (StoreError, ValueError) as error:
            self.notify(f"Could not remember the theme: {error}", severity="warning")

    # -- the header ------------------------------------------------------------------------------------

    def refresh_summary(self) -> dict[str, int]:
        """Re-count the store for the header; returns the counts."""
        scalar = self.store.scalar
        counts = {
            "accounts": int(scalar("SELECT count(*) FROM accounts") or 0),
            "products": int(scalar("SELECT count(*) FROM products") or 0),
            "todos": int(scalar("SELECT count(*) FROM todos") or 0),
            "open": int(scalar("SELECT count(*) FROM todos WHERE status = 'open' AND active = 1") or 0),
        }
        self._counts = counts
        self.store_summary = (
            f"{Path(self.store.path).name} · {counts['accounts']:,} accounts · "
            f"{counts['products']:,} products · {counts['open']:,} open to-dos"
        )
        return counts

    def refresh_status(self) -> None:
        """The idle status line: the as-of date and how long ago the results were computed."""
        if self.busy:
            return
        run = self.store.last_run()
        when = (
            f"computed {format_ago(run['finished_at'], self.now())}" if run else "not computed yet: press r"
        )
        prefix = "recompute failed, last good results kept · " if self._failed else ""
        self.status = f"{prefix}as of {self.as_of.isoformat()} · {when}"

    # -- routing ---------------------------------------------------------------------------------------

    def action_show_screen(self, name: str) -> None:
        """Switch to a top-level screen; pressing its key again returns to its list from a brief."""
        if name not in BY_NAME:
            return
        if self.current_mode == name:
            while len(self.screen_stack) > 1 and not self.screen.is_modal:
                self.pop_screen()
            return
        self.switch_mode(name)

    def open_account(self, account_id: str) -> None:
        """Show the brief for ``account_id`` (replacing a brief already on top)."""
        brief_class = load_class(BRIEF)
        screen = brief_class(account_id)
        self._screens.add(screen)
        if isinstance(self.screen, brief_class):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for entry in SCREENS:
            yield SystemCommand(
                f"Go to {entry.label}",
                f"Switch to the {entry.label} screen ({entry.key})",
                partial(self.action_show_screen, entry.name),
            )
        yield SystemCommand(
            "Recompute now", "Rerun every analysis in the background (r)", self.action_recompute
        )
        yield SystemCommand("Help: keys", "List every key binding (?)", self.action_help)
        if self._counts.get("accounts", 0) == 0:
            yield SystemCommand(
                "Load the demo portfolio", "Fill this empty store with demo data", self.load_demo
            )
        extra = getattr(screen, "palette_commands", None)
        if callable(extra):
            yield from extra()
        yield from super().get_system_commands(screen)

    # -- long work in thread workers --------------------------------------------------------------------

    def action_recompute(self) -> None:
        """Rerun every analysis in a thread worker; the screens stay usable meanwhile."""
        self._start("recomputing", lambda progress: self._recompute_job(self.store, self.as_of, progress))

    def load_demo(self) -> None:
        """Generate, import and recompute the demo book in a thread worker."""
        self._start("loading the demo", lambda progress: self._demo_job(self.store, self.as_of, progress))

    def _demo_answered(self, yes: bool | None) -> None:
        if yes:
            self.load_demo()

    def _start(self, label: str, job: Job) -> None:
        if self.busy:
            self.notify("Already working: wait for the current run to finish.", severity="warning")
            return
        self.busy = True
        self.status = f"⟳ {label}…"
        self._label = label
        self.post_message(RecomputeStarted(label))
        self._run_job(job)

    @work(thread=True, exclusive=True, exit_on_error=False, group="recompute")
    def _run_job(self, job: Job) -> None:
        def progress(step: str, done: int, total: int) -> None:
            self.post_message(RecomputeProgress(step, done, total))

        try:
            report = job(progress)
        except Exception as error:  # shown to the user; the store keeps its last good results
            self.post_message(RecomputeFailed(str(error) or type(error).__name__))
            return
        self.post_message(RecomputeFinished(report))

    def on_recompute_started(self, message: RecomputeStarted) -> None:
        self._forward(RecomputeStarted, message.label)

    def on_recompute_progress(self, message: RecomputeProgress) -> None:
        if not self.busy:
            return
        total = max(message.total, 1)
        filled = round(10 * min(message.done, total) / total)
        bar = "▰" * filled + "▱" * (10 - filled)
        self.status = f"⟳ {self._label}: {message.step} {bar} {message.done}/{message.total}"

    def on_recompute_finished(self, message: RecomputeFinished) -> None:
        self.busy = False
        self._failed = False
        self.refresh_summary()
        self.refresh_status()
        describe = getattr(message.report, "describe", None)
        self.notify(describe() if callable(describe) else "Done.", title="Results updated")
        self._forward(RecomputeFinished, message.report)

    def on_recompute_failed(self, message: RecomputeFailed) -> None:
        self.busy = False
        self._failed = True
        self.refresh_summary()
        self.refresh_status()
        self.notify(message.message, title="Recompute failed", severity="error", timeout=15)
        self._forward(RecomputeFailed, message.message)

    def _forward(self, kind: type, *args: Any) -> None:
        """Give every live screen its own copy of the message (messages do not travel down)."""
        for screen in list(self._screens):
            if screen.is_attached:
                screen.post_message(kind(*args))


def _default_recompute(store: Store, as_of: date, progress: Progress) -> Any:
    from core.recompute import recompute

    return recompute(store, as_of, progress=progress)


def _default_demo(store: Store, as_of: date, progress: Progress) -> Any:
    from tui.demo_load import load_demo

    try:
        return load_demo(store, as_of, progress)
    except ImportError as error:
        raise RuntimeError(f"The demo generator is not installed in this build ({error}).") from error


def default_as_of(store: Store) -> date:
    """The store's frozen ``as_of`` setting when set, else today."""
    frozen = store.settings().get("as_of")
    return date.fromisoformat(frozen) if frozen else date.today()


def make_app(
    store: Store,
    as_of: date | None = None,
    now: Callable[[], datetime] | None = None,
    *,
    recompute_job: Callable[[Store, date, Progress], Any] | None = None,
    demo_job: Callable[[Store, date, Progress], Any] | None = None,
    start: str | None = None,
) -> QuadrantApp:
    """The app on ``store``; tests pass a fixed ``as_of`` and ``now``, stand-in jobs, a first screen."""
    return QuadrantApp(
        store,
        as_of=as_of or default_as_of(store),
        now=now or (lambda: datetime.now(UTC)),
        recompute_job=recompute_job,
        demo_job=demo_job,
        start=start,
    )


def run_app(store: Store) -> None:
    """Open the app on ``store`` in this terminal (what `quadrant` with no command does)."""
    make_app(store).run()
