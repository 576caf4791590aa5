"""What counts as an e-mail address (issue 12): RFC 5322 addr-specs, local MTAs' too."""

from __future__ import annotations

import pytest

from paperboy.emails import render
from paperboy.emails.addresses import address_problem, is_address

GOOD = [
    "ada@example.org",
    "reader@localhost",  # a local MTA's own domain: no dot
    "paperboy@localhost",
    "first.last+tag@sub.example.co.uk",
    '"john doe"@example.org',
    "root@[127.0.0.1]",
    "x@bücher.de",
]
BAD = [
    "garbage",
    "ada@",
    "@example.org",
    "ada@@example.org",
    "ada @example.org",
    "ada@exa mple.org",
    "ada@example.org.",
    "ada@-example.org",
    "ada@exa_mple.org",
    "x..y@example.org",
    "<ada@example.org>",
    "a@b,c@d",
    " ada@example.org",
]


@pytest.mark.parametrize("address", GOOD)
def test_accepts(address: str) -> None:
    assert address_problem(address) is None and is_address(address)


@pytest.mark.parametrize("address", BAD)
def test_refuses_with_a_reason(address: str) -> None:
    problem = address_problem(address)
    assert problem and not is_address(address)


def test_unsubscribe_takes_a_local_mailbox() -> None:
    assert render.unsubscribe_uris("mailto:paperboy@localhost") == ("mailto:paperboy@localhost",)
    assert render.unsubscribe_uris("reader@localhost") == ("mailto:reader@localhost",)
    with pytest.raises(ValueError):
        render.unsubscribe_uris("mailto:garbage")
