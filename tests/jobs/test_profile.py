"""paperboy.jobs.config.lists: list edits keep the rest of config.toml as it was; safe writes."""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from paperboy.jobs.config.lists import (
    add_values,
    normalise_value,
    read_lists,
    remove_values,
    same_value,
)
from paperboy.jobs.config.load import parse_config
from paperboy.jobs.config.writes import (
    ConcurrentEditError,
    backup_path,
    read_snapshot,
    write_config,
)
from paperboy.jobs.core.errors import ConfigError, UnknownPaperError

ROOT = Path(__file__).resolve().parents[2]
STARTER = (ROOT / "config.toml").read_text(encoding="utf-8")

# --- generated config files ------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """A config file made of three parts: everything before the array, the array, the rest."""

    before: str
    array: str
    after: str
    key: str
    values: list[str]

    @property
    def text(self) -> str:
        return self.before + self.array + self.after


words = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZéøß0123456789 -_.'\"\\/#,[]"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s != "")
arxiv_ids = st.builds(
    lambda yy, mm, n: f"{yy:02d}{mm:02d}.{n:05d}",
    st.integers(15, 26),
    st.integers(1, 12),
    st.integers(1, 99999),
)


def _quoted(value: str, literal: bool) -> str:
    if literal and "'" not in value:
        return f"'{value}'"
    return tomlkit.string(value).as_string()


@st.composite
def configs(draw: st.DrawFn) -> Generated:
    key = draw(st.sampled_from(["saved", "disliked", "keywords", "authors", "muted"]))
    pool = arxiv_ids if key in ("saved", "disliked") else words
    values = draw(st.lists(pool, max_size=5, unique_by=lambda v: normalise_value(key, v).lower()))
    values = [v for v in values if not any(same_value(key, v, w) for w in values if w is not v)]
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    literal = draw(st.booleans())
    multiline = draw(st.booleans())
    if multiline:
        indent = draw(st.sampled_from(["  ", "    ", "\t"]))
        lines = []
        for i, v in enumerate(values):
            comma = "," if i < len(values) - 1 or draw(st.booleans()) else ""
            note = draw(st.sampled_from(["", "  # why", "   # " + "note é"]))
            lines.append(f"{indent}{_quoted(v, literal)}{comma}{note}{nl}")
            if draw(st.integers(0, 5)) == 0:
                lines.append(f"{indent}# a comment line{nl}")
        opener = draw(st.sampled_from(["[", "[  # the list"]))
        array = f"{opener}{nl}{''.join(lines)}]"
    else:
        pad = draw(st.sampled_from(["", " "]))
        sep = draw(st.sampled_from([", ", ",", " , "]))
        trailing = "," if values and draw(st.booleans()) else ""
        inner = sep.join(_quoted(v, literal) for v in values)
        array = f"[{pad}{inner}{trailing}{pad}]"
    space = draw(st.sampled_from([" = ", "=", "   =  "]))
    tail = draw(st.sampled_from(["", "   # a comment after", " #x"]))
    extra = draw(st.sampled_from(["", f"# a comment{nl}", f"{nl}", f'timezone = "UTC"{nl}']))
    other = draw(st.sampled_from(["", f'{nl}[[users]]{nl}name = "bob"{nl}email = "b@x.org"{nl}']))
    before = (
        f"# Paperboy{nl}{nl}[paperboy]{nl}database = 'sqlite:///p.db'  # where{nl}{nl}"
        f'[[users]]{nl}name = "ada"{nl}{extra}email = ["ada@example.org"]{nl}{key}{space}'
    )
    after = f"{tail}{nl}max_papers = 5{nl}{other}"
    return Generated(before, array, after, key, values)


def new_value(key: str, gen: Generated, draw_from: str) -> str:
    value = draw_from
    assume(not any(same_value(key, value, v) for v in gen.values))
    return value


fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(gen=configs(), data=st.data())
def test_add_then_remove_gives_back_the_file_byte_for_byte(
    gen: Generated, data: st.DataObject
) -> None:
    pool = arxiv_ids if gen.key in ("saved", "disliked") else words
    value = new_value(gen.key, gen, data.draw(pool))
    added = add_values(gen.text, "ada", gen.key, [value])
    assert added.changed == (normalise_value(gen.key, value),)
    # Only the array changed, and it holds exactly one more value at its end.
    assert added.text.startswith(gen.before) and added.text.endswith(gen.after)
    lists = tomllib.loads(added.text)["users"][0]
    assert lists[gen.key] == [*gen.values, normalise_value(gen.key, value)]
    removed = remove_values(added.text, "ada", gen.key, [value])
    assert removed.text == gen.text


@fuzz
@given(gen=configs(), data=st.data())
def test_removing_one_value_changes_only_the_array(gen: Generated, data: st.DataObject) -> None:
    assume(gen.values)
    victim = data.draw(st.sampled_from(gen.values))
    edit = remove_values(gen.text, "ada", gen.key, [victim])
    assert edit.changed == (victim,)
    assert edit.text.startswith(gen.before) and edit.text.endswith(gen.after)
    expected = [v for v in gen.values if v != victim]
    assert tomllib.loads(edit.text)["users"][0][gen.key] == expected


