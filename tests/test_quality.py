"""The checks users and reviewers run: ruff (lint and format) and mypy, clean on the tree.

They run here so that the one test command in README.md keeps the whole tree honest.
Skipped, with the reason, where the tools are not installed (`pip install -e '.[test]'`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str) -> list[str]:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return [found]


def check(command: list[str]) -> None:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_lint() -> None:
    check([*tool("ruff"), "check", "."])


def test_ruff_format() -> None:
    check([*tool("ruff"), "format", "--check", "."])


def test_mypy_strict_on_the_packages() -> None:
    """mypy over the installed shape of `paperboy.*` (scripts/typecheck.py says why);
    strictness comes from pyproject.toml."""
    tool("mypy")
    check([sys.executable, str(ROOT / "scripts" / "typecheck.py")])
