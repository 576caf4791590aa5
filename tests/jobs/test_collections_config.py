"""Collections in the config (issue #23): [[users.collections]] in config.toml and
[[collections]] in a users_dir file; existing configs load as before; every mistake is
named with its file and line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from paperboy.jobs.config.load import load_config, parse_config
from paperboy.jobs.config.model import UserConfig
from paperboy.jobs.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
[paperboy]
database = "sqlite:///paperboy.db"

[sources.arxiv]
categories = ["cs.LG"]
"""

TWO = (
    HEAD
    + """
[[users]]
name = "bob"
email = "bob@example.org"

[[users]]
name = "ada"
email = "ada@example.org"
saved = ["1706.03762"]
keywords = ["transformers"]
max_papers = 8

[users.zotero]
library = "users/123"

[[users.collections]]
name = "rl-reasoning"
saved = ["arXiv:2501.12948v2"]
keywords = ["reinforcement learning"]
authors = ["Jane Doe"]
muted = ["robotics"]
disliked = ["2005.14165"]
max_papers = 3
notify = [{ url = "json://127.0.0.1:9/hook", name = "hook" }]
zotero = "RL reading"

[[users.collections]]
name = "vision"
keywords = ["diffusion"]
"""
)


def load(text: str, tmp_path: Path) -> tuple[UserConfig, ...]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path).users


