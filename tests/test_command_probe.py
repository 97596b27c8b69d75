"""`python -m bench.command_cpu --builds`: two revisions' command nodes, in turn, on one store."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from bench import command_cpu

ROOT = Path(__file__).resolve().parent.parent


def worktrees() -> list[str]:
    return subprocess.run(["git", "worktree", "list"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.splitlines()


def test_two_builds_run_in_alternating_order_from_their_own_checkouts(postgres_url, capsys,
                                                                       monkeypatch):
    started = []  # each node's checkout, and whether it held the code when the node started
    real_server = command_cpu.Server
    monkeypatch.setattr(command_cpu, "Server", lambda *args, source=None, **kwargs: (
        started.append((source.name, (source / "api" / "cli.py").exists())),
        real_server(*args, source=source, **kwargs))[1])
    before = worktrees()

    command_cpu.main(["4", "0.3", "--builds", "HEAD", "HEAD~0", "--rounds", "2",
                      "--modes", "group_commit", "--postgres", postgres_url])

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("round")]
    assert [re.match(r"round (\d), (\S+):", line).groups() for line in lines] == [
        ("1", "HEAD"), ("1", "HEAD~0"), ("2", "HEAD~0"), ("2", "HEAD")]
    assert all("group_commit, 1 process(es), 4 clients" in line and " 0 errors" in line
               for line in lines)
    assert started == [("HEAD", True), ("HEAD~0", True), ("HEAD~0", True), ("HEAD", True)]
    assert worktrees() == before  # the checkouts are gone
