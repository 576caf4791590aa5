"""[paperboy] users_dir (issue #13): one TOML file per user, beside config.toml's [[users]].

Loaded and checked like [[users]] tables, edited by `paperboy profile` in the user's own
file, and watched by the daemon.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from paperboy import jobs
from paperboy.jobs.cli import cli
from paperboy.jobs.config.lists import dislike, edit_profile, like
from paperboy.jobs.config.lists import user_file as file_of
from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.model import Config
from paperboy.jobs.config.users import parse_user_file
from paperboy.jobs.config.writes import ConcurrentEditError, ConfigSnapshot
from paperboy.jobs.core.errors import ConfigError
from paperboy.jobs.runners.scheduler import Daemon
from paperboy.jobs.storage import Storage
from tests.commands import PAPERBOY, stop_or_dump
from tests.jobs.test_scheduler import user_jobs

CONFIG = """\
[paperboy]
database = "sqlite:///paperboy.db"
timezone = "Europe/Berlin"
users_dir = "users.d/"   # one file per user

[[users]]
name = "ada"   # Ada stays in config.toml
email = "ada@example.org"
saved = ["1706.03762"]
"""

BO = """\
# Bo's profile: kept by hand, comments and all.
email = ["bo@example.org"]
send_at = "06:45"
saved = [
    "2005.14165",  # GPT-3
]
keywords = ["bandits"]   # more of these
library = "bo.bib"
"""


def write_users(tmp_path: Path, files: dict[str, str], config: str = CONFIG) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")
    folder = tmp_path / "users.d"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# --- loading -----------------------------------------------------------------------------


def test_users_dir_users_join_config_users(tmp_path: Path) -> None:
    path = write_users(
        tmp_path,
        {
            "bo.toml": BO,
            "carol-smith.toml": 'name = "carol"\nemail = "c@example.org"\ntimezone = "UTC"\n',
            "README.md": "not a user: only *.toml files are read",
            ".hidden.toml": "neither is this = [",
            "bo.toml.bak": "nor a backup = [",
        },
    )
    (tmp_path / "users.d" / "sub.toml").mkdir()  # a folder is not a user file either
    config = load_config(path)
    assert [u.name for u in config.users] == ["ada", "bo", "carol"]
    assert config.users_dir == tmp_path / "users.d"
    ada, bo, carol = config.users
    assert ada.source is None and file_of(config, "ada") == path
    assert bo.source == tmp_path / "users.d" / "bo.toml"  # named by the file's stem
    assert file_of(config, "carol") == tmp_path / "users.d" / "carol-smith.toml"  # by `name`
    assert bo.email == ("bo@example.org",) and bo.saved == ("2005.14165",)
    assert bo.send_at.strftime("%H:%M") == "06:45"
    assert bo.timezone == "Europe/Berlin"  # config.toml's default, as for [[users]]
    assert carol.timezone == "UTC"
    # Relative paths in a user file are relative to that file, as in config.toml.
    assert bo.library == (tmp_path / "users.d" / "bo.bib").resolve()
    assert config.user("bo") is bo


def test_a_thousand_user_files_are_each_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        f"u{i:04d}.toml": f'email = "u{i}@example.org"\nsaved = ["2401.{i + 1:05d}"]\n'
        for i in range(1000)
    }
    path = write_users(tmp_path, files)
    reads: Counter[str] = Counter()
    read = jobs.config.users._read_user_file

    def counting(p: Path) -> str:
        reads[p.name] += 1
        return read(p)

    # No line scans on a valid load: locating a key's line is for problems only, so
    # nothing walks config.toml or a file once per user.
    scans: list[tuple[object, ...]] = []
    locate = jobs.config.checks._Problems._locate

    def counting_locate(*args: Any) -> int | None:
        scans.append(args)
        return locate(*args)

    monkeypatch.setattr(jobs.config.users, "_read_user_file", counting)
    monkeypatch.setattr(jobs.config.checks._Problems, "_locate", counting_locate)
    config = load_config(path)
    assert len(config.users) == 1001
    assert reads == Counter({name: 1 for name in files})
    assert scans == []
    assert config.user("u0999").saved == ("2401.01000",)


def test_problems_name_the_file_and_the_line(tmp_path: Path) -> None:
    path = write_users(
        tmp_path,
        {
            "bo.toml": BO.replace('send_at = "06:45"', 'send_at = "6 in the morning"'),
            "cy.toml": 'email = "cy@example.org"\n\nkeyword = ["x"]\nmax_papers = "ten"\n',
            "dd.toml": 'email = "dd@example.org\n',  # not TOML
            "ee.toml": '[[users]]\nname = "ee"\nemail = "ee@example.org"\n',
            "ff.toml": 'email = "ff@example.org"\ntransport = "smtp"\n',
        },
    )
    message = problems(path)
    assert message.startswith("6 problems in 5 files:")
    users = tmp_path / "users.d"
    for expected in (
        f"{users / 'bo.toml'}:3: user 'bo'.send_at must be a time like \"07:30\"",
        f"{users / 'cy.toml'}:3: unknown key 'keyword' in user 'cy'; did you mean 'keywords'?",
        f"{users / 'cy.toml'}:4: user 'cy'.max_papers must be a whole number, not 'ten'",
        f"{users / 'dd.toml'}:1: invalid TOML",
        f"{users / 'ee.toml'}:1: a users_dir file holds one user",
        f"{users / 'ff.toml'}:2: user 'ff'.transport is \"smtp\" but there is no [email.smtp]",
    ):
        assert expected in message, f"{expected}\n---\n{message}"


def test_a_broken_user_file_stops_every_command_with_exit_2(tmp_path: Path) -> None:
    path = write_users(tmp_path, {"bo.toml": BO + "max_papers = 0\n"})
    result = CliRunner().invoke(cli, ["--config", str(path), "digest", "--dry-run"])
    assert result.exit_code == 2
    assert f"{tmp_path / 'users.d' / 'bo.toml'}:9: user 'bo'.max_papers" in result.stderr
    assert not (tmp_path / "paperboy.db").exists()  # stopped before anything was opened


def test_duplicate_names_are_refused_with_both_places(tmp_path: Path) -> None:
    path = write_users(
        tmp_path,
        {
            "ada.toml": 'email = "ada2@example.org"\n',  # the stem is the name: "ada"
            "bo.toml": BO,
            "zed.toml": '# also Bo\nname = "bo"\nemail = "bo2@example.org"\n',
        },
    )
    message = problems(path)
    users = tmp_path / "users.d"
    assert f"{users / 'ada.toml'}: duplicate user name 'ada' (also in {path}:7)" in message
    assert f"{users / 'zed.toml'}:2: duplicate user name 'bo' (also in {users / 'bo.toml'})" in (
        message
    )


def test_a_missing_users_dir_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert f"{path}:4: paperboy.users_dir: no such folder {str(tmp_path / 'users.d')!r}" in (
        problems(path)
    )


def test_parse_user_file_checks_one_file_like_the_loader(tmp_path: Path) -> None:
    config = load_config(write_users(tmp_path, {"bo.toml": BO}))
    bo = parse_user_file(BO, tmp_path / "users.d" / "bo.toml", config)
    assert bo == config.user("bo")
    with pytest.raises(ConfigError, match=r"bo.toml:5: user 'bo'.saved: not an arXiv id"):
        parse_user_file(BO.replace('"2005.14165"', '"abc"'), tmp_path / "users.d/bo.toml", config)


# --- editing: `paperboy profile` and jobs.config.lists ----------------------------------------


def profile(path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), "profile", *args])
    return result.exit_code, result.stdout, result.stderr


def test_profile_edits_the_file_the_user_lives_in(tmp_path: Path) -> None:
    path = write_users(tmp_path, {"bo.toml": BO, "cy.toml": 'email = "cy@example.org"\n'})
    bo_file = tmp_path / "users.d" / "bo.toml"
    config_before = path.read_text(encoding="utf-8")

    code, out, err = profile(path, "add", "--user", "bo", "arXiv:2401.01234v2", "--author", "X Y")
    assert code == 0, err
    assert f"Wrote {bo_file}" in out
    assert path.read_text(encoding="utf-8") == config_before  # config.toml untouched
    assert (
        bo_file.read_text(encoding="utf-8")
        == BO.replace(
            '    "2005.14165",  # GPT-3\n', '    "2005.14165",  # GPT-3\n    "2401.01234",\n'
        )
        + 'authors = ["X Y"]\n'
    )
    assert (tmp_path / "users.d" / "bo.toml.bak").read_text(encoding="utf-8") == BO
    assert load_config(path).user("bo").saved == ("2005.14165", "2401.01234")

    # Removing it again gives the file back byte for byte (comments included).
    code, out, err = profile(path, "remove", "--user", "bo", "2401.01234", "--author", "x y")
    assert code == 0, err
    assert bo_file.read_text(encoding="utf-8") == BO + "authors = []\n"

    # A user of config.toml is still edited in config.toml; no user file changes.
    code, out, err = profile(path, "dislike", "--user", "ada", "1706.03762")
    assert code == 0, err
    assert f"Wrote {path}" in out
    assert 'disliked = ["1706.03762"]' in path.read_text(encoding="utf-8")
    assert bo_file.read_text(encoding="utf-8") == BO + "authors = []\n"

    code, out, _ = profile(path, "list", "--user", "cy")
    assert code == 0 and out.startswith(f"cy ({tmp_path / 'users.d' / 'cy.toml'})")


def test_like_and_dislike_for_the_web_links(tmp_path: Path) -> None:
    path = write_users(tmp_path, {"bo.toml": BO})
    config = load_config(path)
    edit = dislike(config, "bo", ["https://arxiv.org/abs/2005.14165v3"])
    assert edit.path == tmp_path / "users.d" / "bo.toml" and edit.written
    assert [(c.key, c.action, c.value) for c in edit.changes] == [
        ("saved", "removed", "2005.14165"),
        ("disliked", "added", "2005.14165"),
    ]
    bo = load_config(path).user("bo")
    assert bo.saved == () and bo.disliked == ("2005.14165",)
    assert "# Bo's profile: kept by hand" in edit.path.read_text(encoding="utf-8")
    edit = like(config, "bo", ["2005.14165"])
    assert load_config(path).user("bo").saved == ("2005.14165",)
    assert not like(config, "bo", ["2005.14165"]).written  # already liked: no write
    with pytest.raises(ConfigError, match="no user named 'nobody'"):
        like(config, "nobody", ["2005.14165"])


def test_a_concurrent_hand_edit_of_a_user_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_users(tmp_path, {"bo.toml": BO})
    bo_file = tmp_path / "users.d" / "bo.toml"
    hand = BO.replace("bandits", "dueling bandits")
    write = jobs.config.writes.write_config

    def racing_write(snapshot: ConfigSnapshot, text: str) -> bool:
        def edit_by_hand() -> None:
            bo_file.write_text(hand, encoding="utf-8")
            os.utime(bo_file, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))

        return write(snapshot, text, _before_replace=edit_by_hand)

    monkeypatch.setattr(jobs.config.lists, "write_config", racing_write)
    code, _, err = profile(path, "add", "--user", "bo", "2401.01234")
    assert code == 1
    assert f"{bo_file.resolve()} was changed by someone else" in err
    assert bo_file.read_text(encoding="utf-8") == hand
    with pytest.raises(ConcurrentEditError):
        like(load_config(path), "bo", ["2401.01234"])


def test_an_edit_of_a_file_broken_meanwhile_writes_nothing(tmp_path: Path) -> None:
    path = write_users(tmp_path, {"bo.toml": BO})
    config = load_config(path)
    bo_file = tmp_path / "users.d" / "bo.toml"
    bo_file.write_text(BO + "max_papers = 0\n", encoding="utf-8")  # after the load
    with pytest.raises(
        ConfigError, match=r"(?s)would leave .*bo.toml invalid.*bo.toml:9: user .bo..max_papers"
    ):
        edit_profile(config, "bo", [("add", "keywords", ["regret"])])
    assert bo_file.read_text(encoding="utf-8") == BO + "max_papers = 0\n"


# --- the daemon --------------------------------------------------------------------------


def touch_later(path: Path, seconds: int) -> None:
    """Move the mtime on: a test edits faster than the file system's clock ticks."""
    later = time.time_ns() + seconds * 10**9
    os.utime(path, ns=(later, later))


