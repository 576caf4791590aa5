"""Signed tokens: what they say, and every way a bad one is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperboy.jobs.web.tokens import ACTIONS, BadToken, Signer

T0 = datetime(2026, 7, 1, tzinfo=UTC)
KEY = "a-key-that-is-long-enough-for-the-tests-0123"


def signer(now: datetime = T0, key: str = KEY) -> Signer:
    return Signer(key, now=lambda: now)


def test_a_token_names_user_paper_action_and_expiry() -> None:
    token = signer().make("like", "ada", days=60, paper="2401.01234")
    claim = signer(T0 + timedelta(days=59)).read(token, "like")
    assert (claim.action, claim.user, claim.paper) == ("like", "ada", "2401.01234")
    assert claim.expires == T0 + timedelta(days=60)
    with pytest.raises(BadToken, match="expired"):
        signer(T0 + timedelta(days=60)).read(token, "like")


@pytest.mark.parametrize("made", ACTIONS)
@pytest.mark.parametrize("used", ACTIONS)
def test_a_token_for_one_action_performs_no_other(made: str, used: str) -> None:
    link = "abs" if made == "open" else ""  # an open token names the link it stands for
    token = signer().make(made, "ada", days=1, paper="2401.01234", link=link)
    if made == used:
        assert signer().read(token, used).action == made
    else:
        with pytest.raises(BadToken):
            signer().read(token, used)


def test_another_key_a_changed_payload_or_signature_is_refused() -> None:
    token = signer().make("like", "ada", days=1, paper="2401.01234")
    with pytest.raises(BadToken):
        signer(key="another-key-that-is-long-enough-0123456789").read(token, "like")
    payload, _, sig = token.partition(".")
    other = signer().make("like", "bob", days=1, paper="2401.01234")
    with pytest.raises(BadToken):  # bob's payload with ada's signature
        signer().read(f"{other.partition('.')[0]}.{sig}", "like")
    with pytest.raises(BadToken):
        signer().read(f"{payload}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}", "like")
    with pytest.raises(BadToken):
        signer().read(payload, "like")
    with pytest.raises(BadToken):
        signer().read(token, "delete-everything")


def test_undo_tokens_carry_their_operations() -> None:
    ops = [("remove", "saved", ["2401.01234"]), ("add", "disliked", ["2401.01234"])]
    token = signer().make("undo", "ada", days=1, ops=ops)
    claim = signer().read(token, "undo")
    assert claim.ops == (("remove", "saved", ("2401.01234",)), ("add", "disliked", ("2401.01234",)))
    assert (
        signer().read(signer().make("undo", "ada", days=1, state="resume"), "undo").state
        == "resume"
    )


def test_the_csrf_value_belongs_to_one_token_and_one_key() -> None:
    a = signer().make("like", "ada", days=1, paper="2401.01234")
    b = signer().make("like", "ada", days=1, paper="2401.01235")
    s = signer()
    assert s.check_csrf(a, s.csrf(a))
    assert not s.check_csrf(a, s.csrf(b))
    assert not s.check_csrf(a, None) and not s.check_csrf(a, "")
    assert not s.check_csrf(a, signer(key="another-key-that-is-long-enough-0123456789").csrf(a))


def test_the_key_never_shows() -> None:
    assert KEY not in repr(signer()) and KEY not in str(signer())
    token = signer().make("profile", "ada", days=1)
    assert KEY not in token


@given(st.text(min_size=1, max_size=40), st.text(max_size=40))
def test_any_user_and_paper_round_trip(user: str, paper: str) -> None:
    token = signer().make("dislike", user, days=1, paper=paper)
    assert all(c.isalnum() or c in "-_." for c in token)  # safe in a URL path, unquoted
    claim = signer().read(token, "dislike")
    assert (claim.user, claim.paper) == (user, paper)


def test_a_token_made_from_another_never_outlives_it() -> None:
    """Issue #20 item 10: a page's links inherit the mailed link's expiry and epoch."""
    mailed = signer().read(signer().make("like", "ada", days=60, epoch=3), "like")
    later = signer(T0 + timedelta(days=59))
    child = later.read(later.make("profile", "ada", days=60, parent=mailed), "profile")
    assert child.expires == T0 + timedelta(days=60) and child.epoch == 3
    grandchild = later.read(later.make("undo", "ada", days=1, parent=child, state="resume"), "undo")
    assert grandchild.expires == T0 + timedelta(days=60)
    # The Undo of a late unsubscribe may outlive it; what is made from that Undo may not.
    late = signer(T0 + timedelta(days=400))
    undo = late.read(
        late.make("undo", "ada", days=1, parent=mailed, beyond_parent=True, state="subscribe"),
        "undo",
    )
    assert undo.expires == T0 + timedelta(days=401) and undo.limit == T0 + timedelta(days=60)
    made = late.make("profile", "ada", days=60, parent=undo)
    with pytest.raises(BadToken, match="expired"):
        late.read(made, "profile")


def test_an_expired_token_reads_only_when_asked() -> None:
    token = signer().make("unsubscribe", "ada", days=60)
    old = signer(T0 + timedelta(days=730))
    with pytest.raises(BadToken, match="expired"):
        old.read(token, "unsubscribe")
    assert old.read(token, "unsubscribe", allow_expired=True).user == "ada"


def test_a_feed_token_never_expires_names_its_epoch_and_is_always_the_same() -> None:
    token = signer().make_feed("ada", epoch=3)
    claim = signer(T0 + timedelta(days=100 * 365)).read(token, "feed")
    assert (claim.action, claim.user, claim.epoch, claim.paper) == ("feed", "ada", 3, None)
    assert claim.expires > T0 + timedelta(days=100 * 365)
    assert signer(T0 + timedelta(days=9)).make_feed("ada", epoch=3) == token  # any time
    assert len({token, signer().make_feed("ada", epoch=4), signer().make_feed("bob", epoch=3)}) == 3
    for action in ACTIONS:
        if action != "feed":
            with pytest.raises(BadToken):
                signer().read(token, action)


def test_only_a_feed_token_may_have_no_expiry() -> None:
    """A like (or any action) token signed without an expiry, by the right key and salt,
    is still refused: only the read-only feed lives for ever."""
    from itsdangerous import URLSafeSerializer

    for action in ACTIONS:
        if action == "feed":
            continue
        forged = URLSafeSerializer(KEY, salt=f"paperboy.web.{action}").dumps(
            {"a": action, "u": "ada", "p": "2401.01234"}
        )
        with pytest.raises(BadToken, match="not valid"):
            signer().read(forged, action)
