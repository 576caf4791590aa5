"""Packaging (issue 12): Paperboy installs under one import namespace of its own, `paperboy`,
so it coexists with other distributions that own `jobs` or `emails` (the PyPI library
`emails` is a popular one). The distribution is `paperboy-digest` (PyPI's `paperboy` is an
unrelated 2014 package); the command stays `paperboy`.

The wheel is built here from the working tree, without network (`--no-build-isolation`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy without build/: setuptools reuses build/lib, and a module deleted
    # from the tree but left there would ship in the wheel (and hide a missing one here).
    source = tmp_path_factory.mktemp("source") / "paperboy"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            "build", "dist", ".git", "*.egg-info", "__pycache__", ".*_cache", ".venv"
        ),
    )
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_installs_only_the_paperboy_namespace(wheel: Path) -> None:
    assert wheel.name.startswith("paperboy_digest-")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"paperboy"}
    for expected in (
        "paperboy/__init__.py",
        "paperboy/text.py",
        "paperboy/jobs/cli/__init__.py",
        "paperboy/jobs/cli/fetch.py",
        "paperboy/jobs/data/config.toml",
        "paperboy/jobs/storage/migrations/versions/0005_claims.py",
        "paperboy/emails/templates/digest.html.j2",
        "paperboy/recommender/encoder_model/model.onnx",
    ):
        assert expected in names, expected
    folders = {"paperboy/jobs/": "jobs/", "paperboy/emails/": "emails/"}
    folders |= {"paperboy/recommender/": "recommender/", "paperboy/": "paperboy/"}
    for name in (n for n in names if n.endswith(".py")):
        prefix = max((p for p in folders if name.startswith(p)), key=len)
        assert (ROOT / folders[prefix] / name[len(prefix) :]).is_file(), name
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "paperboy = paperboy.jobs.entry:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_paperboy_and_the_pypi_emails_library_import_side_by_side(
    wheel: Path, tmp_path: Path
) -> None:
    """Install the wheel next to PyPI's `emails` (a test dependency) and use both: neither
    shadows the other. Runs without `site` so the checkout's editable install is out of
    the way; dependencies come from this environment's site-packages."""
    pytest.importorskip("emails", reason="the PyPI library `emails` is a test dependency")
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    assert not (target / "emails").exists() and not (target / "jobs").exists()
    code = (
        "import emails, paperboy.emails, paperboy.jobs.cli, paperboy.recommender\n"
        "assert emails.__file__.startswith(SITE), emails.__file__\n"
        "assert paperboy.emails.__file__.startswith(TARGET), paperboy.emails.__file__\n"
        "m = emails.Message(subject='hi', mail_from='a@example.org', text='x')\n"
        "assert m.as_message()['Subject'] == 'hi'\n"
        "from paperboy.emails import Digest\n"
        "print('ok')\n"
    )
    site = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), site])}
    done = subprocess.run(
        [sys.executable, "-S", "-c", f"SITE={site!r}; TARGET={str(target)!r}\n{code}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_checkout_imports_like_the_installed_package(wheel: Path, tmp_path: Path) -> None:
    """With a regular (non-editable) install, commands run from the repository root import
    the checkout, whole: `./paperboy/` comes first on `sys.path` there, and it used to hide
    the installed `paperboy.jobs` without providing its own (`No module named
    'paperboy.jobs'` from tests/conftest.py and from the benchmarks). Runs without `site`,
    so the editable install's finder is out of the way; the wheel's files stand in for
    site-packages."""
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    site = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), site])}
    code = (
        "import sys\n"
        "assert not any('editable' in repr(f) for f in sys.meta_path), sys.meta_path\n"
        "import paperboy.jobs.storage, paperboy.recommender, paperboy.emails\n"
        "for m in (paperboy.jobs.storage, paperboy.recommender, paperboy.emails):\n"
        "    print(m.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        str(ROOT / "jobs" / "storage" / "__init__.py"),
        str(ROOT / "recommender" / "__init__.py"),
        str(ROOT / "emails" / "__init__.py"),
    ]
    # A benchmark puts the root first on sys.path itself; its imports are cheap to check.
    done = subprocess.run(
        [sys.executable, "-S", str(ROOT / "benchmarks" / "encoder_quality.py"), "--help"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: encoder_quality.py")
    # Elsewhere the installed copy is the one imported: the checkout changes nothing there.
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == str(target / "paperboy" / "jobs" / "storage" / "__init__.py")