def digest_jobs(daemon: Daemon) -> set[str]:
    """The users with a digest job."""
    return set(user_jobs(daemon.scheduler))


def test_the_daemon_reloads_when_a_user_file_comes_changes_or_goes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_users(tmp_path, {"bo.toml": BO})
    users = tmp_path / "users.d"
    config = load_config(path)
    with Storage.open(config.database) as storage:
        daemon = Daemon(config, storage)
        daemon.schedule()
        assert digest_jobs(daemon) == {"ada", "bo"}
        assert not daemon.check_reload()

        (users / "notes.txt").write_text("not a user", encoding="utf-8")
        (users / "bo.toml.bak").write_text("not a user either", encoding="utf-8")
        assert not daemon.check_reload()  # only *.toml files count

        (users / "cy.toml").write_text('email = "cy@example.org"\n', encoding="utf-8")
        assert daemon.check_reload()
        assert digest_jobs(daemon) == {"ada", "bo", "cy"}

        (users / "cy.toml").write_text(
            'email = "cy@example.org"\nsend_at = "05:00"\ntimezone = "UTC"\n', encoding="utf-8"
        )
        touch_later(users / "cy.toml", 5)
        assert daemon.check_reload()
        trigger = user_jobs(daemon.scheduler)["cy"].trigger
        after = datetime(2030, 1, 1, 12, tzinfo=UTC)
        assert trigger.get_next_fire_time(None, after) == after + timedelta(hours=17)

        (users / "bo.toml").unlink()
        assert daemon.check_reload()
        assert digest_jobs(daemon) == {"ada", "cy"}

        (users / "cy.toml").write_text('email = "cy@example.org"\nmax_papers = 0\n', "utf-8")
        touch_later(users / "cy.toml", 10)
        assert not daemon.check_reload()  # broken: the last good config stays
        assert "keeping the last good config" in caplog.text and "cy.toml:2" in caplog.text
        assert digest_jobs(daemon) == {"ada", "cy"}
        assert daemon.config.user("cy").send_at.hour == 5