@fuzz
@given(gen=configs(), data=st.data())
def test_adding_what_is_there_changes_nothing(gen: Generated, data: st.DataObject) -> None:
    assume(gen.values)
    value = data.draw(st.sampled_from(gen.values))
    edit = add_values(
        gen.text, "ada", gen.key, [value.upper() if gen.key in ("authors",) else value]
    )
    assert edit.text == gen.text and edit.changed == ()
    assert remove_values(gen.text, "ada", gen.key, ["not-there-at-all"]).text == gen.text


@fuzz
@given(values=st.lists(words, min_size=1, max_size=4, unique_by=str.casefold))
def test_a_missing_key_is_added_after_the_users_last_key(values: list[str]) -> None:
    assume(len({normalise_value("keywords", v).casefold() for v in values}) == len(values))
    text = (
        '[[users]]\nname = "ada"\nemail = "a@x.org"   # mine\n'
        "saved = [\n  '2401.01234',  # one\n]\n\n# bob follows\n[[users]]\nname = \"bob\"\n"
    )
    edit = add_values(text, "ada", "keywords", values)
    head = text.split("\n\n# bob")[0] + "\n"
    assert edit.text.startswith(head)
    assert edit.text.endswith('\n\n# bob follows\n[[users]]\nname = "bob"\n')
    assert tomllib.loads(edit.text)["users"][0]["keywords"] == [
        normalise_value("keywords", v) for v in values
    ]


# --- examples --------------------------------------------------------------------------------


def diff_lines(a: str, b: str) -> list[tuple[str, str]]:
    import difflib

    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
        a=a.splitlines(), b=b.splitlines()
    ).get_opcodes():
        if tag != "equal":
            out.append(("\n".join(a.splitlines()[i1:i2]), "\n".join(b.splitlines()[j1:j2])))
    return out


def test_starter_config_edits_touch_one_line_each() -> None:
    edit = add_values(STARTER, "ada", "saved", ["https://arxiv.org/abs/2401.01234v2"])
    assert diff_lines(STARTER, edit.text) == [("", '    "2401.01234",')]
    edit = add_values(STARTER, "ada", "keywords", ["bandits"])
    assert diff_lines(STARTER, edit.text) == [
        (
            'keywords = ["GRPO", "verifiable rewards"]   # boost papers that use these words',
            'keywords = ["GRPO", "verifiable rewards", "bandits"]   # boost papers that use these '
            "words",
        )
    ]
    edit = add_values(STARTER, "ada", "disliked", ["arXiv:2401.01234"])
    [(old, new)] = diff_lines(STARTER, edit.text)
    assert old.startswith("disliked = []   ") and new.startswith('disliked = ["2401.01234"]   ')
    assert parse_config(edit.text, ROOT / "config.toml").users[0].disliked == ("2401.01234",)


@pytest.mark.parametrize(
    "form",
    [
        "2604.12627",
        "arXiv:2604.12627v3",
        "https://arxiv.org/pdf/2604.12627",
        "10.48550/arXiv.2604.12627",
    ],
)
def test_removing_works_whatever_form_is_given(form: str) -> None:
    # The starter writes this one as "arXiv:2604.12627", with a comment.
    edit = remove_values(STARTER, "ada", "saved", [form])
    assert edit.changed == ("arXiv:2604.12627",)
    assert diff_lines(STARTER, edit.text) == [('    "arXiv:2604.12627", # KnowRL', "")]


def test_ids_are_canonical_and_duplicates_are_noops() -> None:
    edit = add_values(
        STARTER, "ada", "saved", ["2401.01234v2", "https://arxiv.org/abs/2401.01234", "2505.10832"]
    )
    assert edit.changed == ("2401.01234",)
    assert edit.unchanged == ("2401.01234", "2505.10832")
    with pytest.raises(UnknownPaperError):
        add_values(STARTER, "ada", "saved", ["abc"])


def test_words_match_without_case_or_accents() -> None:
    text = '[[users]]\nname = "ada"\nauthors = ["Bernhard Schölkopf"]\n'
    assert add_values(text, "ada", "authors", ["bernhard  scholkopf"]).changed == ()
    assert remove_values(text, "ada", "authors", ["BERNHARD SCHOLKOPF"]).text == (
        '[[users]]\nname = "ada"\nauthors = []\n'
    )


def test_a_single_string_becomes_a_list() -> None:
    text = '[[users]]\nname = "ada"\nkeywords = "bandits"   # one\n'
    edit = add_values(text, "ada", "keywords", ["GRPO"])
    assert edit.text == '[[users]]\nname = "ada"\nkeywords = ["bandits", "GRPO"]   # one\n'


