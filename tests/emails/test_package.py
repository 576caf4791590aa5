"""The emails package's borders: public names, and no imports of jobs or recommender."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import emails

PACKAGE = Path(emails.__file__).parent


def test_public_names_are_exported() -> None:
    for name in emails.__all__:
        assert getattr(emails, name) is not None, name


def test_never_imports_jobs_or_recommender() -> None:
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            assert not {"jobs", "recommender"} & set(roots), f"{path.name}:{node.lineno}"


def test_import_pulls_in_neither() -> None:
    code = (
        "import sys, emails, emails.render, emails.delivery\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('jobs', 'recommender'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


def test_templates_ship_with_the_package() -> None:
    assert (PACKAGE / "templates" / "digest.txt.j2").is_file()
    assert (PACKAGE / "templates" / "digest.html.j2").is_file()