def problems(text: str, tmp_path: Path, name: str = "config.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_collections_load_with_their_own_lists(tmp_path: Path) -> None:
    bob, ada = load(TWO, tmp_path)
    assert bob.collections == ()
    assert [c.name for c in ada.collections] == ["rl-reasoning", "vision"]
    rl, vision = ada.collections
    assert rl.saved == ("2501.12948",)  # canonical, like the user's own
    assert rl.keywords == ("reinforcement learning",) and rl.authors == ("Jane Doe",)
    assert rl.muted == ("robotics",) and rl.disliked == ("2005.14165",)
    assert rl.max_papers == 3 and vision.max_papers is None
    assert [c.name for c in rl.notify] == ["hook"] and vision.notify == ()
    assert rl.zotero == "RL reading" and vision.zotero is None
    # the top level stays the user's default collection
    assert ada.saved == ("1706.03762",) and ada.keywords == ("transformers",)
    default = ada.collection(None)
    assert default.name == "" and default.saved == ("1706.03762",) and default.max_papers == 8
    assert ada.collection("vision") is vision
    assert ada.all_saved() == {"1706.03762", "2501.12948", "2005.14165"}
    with pytest.raises(ConfigError, match=r"no collection named 'nope' \(collections: rl-"):
        ada.collection("nope")


def test_users_dir_files_take_collections_at_their_top_level(tmp_path: Path) -> None:
    folder = tmp_path / "users"
    folder.mkdir()
    (folder / "cy.toml").write_text(
        'email = "cy@example.org"\nsaved = ["1706.03762"]\n\n'
        '[[collections]]\nname = "graphs"\nkeywords = ["graph neural networks"]\n',
        encoding="utf-8",
    )
    (tmp_path / "config.toml").write_text(HEAD + 'users_dir = "users"\n', encoding="utf-8")
    text = HEAD.replace("[sources.arxiv]", 'users_dir = "users"\n\n[sources.arxiv]')
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    [cy] = load_config(tmp_path / "config.toml").users
    assert [c.name for c in cy.collections] == ["graphs"]
    assert cy.collections[0].keywords == ("graph neural networks",)

    (folder / "cy.toml").write_text(
        'email = "cy@example.org"\n\n[[collections]]\nname = "graphs"\n\n'
        '[[collections]]\nname = "Graphs"\ncolour = "blue"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "config.toml")
    said = str(info.value)
    assert f"{folder / 'cy.toml'}:7: user 'cy' collection 'Graphs': another collection" in said


def test_every_mistake_is_named_with_its_line(tmp_path: Path) -> None:
    text = (
        HEAD
        + """
[[users]]
name = "bob"
email = "bob@example.org"

[[users.collections]]
name = "fine"
colour = "blue"

[[users]]
name = "ada"
email = "ada@example.org"

[[users.collections]]
name = "rl"
max_papers = 0
saved = ["2501.12948"]
disliked = ["2501.12948"]
zotero = "RL"

[[users.collections]]
name = "RL"

[[users.collections]]
name = "default"

[[users.collections]]
name = "has space"

[[users.collections]]
keywords = ["nameless"]

[[users.collections]]
name = "bad-ids"
saved = ["not an id"]
notify = ["nope://example.org"]
"""
    )
    said = problems(text, tmp_path)
    path = tmp_path / "config.toml"
    lines = text.split("\n")

    def line_of(fragment: str, after: int = 0) -> int:
        return next(i for i, line in enumerate(lines, 1) if i > after and fragment in line)

    expected = [
        (line_of('colour = "blue"'), "unknown key 'colour' in [[users]] 'bob' collection 'fine'"),
        (line_of("max_papers = 0"), "collection 'rl'.max_papers must be at least 1"),
        (line_of("disliked = ["), "2501.12948 is both saved and disliked"),
        (line_of('zotero = "RL"'), "follows no Zotero library: add a [users.zotero] table"),
        (line_of('name = "RL"'), "collection 'RL': another collection of this user is named 'rl'"),
        (line_of('name = "default"'), "'default' is reserved for the user's top-level lists"),
        (line_of('name = "has space"'), "'has space' is not a collection name"),
        (line_of('keywords = ["nameless"]') - 1, "collection #5: name is required"),
        (line_of('saved = ["not an id"]'), "collection 'bad-ids'.saved:"),
        (line_of("nope://"), "collection 'bad-ids'.notify entry 1"),
    ]
    for line, message in expected:
        assert any(
            part.strip().startswith(f"{path}:{line}:") and message in part
            for part in said.split("\n")
        ), (line, message, said)


def test_collections_must_be_tables(tmp_path: Path) -> None:
    text = HEAD + '\n[[users]]\nname = "ada"\nemail = "ada@example.org"\ncollections = ["rl"]\n'
    said = problems(text, tmp_path)
    assert f"{tmp_path / 'config.toml'}:10: [[users]] 'ada'.collections must be" in said


def test_an_inline_collection_array_points_at_its_key(tmp_path: Path) -> None:
    text = (
        HEAD
        + '\n[[users]]\nname = "ada"\nemail = "ada@example.org"\n'
        + 'collections = [{ name = "ok" }, { name = "a b" }]\n'
    )
    said = problems(text, tmp_path)
    assert f"{tmp_path / 'config.toml'}:10: [[users]] 'ada' collection 'a b'" in said
    fine = text.replace('"a b"', '"ab"')
    [ada] = load(fine, tmp_path)
    assert [c.name for c in ada.collections] == ["ok", "ab"]


def test_existing_configs_load_unchanged() -> None:
    """Today's config.toml and every [[users]] example in the docs load as before, with
    no collections: the top level is the default collection. (The examples of
    collections in the docs load too.)"""
    config = load_config(ROOT / "config.toml")
    assert all(u.collections == () for u in config.users)
    blocks = examples = 0
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```toml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            data = tomllib.loads(block)
            if "users" not in data:
                continue
            head = '[paperboy]\ndatabase = "sqlite:///paperboy.db"\n\n'
            text = block if "paperboy" in data else head + block
            parsed = parse_config(text, doc, read_users_dir=False)
            assert parsed.users
            if "[[users.collections]]" in block:  # the documented examples of collections load too
                assert any(u.collections for u in parsed.users)
                examples += 1
            else:
                assert all(u.collections == () for u in parsed.users)
                blocks += 1
    assert blocks >= 3 and examples >= 1
