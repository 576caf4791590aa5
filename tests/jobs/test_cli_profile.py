"""`paperboy profile ...` through click's runner, on a copy of the starter config.toml."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from paperboy import jobs
from paperboy.jobs.cli import cli
from paperboy.jobs.config.load import load_config
from paperboy.jobs.config.writes import ConfigSnapshot, write_config
from paperboy.jobs.core.records import SourcePaper
from paperboy.jobs.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
ZOTERO = ROOT / "tests" / "fixtures" / "libraries" / "zotero-export.bib"
SUBCOMMANDS = ["list", "add", "remove", "import", "like", "dislike"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text((ROOT / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--config", str(config), "profile", *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def ada(config: Path) -> dict[str, Any]:
    users = tomllib.loads(config.read_text(encoding="utf-8"))["users"]
    assert isinstance(users, list)
    return dict(users[0])


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, ["profile", command, "--help"])
    assert result.exit_code == 0
    example = result.stdout.split("Example:", 1)[1]
    assert f"paperboy profile {command}" in example


def test_add_normalises_ids_and_keeps_the_file(config: Path) -> None:
    before = config.read_text(encoding="utf-8")
    code, out, _ = run(
        config, "add", "--user", "ada", "2401.01234", "https://arxiv.org/abs/1706.03762v7"
    )
    assert code == 0, out
    assert "2401.01234: added to ada's saved papers" in out
    assert "1706.03762: added to ada's saved papers" in out
    assert "previous version is" in out
    after = config.read_text(encoding="utf-8")
    assert after.replace('    "2401.01234",\n    "1706.03762",\n', "") == before
    assert (config.parent / "config.toml.bak").read_text(encoding="utf-8") == before
    assert load_config(config).users[0].saved[-2:] == ("2401.01234", "1706.03762")


def test_adding_a_duplicate_is_a_noop_with_a_message(config: Path) -> None:
    before = config.read_text(encoding="utf-8")
    code, out, _ = run(config, "add", "--user", "ada", "arXiv:2604.12627v2", "--keyword", "grpo")
    assert code == 0
    assert "2604.12627: already in ada's saved papers" in out
    assert "grpo: already in ada's keywords" in out
    assert "Nothing to change" in out
    assert config.read_text(encoding="utf-8") == before
    assert not (config.parent / "config.toml.bak").exists()


def test_keywords_authors_muted(config: Path) -> None:
    code, out, _ = run(
        config, "add", "--keyword", "bandits", "--author", "Jeff Clune", "--mute", "cs.CR"
    )
    assert code == 0, out  # --user may be left out: there is one user
    user = ada(config)
    assert user["keywords"][-1] == "bandits" and user["authors"] == ["Jeff Clune"]
    assert user["muted"] == ["cs.CR"]
    code, out, _ = run(config, "remove", "--keyword", "BANDITS", "--author", "jeff clune")
    assert code == 0 and "bandits: removed from ada's keywords" in out
    assert ada(config)["authors"] == []


def test_remove_whatever_form(config: Path) -> None:
    code, out, _ = run(config, "remove", "--user", "ada", "https://arxiv.org/pdf/2605.18500v3")
    assert code == 0, out
    assert "https://arxiv.org/abs/2605.18500v1: removed from ada's saved papers" in out
    assert "2605.18500" not in config.read_text(encoding="utf-8")
    code, out, _ = run(config, "remove", "--user", "ada", "2401.01234")
    assert code == 0 and "2401.01234: not in ada's saved papers" in out


def test_like_and_dislike_move_papers_between_lists(config: Path) -> None:
    code, out, _ = run(config, "dislike", "--user", "ada", "2510.02230")
    assert code == 0, out
    assert "2510.02230: removed from ada's saved papers" in out
    assert "2510.02230: added to ada's disliked papers" in out
    user = load_config(config).users[0]
    assert "2510.02230" not in user.saved and user.disliked == ("2510.02230",)
    code, out, _ = run(config, "like", "--user", "ada", "arXiv:2510.02230")
    assert code == 0, out
    user = load_config(config).users[0]
    assert "2510.02230" in user.saved and user.disliked == ()
    assert ada(config)["disliked"] == []


def test_json_output_of_an_edit(config: Path) -> None:
    code, out, _ = run(config, "add", "2401.01234", "2505.10832", "--format", "json")
    assert code == 0
    assert json.loads(out) == [
        {"user": "ada", "list": "saved", "action": "added", "value": "2401.01234"},
        {"user": "ada", "list": "saved", "action": "already-present", "value": "2505.10832"},
    ]


def test_list_shows_titles_from_the_database(config: Path) -> None:
    with Storage.open(load_config(config).database) as storage:
        storage.upsert_papers(
            [
                SourcePaper(
                    id="2505.10832",
                    title="Learning When to Think",
                    abstract="",
                    authors=(),
                    categories=(),
                    link="",
                )
            ],
            source="test",
            listed=False,
        )
    run(config, "add", "--keyword", "bandits")
    code, out, _ = run(config, "list", "--user", "ada")
    assert code == 0, out
    assert "Saved papers (12):" in out
    assert "2505.10832         Learning When to Think" in out
    assert "2604.12627         (not fetched yet)" in out
    assert "Keywords: GRPO, verifiable rewards, bandits" in out
    assert "Followed authors: none" in out
    code, out, _ = run(config, "list", "--format", "json")
    [row] = json.loads(out)
    assert row["saved"][0] == {
        "id": "2505.10832",
        "title": "Learning When to Think",
        "url": "https://arxiv.org/abs/2505.10832",
    }
    assert row["saved"][1]["title"] is None
    assert row["disliked"] == [] and row["muted"] == [] and row["library"] == []


def test_import_the_zotero_export(config: Path) -> None:
    before = config.read_text(encoding="utf-8")
    code, out, _ = run(config, "import", "--user", "ada", str(ZOTERO), "--dry-run")
    assert code == 0, out
    assert "202 entries" in out
    assert "would be added: 169 (145 saved papers with an arXiv id, 24 library papers" in out
    assert "already present: 31 (0 saved, 0 in the library, 31 listed twice in the file)" in out
    assert "line 2278 (mehtaUnifiedLearningDemonstrations): no arXiv id and no abstract" in out
    assert config.read_text(encoding="utf-8") == before

    code, out, _ = run(config, "import", "--user", "ada", str(ZOTERO))
    assert code == 0, out
    assert "added: 169 (145 saved papers" in out and "skipped: 2" in out
    loaded = load_config(config)
    assert len(loaded.users[0].saved) == 12 + 145
    assert config.read_text(encoding="utf-8").startswith(before.split('    "2606.17279"')[0])
    with Storage.open(loaded.database) as storage:
        library = storage.library_papers("ada")
        assert len(library) == 24
        assert storage.get_papers(["2005.07513"])["2005.07513"].title == (
            "A Distributional View on Multi-Objective Policy Optimization"
        )

    code, out, _ = run(config, "import", "--user", "ada", str(ZOTERO), "--format", "json")
    [row] = json.loads(out)
    assert row["added"] == {"saved": [], "library": []}
    assert len(row["already_present"]["saved"]) == 145
    assert len(row["already_present"]["library"]) == 24
    assert len(row["already_present"]["duplicates"]) == 31
    assert [s["key"] for s in row["skipped"]] == [
        "mehtaUnifiedLearningDemonstrations",
        "Tutorial17Transformers",
    ]
    code, out, _ = run(config, "list")
    assert "Library (imported from BibTeX, no arXiv id) (24):" in out
    assert "Just Ask for Generalization" in out


def test_import_skips_disliked_papers(config: Path, tmp_path: Path) -> None:
    run(config, "dislike", "2401.01234")
    bib = tmp_path / "mine.bib"
    bib.write_text(
        "@misc{a, title={A}, abstract={x}, eprint={2401.01234}, archivePrefix={arXiv}}\n"
        "@misc{b, title={B}, abstract={y}, eprint={2401.01235}, archivePrefix={arXiv}}\n",
        encoding="utf-8",
    )
    code, out, _ = run(config, "import", str(bib))
    assert code == 0, out
    assert "line 1 (a): 2401.01234 is in your disliked papers" in out
    user = load_config(config).users[0]
    assert "2401.01235" in user.saved and "2401.01234" not in user.saved


def test_bad_input_exits_2(config: Path, tmp_path: Path) -> None:
    code, _, err = run(config, "add", "--user", "ada", "abc")
    assert code == 2 and "not an arXiv id: 'abc'" in err
    code, _, err = run(config, "add", "--user", "eve", "2401.01234")
    assert code == 2 and "no user named 'eve'" in err
    code, _, err = run(config, "add")
    assert code == 2 and "nothing to add" in err
    code, _, err = run(config, "add", "--keyword", "  ")
    assert code == 2 and "an empty value cannot be added to keywords" in err
    code, _, err = run(tmp_path / "missing.toml", "list")
    assert code == 2 and "paperboy init" in err
    code, _, err = run(config, "import", str(tmp_path / "missing.bib"))
    assert code == 2


def test_an_invalid_config_is_not_edited(config: Path) -> None:
    broken = config.read_text(encoding="utf-8").replace("max_papers = 10", "max_paper = 10")
    config.write_text(broken, encoding="utf-8")
    code, _, err = run(config, "add", "2401.01234")
    assert code == 2
    assert "unknown key 'max_paper'" in err and "did you mean 'max_papers'?" in err
    assert config.read_text(encoding="utf-8") == broken


def test_which_user_when_there_are_two(config: Path) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text + '\n[[users]]\nname = "bob"\nemail = "bob@example.org"\n', "utf-8")
    code, _, err = run(config, "add", "2401.01234")
    assert code == 2 and "give --user NAME (configured: ada, bob)" in err
    code, out, _ = run(config, "add", "--user", "bob", "2401.01234")
    assert code == 0, out
    assert config.read_text(encoding="utf-8").endswith(
        'name = "bob"\nemail = "bob@example.org"\nsaved = ["2401.01234"]\n'
    )


def test_a_concurrent_hand_edit_is_refused(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hand = config.read_text(encoding="utf-8").replace("max_papers = 10 ", "max_papers = 20 ")

    def racing_write(snapshot: ConfigSnapshot, text: str, **_: Callable[[], None]) -> bool:
        return write_config(
            snapshot, text, _before_replace=lambda: config.write_text(hand, encoding="utf-8")
        )

    monkeypatch.setattr(jobs.config.lists, "write_config", racing_write)
    code, _, err = run(config, "add", "2401.01234")
    assert code == 1
    assert "was changed by someone else" in err and "nothing was written" in err
    assert config.read_text(encoding="utf-8") == hand


def test_secrets_are_never_written(config: Path) -> None:
    """A file with a password in it is refused before any edit, so the CLI never writes one."""
    text = config.read_text(encoding="utf-8") + (
        '\n[email.smtp]\nhost = "smtp.example.org"\npassword = "hunter2"\n'
    )
    config.write_text(text, encoding="utf-8")
    code, _, err = run(config, "add", "2401.01234")
    assert code == 2 and "secrets never live in config.toml" in err and "hunter2" not in err
    assert config.read_text(encoding="utf-8") == text
