"""The code's shape (issues 12 and 19): no import cycle, layers that point one way, one copy
of each shared helper, files and classes of a readable size, and every module under the
`paperboy` namespace.

The import graph is read from the source with `ast`, not by importing: a module's edges go to
the modules of this repository it imports, relative imports resolved, `from package import
name` to the submodule when `name` is one and else to the package. Every import counts,
wherever it stands in the file: at module level, under `if TYPE_CHECKING:` and inside
functions. An import inside a function only defers a dependency to the first call (it does
not remove it), so a cycle closed by one is still a cycle and a lower layer that imports a
higher one there still points the wrong way. (Today's tree passes with all of them counted;
a deferred import stays the right tool for keeping `paperboy --help` fast, downward.) Merely
importing a submodule also runs its parent packages' `__init__.py`; those implicit edges are
left out, or every package that imports its own submodules would be a cycle.

jobs/'s folders are layers, lower never importing higher (LAYERS); a new folder must be given
its place there. recommender/ and emails/ never import jobs/ or each other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
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


# jobs/'s folders from the bottom up: each may import only the ones before it. entry.py (the
# console script) is the top; it imports only cli and core (ENTRY_IMPORTS).
LAYERS = (
    *("core", "config", "storage", "fetch", "ranking"),
    *("web", "mailing", "runners", "cli", "entry"),
)
ENTRY_IMPORTS = {"cli", "core"}
MAX_FILE_LINES = 700
MAX_CLASS_LINES = 400


def _module(path: Path, root: Path = ROOT) -> str:
    folder, *rest = path.relative_to(root).with_suffix("").parts
    if rest and rest[-1] == "__init__":
        rest = rest[:-1]
    return ".".join([FOLDERS[folder], *rest])


def _modules(root: Path = ROOT) -> dict[str, Path]:
    return {
        _module(p, root): p
        for folder in FOLDERS
        if (root / folder).is_dir()
        for p in (root / folder).rglob("*.py")
    }


def _imported(path: Path, module: str) -> Iterator[tuple[str, str | None]]:
    """(module, name) for each name imported anywhere in `path`, relative imports resolved:
    `from a.b import c` gives ("a.b", "c"), `import a.b` gives ("a.b", None)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                yield base, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def _imports(path: Path, module: str) -> set[str]:
    """The names of this repository that `path` imports, at any depth of the file, relative
    imports resolved: for `from a import b` both `a` and `a.b`, whatever `b` is."""
    found: set[str] = set()
    for base, name in _imported(path, module):
        found.update([base] if name is None else [base, f"{base}.{name}"])
    return {m for m in found if m == "paperboy" or m.startswith("paperboy.")}


def _graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of the tree -> the modules of the tree it imports (the module docstring
    says which imports count)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for base, name in _imported(path, module):
            target = f"{base}.{name}" if f"{base}.{name}" in modules else base
            while target and target not in modules:  # `import a.b.C`-like: its module
                target = target.rpartition(".")[0]
            if target and target != module:
                targets.add(target)
        graph[module] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of any length: the strongly connected components of more than one
    node (Tarjan), each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def _folder(module: str) -> str | None:
    """The folder of jobs/ a module belongs to ("entry" for entry.py, "__init__" for jobs/
    itself); None outside jobs/."""
    parts = module.split(".")
    if parts[:2] != ["paperboy", "jobs"]:
        return None
    return parts[2] if len(parts) > 2 else "__init__"


def _folder_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph of jobs/ with each module collapsed to its folder (self-edges left
    out)."""
    folders: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if (folder := _folder(module)) is not None:
            folders.setdefault(folder, set()).update(
                t for t in map(_folder, targets) if t is not None and t != folder
            )
    return folders


def _upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The imports of jobs/ that point from a lower layer to a higher one (or out of a layer
    that LAYERS does not name), as (importing module, imported module)."""
    bad = []
    for module, targets in sorted(graph.items()):
        folder = _folder(module)
        if folder is None:
            continue
        for target in sorted(targets):
            to = _folder(target)
            if to is None or to == folder:
                continue
            if (
                folder not in LAYERS
                or to not in LAYERS
                or LAYERS.index(to) > LAYERS.index(folder)
                or (folder == "entry" and to not in ENTRY_IMPORTS)
            ):
                bad.append((module, target))
    return bad


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
    assert _cycles(_graph()) == []


def test_no_import_cycle_between_the_folders_of_jobs() -> None:
    assert _cycles(_folder_graph(_graph())) == []


