"""Run mypy on the whole `paperboy` namespace, as it installs.

The three folders install as `paperboy.jobs`, `paperboy.emails` and `paperboy.recommender`
(pyproject.toml's package-dir). mypy does not follow setuptools' editable-install finder,
so it would see `paperboy/` alone. This script lays out the installed shape as a tree of
symbolic links in build/typecheck/ and runs mypy there, with pyproject.toml's settings
(strict). Extra arguments go to mypy.

    python scripts/typecheck.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def link_tree() -> Path:
    """build/typecheck/paperboy/... mirroring pyproject.toml's package-dir, rebuilt each run."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    shutil.rmtree(TREE, ignore_errors=True)
    for package, folder in sorted(mapping.items()):
        target = TREE.joinpath(*package.split("."))
        target.parent.mkdir(parents=True, exist_ok=True)
        if package == "paperboy":  # the namespace root: link its files, its subfolders come next
            target.mkdir()
            for item in (ROOT / folder).iterdir():
                if item.suffix == ".py":
                    (target / item.name).symlink_to(item)
        else:
            target.symlink_to(ROOT / folder, target_is_directory=True)
    return TREE


def main(argv: list[str]) -> int:
    tree = link_tree()
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(ROOT / ".mypy_cache"),
        *argv,
    ]
    env = {**os.environ, "MYPYPATH": str(tree)}
    return subprocess.run(command, cwd=tree, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
