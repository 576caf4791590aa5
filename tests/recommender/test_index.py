"""paperboy.recommender.Index (features built once, stored as arrays) and the newer profile
signals."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from paperboy.recommender import Index, Paper, Profile, Ranked, rank
from paperboy.recommender.baselines import ArxivSanity, Centroid, Paperboy
from paperboy.recommender.evaluation import evaluate, seed_tasks
from paperboy.recommender.index import MEMO_MIN
from tests.recommender.corpus import ALL, ASTRO, BANDIT, NLP, PROT


def ids(ranked: list) -> list[str]:  # type: ignore[type-arg]
    return [r.paper.id for r in ranked]


def test_index_is_picklable_and_ranks_like_a_fresh_one() -> None:
    index = Index.build(ALL)
    assert len(index) == len(ALL)
    restored = pickle.loads(pickle.dumps(index))
    profile = Profile(saved=tuple(PROT[:3]))
    assert rank(profile, ALL, ALL, index=restored) == rank(profile, ALL, ALL, index=index)
    assert ids(rank(profile, ALL, ALL, index=index))[0].startswith("prot")


def round_trip(index: Index) -> Index:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **index.to_arrays())
    with np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False) as arrays:
        return Index.from_arrays({name: arrays[name] for name in arrays.files})


def test_index_as_arrays_transforms_and_ranks_exactly_like_the_fitted_one() -> None:
    index = Index.build(ALL)
    restored = round_trip(index)
    texts = [f"{p.title} {p.abstract}".lower() for p in ALL] + ["protein bandit telescope"]
    old, new = index.featurizer.transform(texts), restored.featurizer.transform(texts)
    assert np.array_equal(old.indices, new.indices) and np.array_equal(old.indptr, new.indptr)
    assert np.array_equal(old.data, new.data) and old.nnz > 0
    profile = Profile(saved=tuple(PROT[:3]))
    assert rank(profile, ALL, ALL, index=restored) == rank(profile, ALL, ALL, index=index)
    empty = round_trip(Index.build([Paper(id="x", title="the", abstract="of and")]))
    assert empty.featurizer.vocabulary == () and empty.features(ALL[:2]).shape == (2, 0)


@pytest.mark.parametrize(
    "damage",
    ["missing", "object", "layout", "index-outside", "duplicate-id", "vocabulary-type", "idf"],
)
def test_arrays_that_do_not_fit_together_are_refused(damage: str) -> None:
    arrays = dict(Index.build(ALL).to_arrays())
    if damage == "missing":
        del arrays["idf"]
    elif damage == "object":
        arrays["ids"] = np.array(["a"], dtype=object)
    elif damage == "layout":
        arrays["layout"] = np.asarray([99])
    elif damage == "index-outside":  # would read outside the matrix in scipy's C++ code
        arrays["matrix_indices"] = arrays["matrix_indices"].copy()
        arrays["matrix_indices"][0] = 10**6
    elif damage == "duplicate-id":
        arrays["ids"] = np.frombuffer(b'["a"' + b', "a"' * (len(ALL) - 1) + b"]", dtype=np.uint8)
    elif damage == "vocabulary-type":
        arrays["vocabulary"] = np.frombuffer(b'{"a": 1}', dtype=np.uint8)
    else:
        arrays["idf"] = arrays["idf"][:-1]
    with pytest.raises(ValueError):
        Index.from_arrays(arrays)


def test_papers_missing_from_the_index_are_featurised_in_its_space() -> None:
    index = Index.build([p for p in ALL if p.id != "nlp-04"])
    new = Paper(id="new", title=NLP[4].title, abstract=NLP[4].abstract)
    X = index.features([ASTRO[0], new, NLP[4]])
    assert (X[1] != X[2]).nnz == 0  # same text, same row, in the index's vocabulary
    ranked = rank(Profile(saved=tuple(NLP[:3])), [new, *ASTRO], ALL, index=index)
    assert ranked[0].paper.id == "new"


def test_disliked_papers_push_similar_ones_down() -> None:
    saved = (*NLP[:2], *BANDIT[:2])
    plain = rank(Profile(saved=saved), ALL, ALL)
    disliked = rank(Profile(saved=saved, disliked=tuple(BANDIT[2:4])), ALL, ALL)

    def mean_bandit_rank(ranked: list) -> float:  # type: ignore[type-arg]
        order = ids(ranked)
        return sum(order.index(p.id) for p in BANDIT[4:]) / len(BANDIT[4:])

    assert mean_bandit_rank(disliked) > mean_bandit_rank(plain)


def test_diversity_is_off_by_default_and_replaces_near_duplicates() -> None:
    profile = Profile(saved=tuple(NLP[:3]))
    plain = rank(profile, ALL, ALL)
    assert rank(profile, ALL, ALL, diversity=0.0) == plain
    diverse = rank(profile, ALL, ALL, diversity=0.9, diversity_top=5)
    assert ids(diverse)[0] == ids(plain)[0]  # the best paper always comes first
    assert set(ids(diverse[:5])) <= set(ids(plain[:15]))  # picked from the best 3 x 5
    assert sorted(ids(diverse)) == sorted(ids(plain))  # nothing lost, only reordered
    assert ids(diverse[15:]) == ids(plain[15:])
    index = Index.build(ALL)

    def redundancy(ranked: list[Ranked]) -> float:
        X = index.features([r.paper for r in ranked[:5]])
        sims = (X @ X.T).toarray()
        return float(sims.sum() - sims.trace()) / 20

    assert redundancy(diverse) < redundancy(plain)
    with pytest.raises(ValueError):
        rank(profile, ALL, ALL, diversity=1.5)


def test_baselines_run_on_the_seed_protocol() -> None:
    lists = {"nlp": list(range(10)), "bandit": list(range(10, 20))}
    tasks = seed_tasks(lists, len(ALL), repetitions=2, n_saved=3)
    for method in (Centroid(ALL), ArxivSanity(ALL, min_df=1), Paperboy(ALL)):
        report = evaluate(tasks, method, "seed")
        assert report.macro()[0] > 0.5  # far above random on four separate topics


def test_large_requests_are_served_from_memory_and_not_pickled() -> None:
    many = [
        Paper(
            id=f"p{i}", title=f"{ALL[i % len(ALL)].title} {i}", abstract=ALL[i % len(ALL)].abstract
        )
        for i in range(MEMO_MIN + 100)
    ]
    index = Index.build(many)
    size = len(pickle.dumps(index))
    first = index.features(many)
    again = index.features(list(many))  # another list with the same papers
    assert again is first
    assert len(pickle.dumps(index)) == size  # the memo is not part of the stored index
    assert pickle.loads(pickle.dumps(index)).features(many).shape == first.shape
    # A request with a paper the index does not hold is computed from its text each time.
    unknown = [*many[:-1], Paper(id="new", title="A new paper on attention", abstract="")]
    assert index.features(unknown) is not index.features(unknown)
    small = many[:10]
    assert index.features(small) is not index.features(small)


def test_terms_in_many_papers_are_never_named_once_the_corpus_can_tell() -> None:
    # 1,200 papers that all say "framework", a few of which are about graph kernels.
    many = [
        Paper(id=f"p{i}", title=f"A framework for topic {i}", abstract=f"framework number {i}")
        for i in range(1200)
    ]
    kernels = [
        Paper(id=f"k{i}", title=f"Graph kernels framework {i}", abstract="graph kernels framework")
        for i in range(6)
    ]
    index = Index.build([*many, *kernels])
    assert index.doc_freq[index.featurizer.vocabulary.index("framework")] > 0.9
    ranked = rank(Profile(saved=tuple(kernels[:3])), kernels[3:], many[:300], index=index)
    assert "graph" in " ".join(ranked[0].terms) or "kernels" in " ".join(ranked[0].terms)
    assert all("framework" not in r.terms for r in ranked)
    assert not Index.build(ALL).doc_freq.any()  # a small corpus: no such rule


def test_texts_given_to_build_are_used_in_place_of_normalising() -> None:
    # A caller that kept papers' normalised texts (the one-off cache) hands them in; the
    # index is then exactly the one built from the papers themselves.
    from paperboy.recommender.text import paper_text

    papers = list(ALL)
    plain = Index.build(papers)
    given = Index.build(papers, texts={p.id: paper_text(p) for p in papers[::2]})
    assert given.featurizer.vocabulary == plain.featurizer.vocabulary
    assert (given.matrix != plain.matrix).nnz == 0
    # ... and what it is given is what it reads: a text no paper has brings its words.
    odd = Index.build(papers, texts={papers[0].id: "zymurgy zymurgy fermentation"})
    assert "zymurgy" in odd.featurizer.vocabulary
    assert "zymurgy" not in plain.featurizer.vocabulary
