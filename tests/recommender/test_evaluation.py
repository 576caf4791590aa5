"""paperboy.recommender.evaluation: the metrics and the two benchmark protocols on tiny data."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from paperboy.recommender import Paper
from paperboy.recommender.evaluation import (
    average_precision,
    evaluate,
    iso_week,
    ndcg_at_k,
    order_scores,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    replay_tasks,
    reports_json,
    reports_table,
    seed_tasks,
)


def test_metrics_by_hand() -> None:
    rel = [False, True, False, True]
    assert ndcg_at_k(rel, 2, k=10) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    )
    assert ndcg_at_k([True, True], 2) == 1.0
    assert ndcg_at_k([False], 0) == 0.0
    assert precision_at_k(rel, k=2) == 0.5
    assert recall_at_k(rel, 4, k=2) == 0.25
    assert recall_at_k(rel, 0, k=2) == 0.0
    assert reciprocal_rank(rel) == 0.5
    assert reciprocal_rank([False]) == 0.0
    assert average_precision(rel, 2) == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_ties_are_broken_at_random_but_reproducibly() -> None:
    scores = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]
    first = order_scores(scores, seed=3)
    assert first[:2] == [6, 0]
    assert order_scores(scores, seed=3) == first
    orders = {tuple(order_scores(scores, seed=s)) for s in range(20)}
    assert len(orders) > 1  # not the input order every time
    with pytest.raises(ValueError):
        order_scores([float("nan")], seed=0)


def test_seed_tasks_follow_the_protocol() -> None:
    lists = {"a": list(range(10)), "b": list(range(8, 20))}
    tasks = seed_tasks(lists, 25, seed=1, repetitions=3, n_saved=4)
    assert len(tasks) == 6
    for t in tasks:
        assert len(t.saved) == 4 and set(t.saved) <= set(lists[t.group])
        assert set(t.candidates) == set(range(25)) - set(t.saved)
        assert t.relevant == set(lists[t.group]) - set(t.saved)
    assert seed_tasks(lists, 25, seed=1, repetitions=3, n_saved=4) == tasks


def _weekly_papers() -> list[Paper]:
    start = date(2025, 3, 3)  # a Monday
    return [
        Paper(id=f"p{w}-{i}", title=f"paper {w} {i}", announced=start + timedelta(days=7 * w + i))
        for w in range(6)
        for i in range(5)
    ]


def test_replay_tasks_follow_the_protocol() -> None:
    papers = _weekly_papers()
    mine = ["p0-0", "p0-1", "p1-0", "p2-3", "p4-1", "p4-2", "unknown"]
    tasks = replay_tasks(papers, {"u": mine}, min_saved=3, background_size=4)
    # Weeks holding the user's papers: 0, 1, 2, 4; only 2 and 4 have >= 3 earlier ones.
    assert [t.label for t in tasks] == ["2025-W12", "2025-W14"]
    pos = {p.id: i for i, p in enumerate(papers)}
    w2, w4 = tasks
    assert set(w2.saved) == {pos["p0-0"], pos["p0-1"], pos["p1-0"]}
    assert set(w2.candidates) == {pos[f"p2-{i}"] for i in range(5)}
    assert w2.relevant == {pos["p2-3"]}
    assert set(w4.saved) == {pos[i] for i in ("p0-0", "p0-1", "p1-0", "p2-3")}
    assert w4.relevant == {pos["p4-1"], pos["p4-2"]}
    for t in tasks:
        week = iso_week(papers[t.candidates[0]].announced or date.min)
        assert len(t.background) == 4
        assert not set(t.background) & set(t.saved)
        assert all(iso_week(papers[i].announced or date.max) < week for i in t.background)
    assert replay_tasks(papers, {"u": mine}, min_saved=3, background_size=4) == tasks
    assert len(replay_tasks(papers, {"u": mine}, min_saved=3, max_weeks=1)) == 1


def test_evaluate_macro_averages_groups_then_lists() -> None:
    papers = _weekly_papers()
    lists = {"a": ["p0-0", "p1-0", "p2-0", "p3-0"], "b": ["p0-1", "p1-1", "p3-4"]}
    tasks = replay_tasks(papers, lists, min_saved=1)

    def oracle(task: object) -> list[float]:
        t = tasks[[id(x) for x in tasks].index(id(task))]
        return [1.0 if c in t.relevant else 0.0 for c in t.candidates]

    report = evaluate(tasks, oracle, "replay")
    assert report.macro() == (1.0, 1.0, 1.0, 1.0)
    assert set(report.per_group()) == {"a", "b"}
    assert "macro" in reports_table({"oracle": report}, "nDCG@10")
    assert reports_json({"oracle": report})["oracle"]["macro"]["MRR"] == 1.0  # type: ignore[index]
    with pytest.raises(ValueError):
        evaluate(tasks, oracle, "other")
