"""`paperboy profile ... --collection NAME` and `paperboy rank --user NAME --collection
NAME` (issue #23), through click's runner on a copy of the starter config.toml with two
collections added by hand."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.storage import Storage
from tests.jobs.test_pipeline import load_sample

ROOT = Path(__file__).resolve().parents[2]
ZOTERO = ROOT / "tests" / "fixtures" / "libraries" / "zotero-export.bib"

COLLECTIONS = """
[[users.collections]]
name = "vision"   # seeing things
saved = ["2508.11196"]

[[users.collections]]
name = "agents"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text((ROOT / "config.toml").read_text(encoding="utf-8") + COLLECTIONS, "utf-8")
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def user(config: Path) -> dict[str, Any]:
    users = tomllib.loads(config.read_text(encoding="utf-8"))["users"]
    return dict(users[0])


def lists(config: Path, name: str) -> dict[str, Any]:
    [found] = [c for c in user(config)["collections"] if c["name"] == name]
    return dict(found)


def test_add_like_dislike_remove_edit_the_named_collection(config: Path) -> None:
    top = user(config)["saved"]
    code, out, _ = run(
        config, "profile", "add", "--collection", "agents", "2601.09667", "--keyword", "tool use"
    )
    assert code == 0, out
    assert "2601.09667: added to ada's saved papers" in out
    assert lists(config, "agents")["saved"] == ["2601.09667"]
    assert lists(config, "agents")["keywords"] == ["tool use"]
    assert user(config)["saved"] == top  # the top level is untouched
    assert "# seeing things" in config.read_text(encoding="utf-8")

    assert run(config, "profile", "dislike", "--collection", "vision", "2508.11196")[0] == 0
    assert lists(config, "vision")["saved"] == [] and lists(config, "vision")["disliked"] == [
        "2508.11196"
    ]
    assert run(config, "profile", "like", "--collection", "vision", "2508.11196")[0] == 0
    assert lists(config, "vision")["saved"] == ["2508.11196"]
    assert (
        run(config, "profile", "remove", "--collection", "agents", "--keyword", "Tool Use")[0] == 0
    )
    assert lists(config, "agents")["keywords"] == []
    loaded = load_config(config).users[0]
    assert loaded.collection("agents").saved == ("2601.09667",)


def test_list_shows_one_collection_and_names_the_others(config: Path) -> None:
    code, out, _ = run(config, "profile", "list")
    assert code == 0, out
    assert "Collections: vision, agents (see one with --collection NAME)" in out
    code, out, _ = run(config, "profile", "list", "--collection", "vision", "--format", "json")
    [row] = json.loads(out)
    assert row["collection"] == "vision" and row["collections"] == ["vision", "agents"]
    assert [p["id"] for p in row["saved"]] == ["2508.11196"]
    assert row["keywords"] == []


def test_an_unknown_collection_is_a_usage_error_and_changes_nothing(config: Path) -> None:
    before = config.read_text(encoding="utf-8")
    for args in (
        ("profile", "add", "--collection", "nope", "2601.09667"),
        ("profile", "list", "--collection", "nope"),
        ("profile", "import", "--collection", "nope", str(ZOTERO)),
        ("rank", "--user", "ada", "--collection", "nope"),
    ):
        code, out, err = run(config, *args)
        assert code == 2, (args, out, err)
        assert "has no collection named 'nope' (collections: vision, agents)" in err, args
    assert run(config, "rank", "--collection", "vision")[0] == 2  # needs --user
    assert config.read_text(encoding="utf-8") == before


def test_import_into_a_collection(config: Path) -> None:
    code, out, _ = run(config, "profile", "import", "--collection", "agents", str(ZOTERO))
    assert code == 0, out
    assert "added: 169 (145 saved papers" in out
    whole = load_config(config)
    loaded = whole.users[0]
    assert len(loaded.collection("agents").saved) == 145
    assert len(loaded.saved) == 12  # the top level: as it was
    with Storage.open(whole.database) as storage:
        assert len(storage.library_papers("ada", collection="agents")) == 24
        assert storage.library_papers("ada", collection="") == []
        assert len(storage.library_papers("ada")) == 24


def test_rank_for_one_collection(config: Path) -> None:
    loaded = load_config(config)
    with Storage.open(loaded.database) as storage:
        load_sample(storage, days=1)
    code, out, _ = run(
        config, "rank", "--user", "ada", "--collection", "vision", "--format", "json"
    )
    assert code == 0, out
    vision = json.loads(out)
    code, out, _ = run(config, "rank", "--user", "ada", "--format", "json")
    default = json.loads(out)
    assert vision and default
    assert {r["id"] for r in vision} == {r["id"] for r in default}  # the same candidates
    assert [r["id"] for r in vision] != [r["id"] for r in default]  # another model's order
    assert "2508.11196" not in {r["id"] for r in vision}  # saved in a collection: not news
