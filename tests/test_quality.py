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
    check([*tool("mypy")])  # packages and strictness come from pyproject.toml


def test_layers_point_one_way() -> None:
    """jobs uses recommender and emails; those two never import jobs or each other."""
    for package, forbidden in (
        ("recommender", ("jobs", "emails")),
        ("emails", ("jobs", "recommender")),
    ):
        for source in (ROOT / package).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            for name in forbidden:
                assert f"import {name}" not in text and f"from {name}" not in text, (
                    f"{source.relative_to(ROOT)} imports {name}"
                )
