"""A new user's first hour (issue 12): no tracebacks, no silent success, honest output.

Tests run as root, for whom permission bits do not stop a write: an "unwritable" folder is
one under a regular file (`file/sub`), which fails for everyone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperboy.jobs.cli import cli
from paperboy.jobs.entry import command_of

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, result.stdout, result.stderr


def _blocked(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("a regular file\n")
    return tmp_path / "file" / "sub"


def _starter(tmp_path: Path) -> Path:
    code, _, _ = run("init", str(tmp_path / "pb"))
    assert code == 0
    return tmp_path / "pb" / "config.toml"


def test_init_into_an_unwritable_folder_says_so(tmp_path: Path) -> None:
    code, out, err = run("init", str(_blocked(tmp_path)))
    assert code == 1
    assert "cannot write" in err and "file/sub" in err and "Traceback" not in err + out
    assert "Wrote" not in out


def test_demo_into_an_unwritable_folder_says_so(tmp_path: Path) -> None:
    code, out, err = run("demo", "--dir", str(_blocked(tmp_path)))
    assert code == 1
    assert "cannot write the demo" in err and "Traceback" not in err + out


def test_preview_into_an_unwritable_folder_fails_before_anything(tmp_path: Path) -> None:
    config = _starter(tmp_path)
    preview = _blocked(tmp_path) / "x.html"
    code, out, err = run(
        "--config", str(config), "digest", "--dry-run", "--force", "--preview", str(preview)
    )
    assert code == 1
    assert "--preview" in err and "cannot write" in err
    assert "Preview:" not in out and "Traceback" not in out + err


def test_no_preview_claimed_when_nothing_was_built(tmp_path: Path) -> None:
    config = _starter(tmp_path)
    preview = tmp_path / "out" / "x.html"
    code, out, _ = run(
        "--config", str(config), "digest", "--dry-run", "--force", "--preview", str(preview)
    )
    assert code == 0
    assert not preview.exists()
    assert "Preview:" not in out and "No preview written" in out


def _jsonl(path: Path, *records: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


CANDIDATES = [
    {"id": "2401.00001", "title": "Bandits for recommendation", "abstract": "Contextual bandits."},
    {"id": "2401.00002", "title": "Protein folding", "abstract": "Structure prediction."},
]


def test_rank_with_an_empty_saved_file_exits_2(tmp_path: Path) -> None:
    saved = _jsonl(tmp_path / "saved.jsonl")
    candidates = _jsonl(tmp_path / "c.jsonl", *CANDIDATES)
    code, out, err = run("rank", "--saved", str(saved), "--candidates", str(candidates))
    assert code == 2
    assert "nothing to rank against" in err and out == ""


def test_rank_with_saved_records_without_text_exits_2(tmp_path: Path) -> None:
    saved = _jsonl(tmp_path / "saved.jsonl", {"id": "2401.09999"}, {"id": "2401.09998"})
    candidates = _jsonl(tmp_path / "c.jsonl", *CANDIDATES)
    code, _, err = run("rank", "--saved", str(saved), "--candidates", str(candidates))
    assert code == 2
    assert "skipped 2 of 2" in err and "nothing to rank against" in err


def test_rank_skips_and_counts_unusable_records(tmp_path: Path) -> None:
    saved = _jsonl(
        tmp_path / "saved.jsonl",
        {"id": "2401.09999"},
        {"id": "2401.09997", "title": "Bandit algorithms", "abstract": "Regret of bandits."},
    )
    candidates = _jsonl(tmp_path / "c.jsonl", *CANDIDATES, {"id": "2401.00003"})
    code, out, err = run(
        "rank", "--saved", str(saved), "--candidates", str(candidates), "--format", "jsonl"
    )
    assert code == 0
    assert "saved.jsonl: skipped 1 of 2" in err and "c.jsonl: skipped 1 of 3" in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["2401.00001", "2401.00002"]


def test_local_mta_addresses_are_accepted(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[email]\nfrom = "Paperboy <paperboy@localhost>"\n'
        'unsubscribe = "mailto:paperboy@localhost"\nreply_to = "paperboy@localhost"\n'
        '[[users]]\nname = "ada"\nemail = "reader@localhost"\n'
    )
    code, _, err = run("--config", str(config), "profile", "list")
    assert code == 0, err
    assert "not an e-mail address" not in err


def test_garbage_addresses_are_refused_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[email]\nreply_to = "nobody"\n[[users]]\nname = "ada"\nemail = ["ada@", "x y@z"]\n'
    )
    code, _, err = run("--config", str(config), "status")
    assert code == 2
    assert f"{config}:5" in err and "'ada@' is not an e-mail address" in err
    assert "'x y@z' is not an e-mail address" in err
    assert f"{config}:2" in err and "'nobody' is not an e-mail address" in err


def test_toml_broken_at_its_end_names_the_file_and_a_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[users]]\nname = "ada"\nsaved = [\n  "2401.00001",\n  "2401.00002",\n')
    code, _, err = run("--config", str(config), "status")
    assert code == 2
    assert f"{config}:3:" in err and "at end of document" in err
    assert "the array opened on line 3 is never closed" in err
    config.write_text('[[users]]\nname = "ada"\nemail = ')
    code, _, err = run("--config", str(config), "status")
    assert code == 2 and f"{config}:3:" in err
    config.write_text('[[users]]\nname = """ada\n\n')
    code, _, err = run("--config", str(config), "profile", "list")
    assert code == 2 and f"{config}:2:" in err and "string opened on line 2" in err