def test_second_user_of_two_and_unknown_users() -> None:
    text = '[[users]]\nname = "ada"\nmuted = []\n\n[[users]]\nname = "bob"\nmuted = []\n'
    edit = add_values(text, "bob", "muted", ["blockchain"])
    assert edit.text == text.replace('bob"\nmuted = []', 'bob"\nmuted = ["blockchain"]')
    assert read_lists(edit.text, "ada")["muted"] == []
    with pytest.raises(ConfigError, match=r"no user named 'eve' .*configured: ada, bob"):
        add_values(text, "eve", "muted", ["x"])


def test_lists_of_other_things_are_left_to_the_person() -> None:
    text = '[[users]]\nname = "ada"\nkeywords = [1, 2]\n'
    with pytest.raises(ConfigError, match="must be a list of strings"):
        add_values(text, "ada", "keywords", ["x"])
    with pytest.raises(ValueError, match="not a list key"):
        add_values(text, "ada", "email", ["x"])


def test_multiline_strings_and_brackets_in_comments_are_skipped() -> None:
    text = (
        '[[users]]\nname = "ada"\nkeywords = [\n  """multi\n] line""",  # a ] in a comment\n'
        "  'c:\\path',\n]\nmuted = []\n"
    )
    edit = add_values(text, "ada", "keywords", ["x"])
    assert tomllib.loads(edit.text)["users"][0]["keywords"] == ["multi\n] line", "c:\\path", "x"]
    assert remove_values(edit.text, "ada", "keywords", ["x"]).text == text


# --- writing ---------------------------------------------------------------------------------


def test_write_is_atomic_keeps_a_backup_and_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(STARTER, encoding="utf-8")
    os.chmod(path, 0o600)
    snapshot = read_snapshot(path)
    new = add_values(snapshot.text, "ada", "keywords", ["bandits"]).text
    assert write_config(snapshot, new) is True
    assert path.read_text(encoding="utf-8") == new
    assert backup_path(path).read_text(encoding="utf-8") == STARTER
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "config.toml.bak"]


def test_nothing_to_change_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(STARTER, encoding="utf-8")
    snapshot = read_snapshot(path)
    assert write_config(snapshot, snapshot.text) is False
    assert not backup_path(path).exists()


def test_crlf_files_stay_crlf(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(STARTER.replace("\n", "\r\n").encode("utf-8"))
    snapshot = read_snapshot(path)
    edit = add_values(snapshot.text, "ada", "saved", ["2401.01234"])
    write_config(snapshot, edit.text)
    data = path.read_bytes()
    assert b'    "2401.01234",\r\n' in data and b"\n" not in data.replace(b"\r\n", b"")


def test_a_concurrent_hand_edit_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(STARTER, encoding="utf-8")
    snapshot = read_snapshot(path)
    new = add_values(snapshot.text, "ada", "keywords", ["bandits"]).text
    hand = STARTER.replace("max_papers = 10 ", "max_papers = 20 ")

    def someone_saves_in_an_editor() -> None:
        path.write_text(hand, encoding="utf-8")

    with pytest.raises(ConcurrentEditError, match=r"changed by someone else.*nothing was written"):
        write_config(snapshot, new, _before_replace=someone_saves_in_an_editor)
    assert path.read_text(encoding="utf-8") == hand
    assert not backup_path(path).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # no temp file left


def test_same_bytes_but_touched_counts_as_a_change(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(STARTER, encoding="utf-8")
    snapshot = read_snapshot(path)
    new = add_values(snapshot.text, "ada", "keywords", ["bandits"]).text

    def touch() -> None:
        os.utime(path, ns=(snapshot.mtime_ns + 10**9, snapshot.mtime_ns + 10**9))

    with pytest.raises(ConcurrentEditError):
        write_config(snapshot, new, _before_replace=touch)


def test_a_failed_replace_leaves_the_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(STARTER, encoding="utf-8")
    snapshot = read_snapshot(path)
    new = add_values(snapshot.text, "ada", "keywords", ["bandits"]).text
    real_replace = os.replace

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == path:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        write_config(snapshot, new)
    assert path.read_text(encoding="utf-8") == STARTER
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_missing_and_undecodable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="paperboy init"):
        read_snapshot(tmp_path / "nope.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('name = "Jos\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_snapshot(bad)


@example(text="[[users]]\nname = 'ada'\nkeywords = [\n]\n")
@given(text=st.just('[[users]]\nname = "ada"\nkeywords = [ ]\n'))
def test_empty_arrays_round_trip(text: str) -> None:
    added = add_values(text, "ada", "keywords", ["x"])
    assert tomllib.loads(added.text)["users"][0]["keywords"] == ["x"]
    assert remove_values(added.text, "ada", "keywords", ["x"]).text == text


def test_a_symlinked_config_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "paperboy.toml"
    real.parent.mkdir()
    real.write_text(STARTER, encoding="utf-8")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    snapshot = read_snapshot(link)
    write_config(snapshot, add_values(snapshot.text, "ada", "muted", ["x"]).text)
    assert link.is_symlink() and 'muted = ["x"]' in real.read_text(encoding="utf-8")
    assert (real.parent / "paperboy.toml.bak").read_text(encoding="utf-8") == STARTER
