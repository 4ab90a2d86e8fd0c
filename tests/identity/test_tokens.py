"""API tokens and idempotency keys on SQLite and PostgreSQL: lifecycle, refusals, one answer per key."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from kb.errors import InvalidInput, LoginFailed, LoginThrottled, NotFound
from kb.identity import tokens
from kb.identity.users import MAX_ADDRESS_FAILURES, create_user, disable_user, enable_user
from kb.integrations import idempotency
from kb.store import engine as db
from kb.store.tables import ApiTokenRow


@pytest.fixture
def user(engine):
    return create_user(engine, "cti-bridge", "correct horse battery", "admin")


def test_create_use_revoke(engine, user):
    token, secret = tokens.create_token(engine, "cti-bridge", "telephony", expires_days=30)
    assert token.state() == "active" and token.expires_at - token.created_at == timedelta(days=30)
    found, used = tokens.authenticate_token(engine, secret, "10.0.0.1")
    assert found.id == user.id and found.role == "admin" and used.id == token.id
    assert tokens.list_tokens(engine, "cti-bridge")[0].last_used_at is not None
    tokens.revoke_token(engine, token.id)
    with pytest.raises(LoginFailed, match="revoked"):
        tokens.authenticate_token(engine, secret, "10.0.0.1")


def test_a_token_with_one_character_changed_is_refused(engine, user):
    _, secret = tokens.create_token(engine, "cti-bridge")
    changed = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with pytest.raises(LoginFailed, match="not valid"):
        tokens.authenticate_token(engine, changed, "10.0.0.1")


def test_expiry_and_a_disabled_user(engine, user):
    token, secret = tokens.create_token(engine, "cti-bridge", expires_days=1)
    disable_user(engine, "cti-bridge")
    with pytest.raises(LoginFailed, match="disabled"):
        tokens.authenticate_token(engine, secret, "a")
    enable_user(engine, "cti-bridge")
    assert tokens.authenticate_token(engine, secret, "a")[0].id == user.id  # enabled again: the token works
    with db.session_scope(engine) as session:
        session.get(ApiTokenRow, token.id).expires_at = db.utcnow() - timedelta(minutes=1)
    with pytest.raises(LoginFailed, match="expired"):
        tokens.authenticate_token(engine, secret, "a")


def test_no_expiry_and_bad_arguments(engine, user):
    assert tokens.create_token(engine, "cti-bridge", expires_days=None)[0].expires_at is None
    for days in (-1, 5000, "30", True):
        with pytest.raises(InvalidInput):
            tokens.create_token(engine, "cti-bridge", expires_days=days)
    with pytest.raises(NotFound):
        tokens.create_token(engine, "nobody")
    with pytest.raises(NotFound):
        tokens.revoke_token(engine, 999)


def test_failures_slow_the_address_down_not_the_token(engine, user):
    _, secret = tokens.create_token(engine, "cti-bridge")
    for _ in range(MAX_ADDRESS_FAILURES):
        with pytest.raises(LoginFailed):
            tokens.authenticate_token(engine, "fkb_00000000_" + "0" * 43, "198.51.100.7")
    with pytest.raises(LoginThrottled):
        tokens.authenticate_token(engine, secret, "198.51.100.7")
    assert tokens.authenticate_token(engine, secret, "192.0.2.1")[0].id == user.id  # another address is fine


def test_an_idempotency_key_runs_once_then_replays(engine, user):
    mark = idempotency.fingerprint("POST", "/api/v1/cases", b'{"a": 1}')
    first = idempotency.claim(engine, user.id, "k1", mark)
    assert first.outcome == "run"
    assert idempotency.claim(engine, user.id, "k1", mark).outcome == "busy"  # still running
    idempotency.finish(engine, first.row_id, 201, '{"id": 7}')
    again = idempotency.claim(engine, user.id, "k1", mark)
    assert (again.outcome, again.status, again.body) == ("replay", 201, '{"id": 7}')
    other = idempotency.fingerprint("POST", "/api/v1/cases", b'{"a": 2}')
    assert idempotency.claim(engine, user.id, "k1", other).outcome == "conflict"


def test_a_released_key_runs_again(engine, user):
    mark = idempotency.fingerprint("POST", "/x", b"")
    claim = idempotency.claim(engine, user.id, "k2", mark)
    idempotency.release(engine, claim.row_id)
    assert idempotency.claim(engine, user.id, "k2", mark).outcome == "run"


def test_simultaneous_retries_claim_a_key_once(engine, make_engines, user):
    """Eight requests with the same key at the same moment, each on its own engine: one runs."""
    mark = idempotency.fingerprint("POST", "/api/v1/cases", b"{}")
    engines = [make_engines() for _ in range(8)]
    barrier, outcomes = threading.Barrier(8), []

    def go(e):
        barrier.wait()
        outcomes.append(idempotency.claim(e, user.id, "same", mark).outcome)

    threads = [threading.Thread(target=go, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy"] * 7 + ["run"]
