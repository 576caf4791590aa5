"""The code's shape (issue 12): no import cycle, one copy of each shared helper, layers that
point one way, and every module under the `paperboy` namespace."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from paperboy import text
from paperboy.emails import render
from paperboy.jobs.cli import rank as rank_command
from paperboy.recommender import reasons

ROOT = Path(__file__).resolve().parents[1]
# Folder in the repository -> the package it installs as (pyproject.toml's package-dir).
FOLDERS = {
    "paperboy": "paperboy",
    "jobs": "paperboy.jobs",
    "emails": "paperboy.emails",
    "recommender": "paperboy.recommender",
}


def _module(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    if rest and rest[-1] == "__init__":
        rest = rest[:-1]
    return ".".join([FOLDERS[folder], *rest])


def _modules() -> dict[str, Path]:
    return {_module(p): p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")}


def _imports(path: Path, module: str) -> set[str]:
    """The modules of this repository that `path` imports, at any depth of the file,
    relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "paperboy" or m.startswith("paperboy.")}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_every_source_file_installs_under_the_namespace() -> None:
    """pyproject.toml lists each package by hand (package-dir cannot discover a mapped
    folder's subpackages): a new folder with code must be added there."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    needed = {m if p.name == "__init__.py" else m.rpartition(".")[0] for m, p in _modules().items()}
    assert needed - listed == set()
    assert listed - needed == set()


def test_no_import_cycle_between_modules() -> None:
    graph = {m: _imports(p, m) for m, p in _modules().items()}
    cycles = [
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if module in graph.get(target, set()) and module < target
    ]
    assert cycles == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("paperboy.recommender", ("paperboy.jobs", "paperboy.emails")),
        ("paperboy.emails", ("paperboy.jobs", "paperboy.recommender")),
        ("paperboy.text", ("paperboy.jobs", "paperboy.emails", "paperboy.recommender")),
    ],
)
def test_layers_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    """jobs uses recommender and emails; those two never import jobs or each other; the
    shared text helpers import none of them."""
    bad = [
        (module, target)
        for module, path in _modules().items()
        if _inside(module, package)
        for target in _imports(path, module)
        if any(_inside(target, f) for f in forbidden)
    ]
    assert bad == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The layer check is not vacuous: it resolves absolute and relative imports."""
    probe = ROOT / "emails" / "render.py"
    module = _module(probe)
    assert "paperboy.text" in _imports(probe, module)
    fake = tmp_path / "x.py"
    fake.write_text("from ..recommender import ranker\nimport paperboy.jobs.cli\n", "utf-8")
    assert {"paperboy.recommender.ranker", "paperboy.jobs.cli"} <= _imports(
        fake, "paperboy.emails.x"
    )


def test_importing_a_part_never_imports_a_bare_top_level_name(tmp_path: Path) -> None:
    """Nothing installs or imports top-level `jobs`, `emails` or `recommender`: other
    distributions own those names (issue 12)."""
    code = (
        "import sys, importlib\n"
        "for m in sys.argv[1:]: importlib.import_module(m)\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "bare = sorted(top & {'jobs', 'emails', 'recommender'})\n"
        "assert not bare, bare\n"
    )
    modules = [
        m
        for m in _modules()
        if not m.startswith("paperboy.jobs.storage.migrations") and not m.endswith("__main__")
    ]
    done = subprocess.run(
        [sys.executable, "-c", code, *modules], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_one_cron_stepping_helper() -> None:
    """Stepping a cron trigger in UTC (jobs.config.schedule.fires_after) is written once."""
    steppers = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "jobs").rglob("*.py")
        if "get_next_fire_time(None, " in (source := p.read_text(encoding="utf-8"))
        and "astimezone(UTC)" in source.split("get_next_fire_time(None, ", 1)[1][:200]
    ]
    assert steppers == ["jobs/config/schedule.py"]


def test_one_latex_conversion_and_one_title_cut() -> None:
    """`paperboy.text` holds the only LaTeX conversion and the only title cut; the mail,
    the ranker's reasons and the CLI all use it (issue 12)."""
    writers = [
        p.relative_to(ROOT).as_posix()
        for folder in FOLDERS
        for p in (ROOT / folder).rglob("*.py")
        if "LatexNodes2Text(" in p.read_text(encoding="utf-8")
    ]
    assert writers == ["paperboy/text.py"]
    assert render.latex_to_text is text.latex_to_text
    assert render.shorten is text.shorten
    assert rank_command.short_title is text.short_title
    assert reasons.short_title is text.short_title
