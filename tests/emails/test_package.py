"""The emails package's borders: public names, and importing it loads neither jobs nor
recommender (the source-level check is tests/test_structure.py's layer test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

from paperboy import emails

PACKAGE = Path(emails.__file__).parent


def test_public_names_are_exported() -> None:
    """`__all__` is exactly the public names the package imports for its users: each one
    resolves (a star import), and no public name is left out of it."""
    star: dict[str, object] = {}
    exec("from paperboy.emails import *", star)  # AttributeError for a name not there
    assert sorted(set(star) - {"__builtins__"}) == sorted(emails.__all__)
    public = {
        name
        for name, value in vars(emails).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    } - {"annotations"}  # `from __future__ import annotations`
    assert public == set(emails.__all__)


def test_import_pulls_in_neither(tmp_path: Path) -> None:
    code = (
        "import sys, paperboy.emails, paperboy.emails.render, paperboy.emails.delivery\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.startswith(('paperboy.jobs', 'paperboy.recommender')))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_templates_ship_with_the_package() -> None:
    assert (PACKAGE / "templates" / "digest.txt.j2").is_file()
    assert (PACKAGE / "templates" / "digest.html.j2").is_file()
