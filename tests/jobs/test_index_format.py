"""The stored index is data, never code (issue 20, item 12): a header of JSON, the index as
numpy arrays (np.savez, loaded with allow_pickle=False) and a trailer. Loading it gives the
very same rankings; a file or database copy holding a pickle is refused without running
it; a file of an older Paperboy (a pickle) is named as such and rebuilt, never unpickled."""

from __future__ import annotations

import io
import logging
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import paperboy.jobs.ranking.corpus as corpus
from paperboy import recommender
from paperboy.jobs.config.model import Config
from paperboy.jobs.core.errors import StorageError
from paperboy.jobs.ranking.corpus import (
    build_index,
    index_after_fetch,
    load_corpus,
    read_index,
    read_info,
    refresh_index,
    to_paper,
    write_index,
)
from paperboy.jobs.storage import Storage
from paperboy.recommender.text import paper_text
from tests.jobs.test_pipeline import SAVED, config_for, load_sample


class RunsCode:
    """What a hostile writer would pickle: unpickling it creates the file at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def hostile_pickle(marker: Path) -> bytes:
    return pickle.dumps(RunsCode(marker), protocol=pickle.HIGHEST_PROTOCOL)


def _npz(**arrays: Any) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # allow_pickle left on: a hostile writer's object arrays
    return buffer.getvalue()


def _container(header: bytes, body: bytes) -> bytes:
    """A file of the current format around `body`: magic, header line, body, trailer."""
    return corpus.MAGIC + header + b"\n" + body + b"\npaperboy-index-end %016x\n" % len(body)


def old_format(info: corpus.IndexInfo, index: recommender.Index) -> bytes:
    """A file as Paperboy wrote it up to format 4: two pickles and a fixed trailer."""
    return (
        pickle.dumps(replace(info, format=4), protocol=pickle.HIGHEST_PROTOCOL)
        + pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
        + b"\npaperboy-index-end\n"
    )


@pytest.fixture
def config(tmp_path: Path) -> Config:
    corpus._cache.clear()
    return config_for(tmp_path, f"sqlite:///{tmp_path / 'paperboy.db'}", 25)


def test_a_round_trip_ranks_a_user_with_the_same_scores(config: Config) -> None:
    with Storage.open(config.database) as storage:
        load_sample(storage)
        built, info = build_index(storage)
        write_index(config.index, built, info)
        loaded, header = read_index(config.index)
        papers = [to_paper(p) for p in storage.recent_papers(10_000)]
    assert header == info
    assert loaded.ids == built.ids and loaded.row_of == built.row_of
    assert (loaded.matrix != built.matrix).nnz == 0 and loaded.matrix.dtype == np.float32
    assert np.array_equal(loaded.doc_freq, built.doc_freq)
    assert loaded.featurizer.vocabulary == built.featurizer.vocabulary
    saved_ids = {r.id for r in SAVED}
    profile = recommender.Profile(saved=tuple(p for p in papers if p.id in saved_ids))
    candidates = [p for p in papers if p.id not in saved_ids][:300]
    background = [p for p in papers if p.id not in saved_ids][300:]
    before = recommender.rank(profile, candidates, background, index=built)
    after = recommender.rank(profile, candidates, background, index=loaded)
    assert [r.paper.id for r in after] == [r.paper.id for r in before]
    assert max(abs(a.score - b.score) for a, b in zip(after, before, strict=True)) < 1e-6
    assert [r.why for r in after] == [r.why for r in before]


def test_the_rebuilt_vectoriser_transforms_new_text_as_the_fitted_one(config: Config) -> None:
    """The file keeps the vocabulary and idf weights, not the fitted scikit-learn object:
    the featuriser rebuilt from them gives the very same rows for text it never saw."""
    with Storage.open(config.database) as storage:
        load_sample(storage, days=2)  # the saved papers' and two days' text
        built, info = build_index(storage)
    write_index(config.index, built, info)
    loaded, _ = read_index(config.index)
    texts = [
        paper_text(recommender.Paper(id=r.id, title=r.title, abstract=r.abstract)) for r in SAVED
    ] + [
        "attention is all you need: transformers for protein folding",
        "",
        "the of and",  # stop words only
        "Überraschend: ∑ graph neural networks ⊗ diffusion",
    ]
    old = built.featurizer.transform(texts)
    new = loaded.featurizer.transform(texts)
    assert old.nnz > 0 and old.shape == new.shape and old.dtype == new.dtype
    assert np.array_equal(old.indptr, new.indptr)
    assert np.array_equal(old.indices, new.indices)
    assert np.array_equal(old.data, new.data)


def test_an_index_of_an_older_paperboy_is_named_and_rebuilt_never_unpickled(
    config: Config, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with Storage.open(config.database) as storage:
        load_sample(storage, days=1)
        index, info = build_index(storage)
        config.index.write_bytes(old_format(info, index))

        def no_unpickling(*args: object, **kwargs: object) -> object:
            raise AssertionError("an index file was unpickled")

        monkeypatch.setattr(pickle, "load", no_unpickling)
        monkeypatch.setattr(pickle, "loads", no_unpickling)
        monkeypatch.setattr(pickle, "Unpickler", no_unpickling)
        with pytest.raises(StorageError, match="written by an older Paperboy") as excinfo:
            read_info(config.index)
        assert str(config.index) in str(excinfo.value) and "rebuilds it" in str(excinfo.value)
        with caplog.at_level(logging.WARNING, logger="paperboy.jobs.ranking.corpus"):
            assert load_corpus(config, storage).index is None
        assert "written by an older Paperboy" in caplog.text
        assert index_after_fetch(config, storage, changed=False) is not None  # rebuilt
        assert read_index(config.index)[0].ids == index.ids


@pytest.mark.parametrize("kind", ["pickle", "old-format", "object-array", "pickle-as-arrays"])
def test_a_crafted_index_holding_a_pickle_is_refused_without_running_it(
    config: Config, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / "code-ran"
    payload = hostile_pickle(marker)
    control = tmp_path / "control"
    pickle.loads(hostile_pickle(control))  # the payload is live: unpickling runs it
    assert control.exists()
    with Storage.open(config.database) as storage:
        load_sample(storage, days=1)
        refresh_index(config, storage)
        header = config.index.read_bytes().split(b"\n", 2)[1]
        if kind == "pickle":
            data = payload
        elif kind == "old-format":  # the header of format 4 followed by the payload
            data = payload + payload + b"\npaperboy-index-end\n"
        elif kind == "object-array":  # a well-formed file whose ids array holds an object
            data = _container(header, _npz(ids=np.array([RunsCode(marker)], dtype=object)))
        else:  # a well-formed file whose arrays are a pickle
            data = _container(header, payload)
        config.index.write_bytes(data)
        with pytest.raises(StorageError) as excinfo:
            read_index(config.index)
        assert str(config.index) in str(excinfo.value)
        fallback = load_corpus(config, storage)
    assert not marker.exists()
    assert fallback.index is None and fallback.background  # ranks without a stored index


def test_the_file_is_smaller_than_the_pickle_it_replaces(config: Config) -> None:
    with Storage.open(config.database) as storage:
        load_sample(storage)
        index, info = build_index(storage)
    write_index(config.index, index, info)
    assert config.index.stat().st_size < len(old_format(info, index))