def test_paperboy_run_picks_up_a_new_user_file(tmp_path: Path) -> None:
    """The real daemon, as a process: a user file dropped into users.d is scheduled."""
    # Send times well ahead: no digest is due or missed while the test runs.
    send_at = (datetime.now(UTC) + timedelta(hours=6)).strftime("%H:%M")
    config = CONFIG.replace('"Europe/Berlin"', '"UTC"') + f'send_at = "{send_at}"\n'
    path = write_users(tmp_path, {}, config=config)
    env = {**os.environ, "PAPERBOY_CONFIG": str(path)}
    daemon = subprocess.Popen([*PAPERBOY, "-v", "run"], stderr=subprocess.PIPE, text=True, env=env)
    assert daemon.stderr is not None
    lines: list[str] = []
    reloaded = threading.Event()

    def read() -> None:
        for line in daemon.stderr or []:
            lines.append(line)
            if "reloaded" in line and "2 users" in line:
                reloaded.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("scheduled digest for ada" in line for line in lines):
            assert time.monotonic() < deadline and daemon.poll() is None, "".join(lines)
            time.sleep(0.1)
        (tmp_path / "users.d" / "bo.toml").write_text(
            f'email = "bo@example.org"\nsend_at = "{send_at}"\n', encoding="utf-8"
        )
        assert reloaded.wait(timeout=60), "".join(lines)
    finally:
        stop_or_dump(daemon, lines, reader)
    assert daemon.returncode == 0, "".join(lines)


