"""The shape of jobs/storage (issue #19): small parts, the schema at the bottom, and a
Storage class that is nothing but its mixins."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import paperboy.jobs.storage as storage_package
from paperboy.jobs.storage import Storage
from paperboy.jobs.storage.base import StorageBase

FOLDER = Path(storage_package.__file__).resolve().parent
PARTS = sorted(FOLDER.glob("*.py"))
MIXINS = [c for c in Storage.__mro__[1:] if c is not object]


def test_every_part_is_small() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in PARTS}
    assert {"schema.py", "base.py", "papers.py", "ledger.py"} <= set(sizes)
    assert {name: n for name, n in sizes.items() if n > 700} == {}


def test_no_class_is_long() -> None:
    long = [
        (p.name, node.name, node.end_lineno - node.lineno + 1)
        for p in PARTS
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 400
    ]
    assert long == []


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import is always another part of the package
                found.add("." * node.level + (node.module or ""))
            else:
                found.add(node.module or "")
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_schema_imports_no_other_part_of_storage() -> None:
    imported = _imported(FOLDER / "schema.py")
    assert not [m for m in imported if m.startswith(("paperboy.jobs.storage", "."))]
    assert not [m for m in imported if m.startswith("paperboy.") and m != "paperboy.jobs.core"]


def test_parts_never_import_the_package_itself() -> None:
    """A part importing `paperboy.jobs.storage` (the assembly) would be a cycle."""
    offenders = [
        p.name
        for p in PARTS
        if p.name != "__init__.py"
        and (
            "paperboy.jobs.storage" in (imported := _imported(p))
            or any(m.startswith("paperboy.jobs.storage.Storage") for m in imported)
        )
    ]
    assert offenders == []


def test_storage_is_exactly_its_mixins() -> None:
    """Storage defines nothing itself: every method comes from one mixin (or the base),
    and no two mixins define the same name (one would silently hide the other)."""
    own = {name for name in vars(Storage) if name not in ("__module__", "__doc__", "__qualname__")}
    assert own <= {"__firstlineno__", "__static_attributes__", "__dict__", "__weakref__"}
    assert all(issubclass(m, StorageBase) for m in MIXINS)
    seen: dict[str, str] = {}
    clashes = []
    for mixin in MIXINS:
        for name, value in vars(mixin).items():
            if name.startswith("__") or not (
                inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod))
            ):
                continue
            if name in seen:
                clashes.append((name, seen[name], mixin.__name__))
            seen[name] = mixin.__name__
    assert clashes == []
    public = {n for n in dir(Storage) if not n.startswith("_") and callable(getattr(Storage, n))}
    assert public == {n for n in seen if not n.startswith("_")}
    # a sample of where things live
    assert seen["upsert_papers"] == "PapersMixin"
    assert seen["create_delivery"] == "LedgerMixin"
    assert seen["claim_digest"] == "ClaimsMixin"
    assert seen["apply_zotero_sync"] == "LibraryMixin"
    assert seen["store_venue"] == "VenuesMixin"
    assert seen["store_embeddings"] == "IndexMixin"
    assert seen["open"] == "StorageBase"
