"""`quadrant serve`: the command textual-serve runs for each browser session."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path


def test_serve_runs_this_apps_cli_on_the_store_whatever_its_name(tmp_path: Path, monkeypatch) -> None:
    import textual_serve.server

    from tui.cli import main

    commands = []

    class Recorder:
        def __init__(self, command: str, host: str, port: int) -> None:
            commands.append(command)

        def serve(self) -> None:
            return None

    monkeypatch.setattr(textual_serve.server, "Server", Recorder)
    db = tmp_path / 'it\'s a "store" with spaces and $HOME.db'
    assert main(["--db", str(db), "serve"]) == 0
    argv = shlex.split(commands[0])
    assert argv[:4] == [sys.executable, "-P", "-m", "tui.cli"] and argv[4:] == ["--db", str(db)]
    # textual-serve hands the command to a shell: the path comes back as typed, $HOME unexpanded.
    quoted = commands[0].split(" --db ", 1)[1]
    echoed = subprocess.run(["sh", "-c", f"printf '%s' {quoted}"], capture_output=True, text=True, timeout=10)
    assert echoed.stdout == str(db)
    # From a folder holding another `tui` package, the command still runs Quadrant's.
    elsewhere = tmp_path / "another-project" / "tui"
    elsewhere.mkdir(parents=True)
    (elsewhere / "__init__.py").write_text("raise SystemExit(3)\n")
    done = subprocess.run(
        [*argv[:4], "--help"], cwd=elsewhere.parent, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "COMMAND" in done.stdout
