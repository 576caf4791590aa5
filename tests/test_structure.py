"""The code's shape (issue 12): no import cycle, one copy of each shared helper."""

from __future__ import annotations

import ast
from pathlib import Path

import emails.render
import emails.text
import jobs.cli

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """The modules of this repository that `path` imports, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] in ("jobs", "emails", "recommender")}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_between_modules() -> None:
    graph = {
        _module(p): _imports(p)
        for package in ("jobs", "emails", "recommender")
        for p in (ROOT / package).rglob("*.py")
    }
    cycles = []
    for module, targets in graph.items():
        for target in targets:
            if module in graph.get(target, set()) and module < target:
                cycles.append((module, target))
    assert cycles == []


def test_one_cron_stepping_helper() -> None:
    """Stepping a cron trigger in UTC (jobs.schedule.fires_after) is written once."""
    steppers = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "jobs").rglob("*.py")
        if "get_next_fire_time(None, " in (text := p.read_text(encoding="utf-8"))
        and "astimezone(UTC)" in text.split("get_next_fire_time(None, ", 1)[1][:200]
    ]
    assert steppers == ["jobs/schedule.py"]


def test_one_title_cut_outside_the_ranker() -> None:
    assert jobs.cli._short is emails.text.shorten
    assert not hasattr(emails.render, "_shorten")