def test_the_folders_of_jobs_import_only_lower_layers() -> None:
    """core < config < storage < fetch < ranking < web < mailing < runners < cli < entry.py;
    entry.py imports only cli and core, and jobs/__init__.py imports nothing."""
    graph = _graph()
    assert _upward(graph) == []
    assert set(_folder_graph(graph)) == {*LAYERS, "__init__"}
    assert not graph["paperboy.jobs"]


def test_jobs_holds_only_its_entry_point_its_data_and_packages() -> None:
    stray = sorted(
        item.name
        for item in (ROOT / "jobs").iterdir()
        if item.name not in {"__init__.py", "entry.py", "data", "__pycache__"}
        and not item.name.startswith(".")
        and not (item.is_dir() and (item / "__init__.py").is_file())
    )
    assert stray == []


def _packages() -> list[str]:
    return sorted(
        p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "jobs").rglob("__init__.py")
    )


@pytest.mark.parametrize(
    "folder",
    _packages(),
)
def test_every_folder_of_jobs_is_a_package_that_says_what_it_holds(folder: str) -> None:
    init = ROOT / folder / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), init


def test_every_folder_with_code_in_jobs_is_a_package() -> None:
    loose = sorted(
        p.parent.relative_to(ROOT).as_posix()
        for p in (ROOT / "jobs").rglob("*.py")
        if not (p.parent / "__init__.py").is_file()
    )
    assert loose == []


def test_files_and_classes_stay_readable() -> None:
    """No file of jobs/, recommender/ or emails/ over MAX_FILE_LINES lines, no class over
    MAX_CLASS_LINES: past that, a file holds more than one responsibility (issue 19)."""
    long_files, long_classes = [], []
    for folder in ("jobs", "recommender", "emails"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            name = path.relative_to(ROOT).as_posix()
            if (lines := len(source.splitlines())) > MAX_FILE_LINES:
                long_files.append((name, lines))
            long_classes += [
                (f"{name}:{node.name}", size)
                for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ClassDef)
                and (size := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_CLASS_LINES
            ]
    assert long_files == []
    assert long_classes == []


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


def _fake_tree(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, "utf-8")
    return root


def test_the_checker_sees_a_cycle_of_three_modules(tmp_path: Path) -> None:
    """A cycle longer than two, closed by an import inside a function, relative and absolute
    imports mixed; and the same tree's folders, collapsed, have no cycle."""
    tree = _fake_tree(
        tmp_path,
        {
            "jobs/__init__.py": "",
            "jobs/core/__init__.py": '"""Core."""\n',
            "jobs/core/a.py": "from . import b\n",
            "jobs/core/b.py": "from .c import thing\n",
            "jobs/core/c.py": "def thing():\n    from paperboy.jobs.core.a import x\n",
            "jobs/core/d.py": "import paperboy.jobs.core.a\n",
        },
    )
    graph = _graph(tree)
    assert _cycles(graph) == [["paperboy.jobs.core.a", "paperboy.jobs.core.b",
                               "paperboy.jobs.core.c"]]  # fmt: skip
    assert _cycles(_folder_graph(graph)) == []


def test_the_checker_sees_an_upward_import_and_a_cycle_of_folders(tmp_path: Path) -> None:
    """storage importing fetch points up (a folder cycle with fetch -> storage); a folder that
    LAYERS does not name, and entry.py importing past cli and core, are reported too."""
    tree = _fake_tree(
        tmp_path,
        {
            "jobs/__init__.py": "",
            "jobs/entry.py": "from paperboy.jobs.storage import s\n",
            "jobs/storage/__init__.py": "",
            "jobs/storage/s.py": "def f():\n    from ..fetch.http import get\n",
            "jobs/fetch/__init__.py": "",
            "jobs/fetch/http.py": "from paperboy.jobs import storage\n",
            "jobs/extra/__init__.py": "from paperboy.jobs.core import ids\n",
            "jobs/core/__init__.py": "",
            "jobs/core/ids.py": "",
        },
    )
    graph = _graph(tree)
    assert _cycles(graph) == []
    assert _cycles(_folder_graph(graph)) == [["fetch", "storage"]]
    assert _upward(graph) == [
        ("paperboy.jobs.entry", "paperboy.jobs.storage.s"),
        ("paperboy.jobs.extra", "paperboy.jobs.core.ids"),
        ("paperboy.jobs.storage.s", "paperboy.jobs.fetch.http"),
    ]


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
