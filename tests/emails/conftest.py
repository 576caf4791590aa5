"""Fixtures for the emails tests: digest builders and real local SMTP servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from paperboy.emails.digest import Digest, DigestItem, TrendingItem
from tests.smtp_server import DroppingSMTPServer, LocalSMTPServer

ItemFactory = Callable[..., DigestItem]
DigestFactory = Callable[..., Digest]
ServerFactory = Callable[..., LocalSMTPServer]


def sample_items() -> tuple[DigestItem, ...]:
    """Three papers that exercise the template: many authors, LaTeX, no PDF, no abstract."""
    return (
        DigestItem(
            paper_id="1706.03762",
            title="Attention Is All You Need",
            abstract=(
                "The dominant sequence transduction models are based on complex recurrent or "
                "convolutional neural networks, e.g. RNNs with an encoder and a decoder. "
                "We propose a new simple network architecture, the Transformer (Vaswani et al. "
                "2017), based solely on attention mechanisms. Experiments on two machine "
                "translation tasks show 28.4 BLEU, see Fig. 2."
            ),
            authors=(
                "Ashish Vaswani",
                "Noam Shazeer",
                "Niki Parmar",
                "Jakob Uszkoreit",
                "Llion Jones",
                "Aidan N. Gomez",
                "Łukasz Kaiser",
                "Illia Polosukhin",
            ),
            categories=("cs.CL", "cs.LG"),
            score=0.82,
            why="Close to 3 papers you saved, e.g. “Sequence to Sequence Learning”",
            abs_url="https://arxiv.org/abs/1706.03762",
            pdf_url="https://arxiv.org/pdf/1706.03762",
            announced=date(2025, 6, 3),
            hf_url="https://huggingface.co/papers/1706.03762",
            code_url="https://github.com/tensorflow/tensor2tensor",
            upvotes=1234,
        ),
        DigestItem(
            paper_id="2506.00002",
            title=r"$\alpha$-divergence for \textit{robust} inference",
            abstract=(
                r"We study $\alpha$-divergences in $O(n^2)$ time. The method is \emph{simple}: "
                r"it gains 5% over KL at $\alpha = 0.5$. We release code."
            ),
            authors=("Zoë Ångström", "José Núñez"),
            categories=("stat.ML",),
            score=0.31,
            why="Matches your keyword “robust”",
            abs_url="https://arxiv.org/abs/2506.00002",
            pdf_url=None,
        ),
        DigestItem(
            paper_id="2506.00003",
            title="A paper without an abstract",
            abstract="",
            authors=(),
            categories=(),
            score=0.05,
            why="",
            abs_url="https://arxiv.org/abs/2506.00003",
            pdf_url="https://arxiv.org/pdf/2506.00003",
        ),
    )


def sample_trending() -> tuple[TrendingItem, ...]:
    """Hugging Face's trending papers: one also matches the user, one has markup in it."""
    return (
        TrendingItem(
            paper_id="2506.00010",
            title="Scaling Test-Time Compute with Verifiable Rewards for Long Chains of Thought",
            abs_url="https://arxiv.org/abs/2506.00010",
            upvotes=1432,
            matched=True,
            hf_url="https://huggingface.co/papers/2506.00010",
        ),
        TrendingItem(
            paper_id="2506.00011",
            title="<i>Tiny</i> & Mighty: $\\beta$-VAEs on a phone",
            abs_url="https://arxiv.org/abs/2506.00011",
            upvotes=87,
            hf_url="https://huggingface.co/papers/2506.00011",
        ),
        TrendingItem(
            paper_id="2506.00012",
            title="One upvote",
            abs_url="https://arxiv.org/abs/2506.00012",
            upvotes=1,
        ),
    )


def weekly_items() -> tuple[DigestItem, ...]:
    """A week's picks in ranker order (best first), announced on three days and one unknown."""
    first, second, third = sample_items()
    return (
        first,  # Tue 3 Jun, 0.82
        replace(second, announced=date(2025, 6, 2)),  # Mon 2 Jun, 0.31
        replace(
            third,
            paper_id="2506.00004",
            title="Tuesday's runner-up",
            score=0.6,
            abs_url="https://arxiv.org/abs/2506.00004",
            pdf_url=None,
            announced=date(2025, 6, 3),
        ),
        replace(third, announced=date(2025, 6, 2)),  # Mon 2 Jun, 0.05
        replace(
            third,
            paper_id="2506.00005",
            title="A paper of unknown day",
            score=0.2,
            abs_url="https://arxiv.org/abs/2506.00005",
            pdf_url=None,
            announced=None,
        ),
    )


@pytest.fixture
def make_item() -> ItemFactory:
    """Build a DigestItem with sensible defaults; override any field by keyword."""

    def make(**overrides: Any) -> DigestItem:
        fields: dict[str, Any] = {
            "paper_id": "2506.01234",
            "title": "A paper",
            "abstract": "It does things. It does them well. It also does more.",
            "authors": ("Ada Lovelace",),
            "categories": ("cs.LG",),
            "score": 0.5,
            "why": "Because you saved similar papers",
            "abs_url": "https://arxiv.org/abs/2506.01234",
            "pdf_url": "https://arxiv.org/pdf/2506.01234",
        }
        fields.update(overrides)
        return DigestItem(**fields)

    return make


@pytest.fixture
def make_digest() -> DigestFactory:
    """Build a Digest (the sample items unless `items=` is given); override any field."""

    def make(**overrides: Any) -> Digest:
        fields: dict[str, Any] = {
            "user_name": "Ada Lovelace",
            "to": ("ada@example.org",),
            "sender": "Paperboy <paperboy@example.org>",
            "day": date(2025, 6, 3),
            "items": sample_items(),
            "considered": 1234,
            "created_at": datetime(2025, 6, 3, 5, 30, 0, tzinfo=UTC),
        }
        fields.update(overrides)
        return Digest(**fields)

    return make


@pytest.fixture
def smtp_server() -> Iterator[LocalSMTPServer]:
    """A real SMTP server on 127.0.0.1 that accepts everything."""
    with LocalSMTPServer() as server:
        yield server


@pytest.fixture
def smtp_server_factory() -> Iterator[ServerFactory]:
    """Start LocalSMTPServer(**kwargs) servers; all are stopped after the test."""
    servers: list[LocalSMTPServer] = []

    def start(*args: Any, **kwargs: Any) -> LocalSMTPServer:
        server = LocalSMTPServer(*args, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def dropping_smtp_server() -> Iterator[DroppingSMTPServer]:
    """A server that answers EHLO and then drops the connection."""
    with DroppingSMTPServer() as server:
        yield server
