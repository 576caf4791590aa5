"""jobs.ranking.pick for a user with collections (issue #23): each paper goes to the
collection whose model scores it highest, each section picks from its own papers up to
its own max_papers, and a named collection's reasons say so. Pure: no database."""

from __future__ import annotations

from paperboy.jobs.ranking.pick import (
    best_collection,
    best_scores,
    collection_reason,
    pick,
    pick_sections,
)
from paperboy.recommender import Paper, Ranked


def paper(pid: str) -> Paper:
    return Paper(id=pid, title=f"title {pid}", abstract="a")


def ranking(scores: dict[str, float], why: str = "close to your papers") -> list[Ranked]:
    """A ranking as the ranker returns it: best first."""
    ordered = sorted(scores.items(), key=lambda kv: -kv[1])
    return [Ranked(paper(pid), s, why) for pid, s in ordered]


def ids(picked: list[Ranked]) -> list[str]:
    return [r.paper.id for r in picked]


def test_a_paper_lives_in_the_collection_that_scores_it_highest() -> None:
    default = ranking({"a": 0.9, "b": 0.2, "c": 0.5})
    rl = ranking({"a": 0.3, "b": 0.8, "c": 0.5})
    vision = ranking({"a": 0.1, "b": 0.7, "c": 0.6})
    assert best_collection([("", default), ("rl", rl), ("vision", vision)]) == {
        "a": "",
        "b": "rl",
        "c": "vision",
    }


def test_a_tie_goes_to_the_collection_listed_first() -> None:
    assert best_collection([("", ranking({"a": 0.5})), ("rl", ranking({"a": 0.5}))]) == {"a": ""}
    assert best_collection([("rl", ranking({"a": 0.5})), ("", ranking({"a": 0.5}))]) == {"a": "rl"}


def test_each_paper_is_shown_once_in_its_best_section_with_its_own_limit() -> None:
    scores_default = {f"d{i}": 0.9 - i / 100 for i in range(6)} | {"x": 0.4, "y": 0.3}
    scores_rl = {f"d{i}": 0.2 for i in range(6)} | {"x": 0.8, "y": 0.7}
    sections = pick_sections(
        [("", ranking(scores_default)), ("rl", ranking(scores_rl, "like KnowRL"))],
        min_score=0.0,
        max_papers={"": 4, "rl": 5},
    )
    assert [name for name, _ in sections] == ["", "rl"]
    (_, default), (_, rl) = sections
    assert ids(default) == ["d0", "d1", "d2", "d3"]  # its own limit, its own order
    assert ids(rl) == ["x", "y"]  # only the papers whose home it is
    assert [r.score for r in rl] == [0.8, 0.7]  # the score of the collection shown in
    shown = ids(default) + ids(rl)
    assert len(shown) == len(set(shown))
    assert all(r.why == "for your collection rl: like KnowRL" for r in rl)
    assert all(r.why == "close to your papers" for r in default)  # the default: unnamed


def test_a_paper_not_picked_in_its_home_does_not_fall_to_another_section() -> None:
    """Its best collection is where it is judged: beyond that section's limit it waits."""
    sections = pick_sections(
        [("", ranking({"a": 0.9, "b": 0.8})), ("rl", ranking({"a": 0.5, "b": 0.6}))],
        min_score=0.0,
        max_papers={"": 1, "rl": 5},
    )
    assert [(name, ids(p)) for name, p in sections] == [("", ["a"]), ("rl", [])]


def test_one_ranking_is_exactly_todays_pick() -> None:
    only = ranking({"a": 0.9, "b": 0.05, "c": 0.5, "d": 0.3})
    [(name, picked)] = pick_sections([("", only)], min_score=0.2, max_papers={"": 2})
    assert name == "" and picked == pick(only, min_score=0.2, max_papers=2)
    [(name, picked)] = pick_sections([("rl", only)], min_score=0.0, max_papers={"rl": 9})
    assert picked == pick(only, min_score=0.0, max_papers=9)  # reasons untouched too


def test_the_thresholds_apply_within_each_section() -> None:
    sections = pick_sections(
        [("", ranking({"a": 0.9, "b": 0.1})), ("rl", ranking({"a": 0.2, "b": 0.15}))],
        min_score=0.12,
        max_papers={"": 5, "rl": 5},
    )
    assert [(name, ids(p)) for name, p in sections] == [("", ["a"]), ("rl", ["b"])]


def test_best_scores_and_the_reason_wording() -> None:
    merged = best_scores([("", ranking({"a": 0.2, "b": 0.9})), ("rl", ranking({"a": 0.7}))])
    assert [(r.paper.id, r.score) for r in merged] == [("b", 0.9), ("a", 0.7)]
    assert collection_reason("rl", "") == "for your collection rl"


def test_the_collection_is_read_back_from_the_reason() -> None:
    from paperboy.jobs.ranking.pick import collection_of_reason

    assert collection_of_reason(collection_reason("rl-reasoning", "like KnowRL")) == "rl-reasoning"
    assert collection_of_reason(collection_reason("v2.0", "")) == "v2.0"
    assert collection_of_reason("Close to 3 papers you saved") is None
    assert collection_of_reason("for your collection of odd words: x") is None