@pytest.mark.parametrize("delay", [0.3, 0.7, 1.2])
def test_sigterm_while_run_starts_exits_0(tmp_path: Path, delay: float) -> None:
    """`paperboy run` stopped by a service manager during its first seconds (imports,
    database, lock) ends with status 0, as it does once running."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[paperboy]\ndatabase = "sqlite:///{tmp_path}/pb.db"\n'
        '[email]\ntransport = "outbox"\n'
        '[[users]]\nname = "ada"\nemail = "ada@localhost"\n'
    )
    script = "import sys; from paperboy.jobs.entry import main; sys.argv[0] = 'paperboy'; main()"
    env = dict(os.environ)
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--config", str(config), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_the_command_is_found_past_the_group_options() -> None:
    assert command_of(["--config", "run", "status"]) == "status"
    assert command_of(["-v", "--log-format", "json", "run"]) == "run"
    assert command_of(["--help"]) is None


def test_status_json_is_one_object(tmp_path: Path) -> None:
    config = _starter(tmp_path)
    _, out, _ = run("--config", str(config), "status", "--format", "json")
    status = json.loads(out)
    assert isinstance(status, dict)
    assert {"papers", "next_fetch", "index", "sources", "users"} <= set(status)
    _, out, _ = run("--config", str(config), "status", "--format", "jsonl")
    assert len(out.splitlines()) == 1 and json.loads(out)["users"][0]["user"] == "ada"


def test_eval_help_cites_only_documents_in_the_repository() -> None:
    code, out, _ = run("eval", "--help")
    assert code == 0
    cited = re.findall(r"[\w./-]+\.md\b", out)
    assert cited
    for name in cited:
        assert (ROOT / name).is_file(), name


SAVED_BIB = """@article{think,
  title = {Learning When to Think},
  abstract = {Adaptive reasoning via multi-stage reinforcement learning.},
  eprint = {2505.10832},
  archivePrefix = {arXiv},
  author = {Doe, Jane},
}
"""


def test_fetch_from_file_takes_the_paper_files_rank_reads(tmp_path: Path) -> None:
    config = _starter(tmp_path)
    saved = _jsonl(
        tmp_path / "saved.jsonl",
        {"id": "2505.17540", "title": "RePrompt", "abstract": "Reasoning-augmented reprompting."},
        {"id": "2506.01710"},
    )
    bib = tmp_path / "library.bib"
    bib.write_text(SAVED_BIB)
    code, out, err = run(
        "--config", str(config), "fetch", "--from-file", str(saved), "--from-file", str(bib)
    )
    assert code == 0, err
    assert "file:saved.jsonl: 2 received, 1 kept (1 new" in out
    assert "skipped 1 without title or abstract" in out
    assert "file:library.bib: 1 received, 1 kept (1 new" in out
    code, out, _ = run("--config", str(config), "status")
    assert "file:saved.jsonl: ingested" in out and f"1 items from {saved}" in out
    assert f"from {bib}" in out
    # Stored as looked-up papers: text for the saved ids, never mailed as new.
    code, out, _ = run("--config", str(config), "digest", "--dry-run", "--force")
    assert code == 0 and "RePrompt" not in out


SAMPLE = ROOT / "jobs" / "data" / "sample"


def test_keywords_only_digest_says_so_and_does_not_pad(tmp_path: Path) -> None:
    """A fresh config: saved ids without text, two keywords. The digest says it ranked on
    keywords, its footer claims no saved papers, and no 3-7% paper fills it up."""
    config = _starter(tmp_path)
    day = sorted(SAMPLE.glob("arxiv-*"))[0]
    code, _, err = run("--config", str(config), "fetch", "--from-file", str(day))
    assert code == 0, err
    code, out, _ = run(
        "--config", str(config), "digest", "--dry-run", "--force", "--format", "json"
    )
    [row] = json.loads(out)
    assert "keywords and authors only" in row["note"]
    scores = [p["score"] for p in row["papers"]]
    floor = min(0.10, max(scores) / 4)
    assert scores and (all(s >= floor for s in scores) or len(scores) <= 3), scores
    code, out, _ = run("--config", str(config), "digest", "--dry-run", "--force")
    assert "Ranked on your keywords and authors only" in out


def test_pick_never_pads_with_weak_matches() -> None:
    from datetime import time as clock

    from paperboy.jobs.config.model import UserConfig
    from paperboy.jobs.ranking.pick import WEAK_SHOWN, basis_note
    from paperboy.jobs.ranking.pick import pick as choose
    from paperboy.recommender import Paper, Profile, Ranked

    user = UserConfig(
        name="ada", email=("ada@localhost",), send_at=clock(7, 30), max_papers=10, min_score=0.0
    )

    def pick(ranked: list[Ranked], user: UserConfig) -> list[Ranked]:
        return choose(ranked, min_score=user.min_score, max_papers=user.max_papers)

    def ranked(*scores: float) -> list[Ranked]:
        return [
            Ranked(Paper(id=f"p{i}", title="t", abstract="a"), s, "") for i, s in enumerate(scores)
        ]

    assert [r.score for r in pick(ranked(0.6, 0.5, 0.07, 0.05, 0.03), user)] == [0.6, 0.5]
    assert [r.score for r in pick(ranked(0.2, 0.12, 0.06, 0.04), user)] == [0.2, 0.12, 0.06]
    assert [r.score for r in pick(ranked(0.9, 0.15, 0.11, 0.09), user)] == [0.9, 0.15, 0.11]
    weak = pick(ranked(*[0.07 - i / 1000 for i in range(20)]), user)
    assert len(weak) == WEAK_SHOWN
    mine = Profile(saved=(Paper(id="s", title="s", abstract="s"),))
    assert basis_note(mine, weak).startswith("Weak matches only")
    assert "keywords and authors only" in basis_note(Profile(saved=(), keywords=("x",)), weak)
    assert basis_note(Profile(saved=()), []).startswith("Nothing to rank against yet")
    assert basis_note(mine, ranked(0.5)) == ""


def test_a_failed_send_says_when_it_is_retried(tmp_path: Path) -> None:
    from tests.smtp_server import LocalSMTPServer

    config = _starter(tmp_path)
    day = sorted(SAMPLE.glob("arxiv-*"))[0]
    assert run("--config", str(config), "fetch", "--from-file", str(day))[0] == 0
    with LocalSMTPServer(reply="451 4.3.0 try again later") as busy:
        text = config.read_text().replace('transport = "outbox"', 'transport = "smtp"', 1)
        text = text.replace(
            "\n[[users]]\n",
            f'\n[email.smtp]\nhost = "127.0.0.1"\nport = {busy.port}\nsecurity = "none"\n'
            "\n[[users]]\n",
            1,
        )
        config.write_text(text)
        code, out, _ = run("--config", str(config), "digest", "--force")
        assert code == 1
        assert "sending failed (" in out and "451" in out
        assert re.search(r"retried at \S+ \S+ UTC \(in [45] min\)", out) and "next run" not in out
        code, out, _ = run("--config", str(config), "digest", "--format", "json")
        [row] = json.loads(out)
        assert row["status"] == "not-due" and row["next_retry"]
        code, out, _ = run("--config", str(config), "digest")
        assert "not due yet; a pending digest: the digest stays pending and is retried at" in out


def test_demo_shows_trending_and_the_unsubscribe_footer(tmp_path: Path) -> None:
    code, out, _ = run("demo", "--dir", str(tmp_path / "demo"))
    assert code == 0
    assert "Trending on Hugging Face: 30 papers of a bundled real Hugging Face day" in out
    eml = next((tmp_path / "demo" / "outbox").glob("*.eml"))
    message = eml.read_bytes()
    assert b"List-Unsubscribe: <mailto:paperboy@example.org?subject=unsubscribe>" in message
    html = eml.with_suffix(".html").read_text()
    assert "Trending on Hugging Face" in html and "unsubscribe" in html.lower()


def test_a_digest_does_not_read_again_the_papers_it_ranked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperboy.jobs.storage import Storage

    config = _starter(tmp_path)
    day = sorted(SAMPLE.glob("arxiv-*"))[0]
    assert run("--config", str(config), "fetch", "--from-file", str(day))[0] == 0
    asked: list[str] = []  # ids asked for while building the digest from the ranking
    original = Storage.get_papers

    def counting(self: Storage, ids: list[str]) -> object:
        callers = {sys._getframe(n).f_code.co_name for n in range(1, 4)}
        if callers & {"build_digest", "trending_items"}:
            asked.extend(ids)
        return original(self, ids)

    monkeypatch.setattr(Storage, "get_papers", counting)
    _, out, _ = run("--config", str(config), "digest", "--dry-run", "--force", "--format", "json")
    [row] = json.loads(out)
    picked = {p["id"] for p in row["papers"]}
    assert picked and not picked & set(asked)


def test_every_file_is_labelled_alike(tmp_path: Path) -> None:
    config = _starter(tmp_path)
    day = sorted(SAMPLE.glob("arxiv-*"))[0]
    hf = sorted(SAMPLE.glob("hf-daily-papers-*"))[0]
    code, out, err = run(
        "--config", str(config), "fetch", "--from-file", str(day), "--from-file", str(hf)
    )
    assert code == 0, err
    labels = [line.split(":", 2)[:2] for line in out.splitlines()]
    assert labels == [["file", day.name], ["file", hf.name]]
