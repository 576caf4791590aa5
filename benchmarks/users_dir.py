"""Loading many users from ``[paperboy] users_dir`` (issue #13): time and memory.

Each scenario writes a config (and its users.d/ files) into a temporary folder and is
measured in a fresh Python process, so that memory is that scenario's alone:

- the config load (``jobs.config.load.load_config``): the first one, then the best of three;
- the process's RSS after the load, and its growth over the 1-user baseline of the run;
- the daemon's change check (``config_stamp``: one stat per file, every 5 seconds);
- the daemon's reload after that edit (``load_config(previous=...)``: only the changed
  file is read again; with [[users]] in config.toml, everything is);
- one ``paperboy profile`` edit of the last user (``jobs.config.lists.like``: read, splice,
  validate that user's file, write atomically), the config already loaded. In a
  config.toml of 10,000 ``[[users]]`` the same edit takes minutes (tomlkit parses and
  renders the whole file several times), so it is measured there only with
  ``--edit-table``.

Users are synthetic but of a realistic size: 20 saved papers, 3 keywords, an author, a
muted word, a schedule. Beside the users_dir scenarios, the same 10,000 users as
``[[users]]`` tables in one config.toml. The page cache is warm (files just written).

Usage::

    python benchmarks/users_dir.py [--users 10000] [--keep DIR] [--edit-table]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEAD = '[paperboy]\ndatabase = "sqlite:///paperboy.db"\ntimezone = "Europe/Berlin"\n'


def user_keys(i: int) -> str:
    """The keys of user i's table, as a person (or a sign-up script) would write them."""
    saved = ",\n".join(f'    "2401.{(i * 20 + k) % 99999 + 1:05d}"' for k in range(20))
    return (
        f'email = "user{i}@example.org"\n'
        'schedule = "daily"\n'
        f'send_at = "{6 + i % 3:02d}:{i % 60:02d}"\n'
        "max_papers = 10\n"
        f"saved = [\n{saved},\n]\n"
        f'keywords = ["bandits", "topic {i % 97}", "regret"]\n'
        'authors = ["Jeff Clune"]\n'
        'muted = ["blockchain"]\n'
    )


def make(folder: Path, users: int, mode: str) -> Path:
    """A config with `users` users: in config.toml ("table") or one file each ("files")."""
    folder.mkdir(parents=True)
    config = folder / "config.toml"
    if mode == "table":
        config.write_text(
            HEAD + "".join(f'\n[[users]]\nname = "u{i}"\n{user_keys(i)}' for i in range(users)),
            encoding="utf-8",
        )
        return config
    config.write_text(HEAD + 'users_dir = "users.d/"\n', encoding="utf-8")
    users_dir = folder / "users.d"
    users_dir.mkdir()
    for i in range(users):
        (users_dir / f"u{i}.toml").write_text(f"# user {i}\n" + user_keys(i), encoding="utf-8")
    return config


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(config_path: str, edit: bool) -> dict[str, Any]:
    """In the child: load, check, edit; numbers as a dict."""
    from paperboy.jobs.config.lists import like
    from paperboy.jobs.config.load import load_config
    from paperboy.jobs.config.users import config_stamp

    before = rss_mb()
    t = time.perf_counter()
    config = load_config(config_path)
    first = time.perf_counter() - t
    after = rss_mb()
    best = first
    for _ in range(3):
        t = time.perf_counter()
        load_config(config_path)
        best = min(best, time.perf_counter() - t)
    t = time.perf_counter()
    config_stamp(config)
    stamp = time.perf_counter() - t
    edit_s = None
    if edit:
        t = time.perf_counter()
        like(config, config.users[-1].name, ["2501.00001"])
        edit_s = time.perf_counter() - t
    else:  # the same reload trigger for a config.toml of [[users]]: config.toml changed
        with open(config_path, "a", encoding="utf-8") as f:
            f.write("\n")
    t = time.perf_counter()
    load_config(config_path, previous=config)
    reload_s = time.perf_counter() - t
    return {
        "users": len(config.users),
        "first_s": first,
        "best_s": best,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "stamp_s": stamp,
        "edit_s": edit_s,
        "reload_s": reload_s,
    }


def run_child(config: Path, edit: bool) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(config), *(["--edit"] if edit else [])],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="write the configs here (default: a temp dir)")
    parser.add_argument(
        "--edit-table", action="store_true", help="time the edit in a big config.toml too"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--edit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(measure(args.measure, args.edit)))
        return

    base = args.keep or Path(tempfile.mkdtemp(prefix="paperboy-users-dir-"))
    n = args.users
    scenarios = [
        ("1 user in config.toml (baseline)", 1, "table"),
        ("1 user file", 1, "files"),
        (f"{n // 10:,} user files", n // 10, "files"),
        (f"{n:,} user files", n, "files"),
        (f"{n:,} [[users]] in config.toml", n, "table"),
    ]
    try:
        rows = []
        for i, (label, users, mode) in enumerate(scenarios):
            t = time.perf_counter()
            config = make(base / f"s{i}", users, mode)
            written = time.perf_counter() - t
            print(f"{label}: written in {written:.1f} s; measuring ...", file=sys.stderr)
            edit = mode == "files" or users == 1 or args.edit_table
            rows.append((label, run_child(config, edit)))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)

    baseline = rows[0][1]
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    print(
        f"{'scenario':<34} {'users':>6} {'load s':>7} {'best s':>7} {'ms/user':>8} "
        f"{'RSS MB':>7} {'+MB':>6} {'KB/user':>8} {'check ms':>9} {'edit ms':>8} {'reload s':>9}"
    )
    for label, r in rows:
        grown = r["rss_after_mb"] - baseline["rss_after_mb"]
        per_user = grown * 1024 / r["users"] if r["users"] > 1 else 0.0
        print(
            f"{label:<34} {r['users']:>6} {r['first_s']:>7.2f} {r['best_s']:>7.2f} "
            f"{r['best_s'] * 1000 / r['users']:>8.3f} {r['rss_after_mb']:>7.1f} "
            f"{grown:>6.1f} {per_user:>8.2f} {r['stamp_s'] * 1000:>9.1f} "
            + (f"{r['edit_s'] * 1000:>8.1f}" if r["edit_s"] is not None else f"{'-':>8}")
            + f" {r['reload_s']:>9.2f}"
        )


if __name__ == "__main__":
    main()