def test_config_is_still_just_config_toml_without_users_dir(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.replace('users_dir = "users.d/"', ""), encoding="utf-8")
    config: Config = load_config(path)
    assert config.users_dir is None and [u.name for u in config.users] == ["ada"]


def test_init_users_dir_moves_the_sample_user_into_its_own_file(tmp_path: Path) -> None:
    plain, split = tmp_path / "plain", tmp_path / "split"
    assert CliRunner().invoke(cli, ["init", str(plain)]).exit_code == 0
    result = CliRunner().invoke(cli, ["init", "--users-dir", str(split)])
    assert result.exit_code == 0, result.output
    ada_file = split / "users.d" / "ada.toml"
    assert "[[users]]\n" not in ada_file.read_text(encoding="utf-8")
    assert "\n[[users]]" not in (split / "config.toml").read_text(encoding="utf-8")
    config = load_config(split / "config.toml")
    [ada] = config.users
    assert ada.source == ada_file
    assert replace(ada, source=None) == load_config(plain / "config.toml").user("ada")
    code, out, err = profile(split / "config.toml", "add", "--keyword", "bandits")
    assert code == 0 and f"Wrote {ada_file}" in out, err
    again = CliRunner().invoke(cli, ["init", "--users-dir", str(split)])
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_users_dir_may_be_the_config_folder_itself(tmp_path: Path) -> None:
    path = write_users(tmp_path, {}, config=CONFIG.replace('"users.d/"', '"."'))
    (tmp_path / "bo.toml").write_text(BO, encoding="utf-8")
    assert [u.name for u in load_config(path).users] == ["ada", "bo"]  # not "config"


