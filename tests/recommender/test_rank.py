"""paperboy.recommender.rank: ordering, exclusions, profile hints, edge cases, determinism.

The corpus is hand-written for these tests (tests/recommender/corpus.py): four distinct
topics of ten papers each, plus two cs.CR papers that borrow words from two topics.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from paperboy.recommender import Paper, Profile, Ranked, rank
from paperboy.recommender.ranker import NO_PROFILE, NOT_EXPLAINED
from tests.recommender.corpus import ALL, ASTRO, BANDIT, NLP, PROT


def ids(ranked: Sequence[Ranked]) -> list[str]:
    return [r.paper.id for r in ranked]


def assert_well_formed(ranked: Sequence[Ranked]) -> None:
    scores = [r.score for r in ranked]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert all(r.why for r in ranked)


@pytest.mark.parametrize(
    "topic", [NLP, BANDIT, PROT, ASTRO], ids=["nlp", "bandit", "prot", "astro"]
)
@pytest.mark.parametrize("with_background", [True, False])
def test_topical_papers_rank_above_off_topic(topic: list[Paper], with_background: bool) -> None:
    saved = tuple(topic[:3])
    ranked = rank(Profile(saved=saved), ALL, ALL if with_background else [])
    assert_well_formed(ranked)
    on_topic = {p.id for p in topic[3:]}
    order = ids(ranked)
    assert order[0] in on_topic
    assert sum(i in on_topic for i in order[:5]) >= 4
    positions = [i for i, pid in enumerate(order) if pid in on_topic]
    others = [i for i, pid in enumerate(order) if pid not in on_topic]
    assert sum(positions) / len(positions) < sum(others) / len(others) / 2


def test_saved_papers_are_never_recommended_and_nothing_else_is_dropped() -> None:
    saved = (NLP[0], BANDIT[0])
    ranked = rank(Profile(saved=saved), ALL, ALL)
    assert sorted(ids(ranked)) == sorted(p.id for p in ALL if p not in saved)


def test_duplicate_candidates_each_come_back() -> None:
    ranked = rank(Profile(saved=(NLP[0],)), [NLP[1], NLP[1], ASTRO[0]], ALL)
    assert sorted(ids(ranked)) == ["astro-00", "nlp-01", "nlp-01"]


def test_saved_paper_in_background_is_not_a_negative() -> None:
    # With the saved papers excluded from negatives, a near-copy of one ranks first.
    copy = Paper(id="copy", title=NLP[0].title, abstract=NLP[0].abstract)
    ranked = rank(Profile(saved=tuple(NLP[:2])), [copy, *ASTRO, *BANDIT], ALL)
    assert ranked[0].paper.id == "copy"
    assert ranked[0].closest == (NLP[0].id,)


def test_keywords_only_profile_ranks_keyword_papers_first() -> None:
    ranked = rank(Profile(saved=(), keywords=("bandits", "Regret")), ALL, ALL)
    assert_well_formed(ranked)
    bandits = {p.id for p in BANDIT}
    assert set(ids(ranked)[: len(bandits)]) == bandits
    assert all(r.score > 0.5 for r in ranked[: len(bandits)])
    assert "keyword: bandits, Regret" in ranked[0].why
    assert ranked[-1].why == "no keyword match"


def test_keywords_only_ranking_is_graded_not_all_zero() -> None:
    # No candidate contains the phrase itself, but its words still order the papers.
    ranked = rank(Profile(saved=(), keywords=("protein folding stability",)), ALL, ALL)
    assert ranked[0].paper.id == "prot-03"
    assert ranked[0].score > 0
    assert ranked[0].terms
    assert any(r.paper.id.startswith("prot") for r in ranked[1:4])


def test_keyword_boost_lifts_a_matching_paper_with_saved_papers() -> None:
    plain = rank(Profile(saved=tuple(NLP[:3])), ALL, ALL)
    boosted = rank(Profile(saved=tuple(NLP[:3]), keywords=("magnetar",)), ALL, ALL)
    before = next(r for r in plain if r.paper.id == "astro-08")
    after = next(r for r in boosted if r.paper.id == "astro-08")
    # One keyword closes half the gap to 1.
    assert after.score == pytest.approx(before.score + 0.5 * (1 - before.score))
    assert "keyword: magnetar" in after.why
    assert ids(boosted)[0] == "astro-08"


def test_keyword_matches_whole_words_only() -> None:
    ranked = rank(Profile(saved=(), keywords=("band",)), ALL, ALL)
    assert all(r.score == 0 for r in ranked)  # "bandit" does not contain the word "band"


def test_followed_author_is_boosted_with_a_reason() -> None:
    by_ada = Paper(
        id="ada-1",
        title="Galaxy Rotation Curves Revisited",
        abstract="Rotation curves of spiral galaxies.",
        authors=("Grace Hopper", "José Ñúñez García"),
    )
    profile = Profile(saved=tuple(NLP[:3]), authors=("jose nunez   GARCIA",))
    ranked = rank(profile, [*ALL, by_ada], ALL)
    assert ranked[0].paper.id == "ada-1"
    assert ranked[0].score >= 0.99
    assert ranked[0].why.startswith("by José Ñúñez García (followed)")
    # A partial name is not a full-name match.
    partial = rank(Profile(saved=tuple(NLP[:3]), authors=("García",)), [*ALL, by_ada], ALL)
    assert ids(partial)[0] != "ada-1"


@pytest.mark.parametrize("muted", ["cs.CR", "CS.cr", "side-channel"])
def test_muted_term_or_category_pushes_down(muted: str) -> None:
    profile = Profile(saved=tuple(NLP[:3]))
    before = rank(profile, ALL, ALL)
    after = rank(Profile(saved=profile.saved, muted=(muted,)), ALL, ALL)
    assert_well_formed(after)
    old = next(r for r in before if r.paper.id == "sec-00")
    new = next(r for r in after if r.paper.id == "sec-00")
    assert ids(before).index("sec-00") < 10
    assert new.score == pytest.approx(old.score * 0.1)
    assert ids(after)[-1] == "sec-00" or ids(after)[-2] == "sec-00"
    assert f"muted: {muted}" in new.why


def test_muted_beats_followed_author() -> None:
    paper = Paper(id="x", title="Blockchain consensus", authors=("Ada Lovelace",))
    profile = Profile(saved=tuple(NLP[:3]), authors=("Ada Lovelace",), muted=("blockchain",))
    ranked = rank(profile, [paper, *NLP[3:]], ALL)
    muted = next(r for r in ranked if r.paper.id == "x")
    assert muted.score == pytest.approx(0.99 * 0.1)
    assert ids(ranked)[0] != "x"
    assert "(followed)" in muted.why and "muted: blockchain" in muted.why


def test_latex_and_accents_match_plain_text() -> None:
    saved = Paper(id="s", title="Kernel methods of Schölkopf", abstract="Café kernel machines.")
    latex = Paper(id="latex", title=r"Sch\"olkopf kernels", abstract=r"Caf\'e \emph{kernel}")
    ranked = rank(Profile(saved=(saved,), keywords=("schölkopf",)), [latex, *ASTRO], ALL)
    assert ranked[0].paper.id == "latex"
    assert "keyword: schölkopf" in ranked[0].why
    assert "kernel" in ranked[0].terms


def test_empty_candidates() -> None:
    assert rank(Profile(saved=tuple(NLP[:3])), [], ALL) == []
    assert rank(Profile(saved=()), [], []) == []


def test_all_candidates_saved() -> None:
    assert rank(Profile(saved=tuple(NLP)), NLP, ALL) == []


def test_no_saved_papers_or_keywords() -> None:
    shuffled = random.Random(1).sample(ALL, len(ALL))
    ranked = rank(Profile(saved=()), shuffled, ALL)
    assert len(ranked) == len(ALL)
    assert all(r.score == 0.0 and r.why == NO_PROFILE for r in ranked)
    assert ids(ranked) == sorted(p.id for p in ALL)  # ties broken by id


def test_empty_background_uses_candidates_as_negatives() -> None:
    ranked = rank(Profile(saved=tuple(BANDIT[:3])), BANDIT[3:] + ASTRO, [])
    assert set(ids(ranked)[:7]) == {p.id for p in BANDIT[3:]}


def test_texts_without_words_do_not_crash() -> None:
    empty = [Paper(id=f"e{i}", title="", abstract="the of") for i in range(3)]
    ranked = rank(Profile(saved=(Paper(id="s", title="and"),)), empty, [])
    assert ids(ranked) == ["e0", "e1", "e2"]
    assert all(r.score == 0.0 for r in ranked)


def test_saved_papers_with_no_known_words_still_rank_everything() -> None:
    saved = (Paper(id="s", title="zzyzx qwerty"),)
    ranked = rank(Profile(saved=saved), ALL, ALL)
    assert_well_formed(ranked)
    assert len(ranked) == len(ALL)


def test_deterministic() -> None:
    profile = Profile(saved=tuple(PROT[:4]), keywords=("protein",), muted=("cs.CR",))
    first = rank(profile, ALL, ALL)
    assert rank(profile, ALL, ALL) == first
    shuffled = random.Random(7).sample(ALL, len(ALL))
    assert ids(rank(profile, shuffled, shuffled)) == ids(first)


@pytest.mark.parametrize(
    "kwargs",
    [{"keyword_boost": 1.5}, {"muted_factor": -0.1}, {"followed_score": 2.0}, {"C": 0.0}],
)
def test_invalid_parameters_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        rank(Profile(saved=(NLP[0],)), ALL, ALL, **kwargs)


FORBIDDEN = {
    "socket",
    "urllib",
    "http",
    "httpx",
    "sqlalchemy",
    "sqlite3",
}


def test_recommender_imports_nothing_impure() -> None:
    package = Path(__file__).resolve().parents[2] / "recommender"
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{source.name} imports {name}"
                assert not name.startswith(("paperboy.jobs", "paperboy.emails")), source.name
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", f"{source.name} opens a file"


def test_explain_limits_the_terms_to_the_top_without_changing_the_order() -> None:
    profile = Profile(saved=tuple(NLP[:4]))
    candidates = [p for p in ALL if p not in NLP[:4]]
    full = rank(profile, candidates, [])
    short = rank(profile, candidates, [], explain=3)
    assert ids(short) == ids(full)
    assert [r.score for r in short] == [r.score for r in full]
    assert [r.terms for r in short[:3]] == [r.terms for r in full[:3]]
    assert all(r.terms for r in short[:3])
    assert all(r.terms == () for r in short[3:])
    assert [r.why for r in short[:3]] == [r.why for r in full[:3]]
    assert [r.closest for r in short[:3]] == [r.closest for r in full[:3]]
    assert all(r.why == NOT_EXPLAINED and r.closest == () for r in short[3:])
    with pytest.raises(ValueError, match="explain"):
        rank(profile, candidates, [], explain=-1)