def count_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count each users_dir file read from now on, by file name."""
    reads: Counter[str] = Counter()
    read = jobs.config.users._read_user_file

    def counting(p: Path) -> str:
        reads[p.name] += 1
        return read(p)

    monkeypatch.setattr(jobs.config.users, "_read_user_file", counting)
    return reads


def test_a_reload_reads_only_the_files_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_users(tmp_path, {f"u{i:03d}.toml": f'email = "u{i}@x.org"\n' for i in range(200)})
    users = tmp_path / "users.d"
    config = load_config(path)
    (users / "u007.toml").write_text('email = "u7@x.org"\nmax_papers = 3\n', encoding="utf-8")
    touch_later(users / "u007.toml", 5)
    (users / "u100.toml").unlink()
    (users / "new.toml").write_text('email = "new@x.org"\n', encoding="utf-8")
    reads = count_reads(monkeypatch)

    again = load_config(path, previous=config)
    assert reads == Counter({"new.toml": 1, "u007.toml": 1})
    assert again.user("u007").max_papers == 3 and "u100" not in {u.name for u in again.users}
    reads.clear()
    assert again.users == load_config(path).users  # the same as a full load
    assert len(reads) == 200

    # config.toml's defaults changed: every user is checked again against them.
    path.write_text(CONFIG.replace('"Europe/Berlin"', '"UTC"'), encoding="utf-8")
    reads.clear()
    third = load_config(path, previous=again)
    assert len(reads) == 200 and third.user("u001").timezone == "UTC"

    # Problems read as in a full load: every line, and both places of a duplicate name.
    (users / "u001.toml").write_text('email = "u1@x.org"\nmax_papers = 0\n', encoding="utf-8")
    touch_later(users / "u001.toml", 10)
    (users / "zz.toml").write_text('name = "u002"\nemail = "z@x.org"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, previous=third)
    assert f"{users / 'u001.toml'}:2: user 'u001'.max_papers must be at least 1" in str(info.value)
    assert f"{users / 'zz.toml'}:1: duplicate user name 'u002' (also in {users / 'u002.toml'})" in (
        str(info.value)
    )
