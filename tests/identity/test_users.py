"""Users, password hashes, log-in, throttling and demo users."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from kb.errors import InvalidInput, LoginFailed, LoginThrottled, NotFound
from kb.identity.users import (
    ROLES,
    User,
    authenticate,
    create_user,
    disable_user,
    enable_user,
    ensure_demo_users,
    get_user,
    hash_password,
    list_users,
    set_language,
    set_password,
    set_role,
    verify_password,
)
from kb.store.engine import session_scope
from kb.store.tables import AuditLogRow, LoginAttemptRow, UserRow

PASSWORD = "correct horse battery"


def stored_hash(engine, username: str) -> str:
    with session_scope(engine, readonly=True) as session:
        return session.scalar(select(UserRow.password_hash).where(UserRow.username == username))


def attempts(engine) -> list[tuple[str, str, bool]]:
    with session_scope(engine, readonly=True) as session:
        return [
            (a.username, a.address, a.succeeded)
            for a in session.scalars(select(LoginAttemptRow).order_by(LoginAttemptRow.id))
        ]


def test_create_user_and_read_it_back(engine, clock):
    user = create_user(
        engine, " Bob.Smith ", "s3cret-pass", "editor", display_name="Bob Smith", language="nl", team="kb-content"
    )
    assert user == User(user.id, "bob.smith", "editor", "Bob Smith", "nl", "kb-content", True)
    assert get_user(engine, user.id) == user
    assert get_user(engine, user.id + 1000) is None
    assert create_user(engine, "zed", "s3cret-pass", "agent").display_name == "zed"
    assert [u.username for u in list_users(engine)] == ["bob.smith", "zed"]


def test_password_hash_is_salted_scrypt_and_never_the_password(engine):
    create_user(engine, "ann", PASSWORD, "agent")
    create_user(engine, "ben", PASSWORD, "agent")
    first, second = stored_hash(engine, "ann"), stored_hash(engine, "ben")
    assert PASSWORD not in first
    assert first.split("$")[:4] == ["scrypt", "16384", "8", "1"]
    assert first != second  # random salt
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "x", first)


@pytest.mark.parametrize("stored", ["", "plain", "md5$1$2$3$4$5", "scrypt$x$8$1$AA==$AA==", "scrypt$16384$8$1$%%$AA=="])
def test_malformed_hashes_never_verify(stored):
    assert verify_password("anything", stored) is False


def test_hash_password_gives_a_new_salt_each_time():
    assert hash_password("same password") != hash_password("same password")


def test_duplicate_user_name_is_refused(engine, counts):
    create_user(engine, "anna", PASSWORD, "agent")
    before = counts()
    with pytest.raises(InvalidInput, match="taken; choose another") as info:
        create_user(engine, "ANNA", "another password", "admin")
    assert info.value.field == "username"
    assert counts() == before


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"username": "ab"}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "x" * 65}, "username"),
        ({"username": 42}, "username"),
        ({"password": "short"}, "password"),
        ({"password": None}, "password"),
        ({"password": "x" * 1025}, "password"),
        ({"role": "root"}, "role"),
        ({"role": None}, "role"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"display_name": 7}, "display_name"),
        ({"language": "de"}, "language"),
        ({"team": "t" * 65}, "team"),
    ],
)
def test_create_user_refuses_bad_input_and_stores_nothing(engine, counts, kwargs, field):
    args = {"username": "valid.name", "password": PASSWORD, "role": "agent"} | kwargs
    before = counts()
    with pytest.raises(InvalidInput) as info:
        create_user(engine, **args)
    assert info.value.field == field and str(info.value)
    assert counts() == before


def test_authenticate_succeeds_and_records_the_attempt(engine, clock):
    user = create_user(engine, "anna", PASSWORD, "agent")
    assert authenticate(engine, " Anna ", PASSWORD, "10.0.0.1") == user
    assert attempts(engine) == [("anna", "10.0.0.1", True)]
    with session_scope(engine, readonly=True) as session:
        assert session.get(UserRow, user.id).last_login_at == clock.now


@pytest.mark.parametrize("username, password", [("anna", "wrong password"), ("nobody", PASSWORD)])
def test_wrong_password_or_unknown_user_fails_the_same_way(engine, username, password):
    create_user(engine, "anna", PASSWORD, "agent")
    with pytest.raises(LoginFailed, match="Wrong user name or password; check both and try again"):
        authenticate(engine, username, password, "10.0.0.1")
    assert attempts(engine) == [(username, "10.0.0.1", False)]


def test_user_name_is_throttled_after_five_failures(engine, clock):
    create_user(engine, "anna", PASSWORD, "agent")
    first_failure = clock.now
    for n in range(5):
        with pytest.raises(LoginFailed):
            authenticate(engine, "anna", "wrong password", f"10.0.0.{n}")
        clock.advance(60)
    with pytest.raises(LoginThrottled) as info:
        authenticate(engine, "anna", PASSWORD, "10.9.9.9")  # even the right password, from elsewhere
    assert info.value.retry_at == first_failure + timedelta(minutes=15)
    assert f"try again after {info.value.retry_at:%H:%M} UTC (in 10 minutes)" in str(info.value)
    assert len(attempts(engine)) == 5  # the throttled attempt was not even tried
    clock.now = first_failure + timedelta(minutes=15, seconds=1)
    assert authenticate(engine, "anna", PASSWORD, "10.9.9.9").username == "anna"


def test_a_successful_log_in_resets_the_user_name_count(engine, clock):
    create_user(engine, "anna", PASSWORD, "agent")
    for _ in range(4):
        with pytest.raises(LoginFailed):
            authenticate(engine, "anna", "wrong password", "10.0.0.1")
    clock.advance(1)
    authenticate(engine, "anna", PASSWORD, "10.0.0.1")
    for _ in range(4):
        clock.advance(1)
        with pytest.raises(LoginFailed):
            authenticate(engine, "anna", "wrong password", "10.0.0.1")
    clock.advance(1)
    assert authenticate(engine, "anna", PASSWORD, "10.0.0.1").username == "anna"


def test_an_address_is_slowed_down_not_locked_after_twenty_failures(engine, clock):
    """Colleagues behind one proxy address: someone's guesses make them wait seconds, not 15 minutes."""
    create_user(engine, "anna", PASSWORD, "agent")
    for n in range(20):
        clock.advance(0.1)
        with pytest.raises(LoginFailed):
            authenticate(engine, f"guess{n}", "wrong password", "203.0.113.7")
    with pytest.raises(LoginThrottled, match="from your address; wait 1 second and try again"):
        authenticate(engine, "anna", PASSWORD, "203.0.113.7")
    assert authenticate(engine, "anna", PASSWORD, "198.51.100.1").username == "anna"  # other addresses
    clock.advance(1)
    assert authenticate(engine, "anna", PASSWORD, "203.0.113.7").username == "anna"
    # Every further failure doubles the wait, up to a minute; never the whole window.
    waits = []
    for n in range(10):
        with pytest.raises(LoginFailed):
            authenticate(engine, f"more{n}", "wrong password", "203.0.113.7")
        with pytest.raises(LoginThrottled) as refused:
            authenticate(engine, "anna", PASSWORD, "203.0.113.7")
        waits.append(round((refused.value.retry_at - clock.now).total_seconds()))
        clock.advance(waits[-1])
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60, 60, 60]
    assert authenticate(engine, "anna", PASSWORD, "203.0.113.7").username == "anna"


def test_disabled_user_cannot_log_in_until_enabled(engine):
    create_user(engine, "anna", PASSWORD, "agent")
    assert disable_user(engine, "anna").is_active is False
    with pytest.raises(LoginFailed, match="disabled; ask an admin to enable it"):
        authenticate(engine, "anna", PASSWORD, "10.0.0.1")
    assert enable_user(engine, "anna").is_active is True
    assert authenticate(engine, "anna", PASSWORD, "10.0.0.1").is_active
    with session_scope(engine, readonly=True) as session:
        assert session.scalars(select(AuditLogRow.action).order_by(AuditLogRow.id)).all() == [
            "disable_user",
            "enable_user",
        ]


def test_set_role_is_audited(engine):
    user = create_user(engine, "anna", PASSWORD, "agent")
    assert set_role(engine, "anna", "analyst").role == "analyst"
    assert get_user(engine, user.id).role == "analyst"
    with session_scope(engine, readonly=True) as session:
        row = session.scalar(select(AuditLogRow))
    assert (row.action, row.target) == ("set_role", f"user:{user.id}")
    assert json.loads(row.detail) == {"before": {"role": "agent"}, "after": {"role": "analyst"}}


def test_user_changes_refuse_bad_input(engine, counts):
    user = create_user(engine, "anna", PASSWORD, "agent")
    before = counts()
    with pytest.raises(InvalidInput, match="must be one of agent, editor, analyst, admin"):
        set_role(engine, "anna", "superuser")
    with pytest.raises(NotFound, match="no user 'bert'"):
        set_role(engine, "bert", "admin")
    with pytest.raises(NotFound):
        disable_user(engine, "bert")
    with pytest.raises(InvalidInput):
        set_language(engine, user.id, "fr")
    with pytest.raises(InvalidInput):
        set_language(engine, "1", "nl")
    with pytest.raises(NotFound):
        set_language(engine, user.id + 99, "nl")
    with pytest.raises(InvalidInput):
        get_user(engine, 0)
    with pytest.raises(InvalidInput):
        authenticate(engine, "anna", None, "10.0.0.1")
    assert counts() == before
    assert get_user(engine, user.id).role == "agent"


def test_set_language(engine):
    user = create_user(engine, "anna", PASSWORD, "agent")
    assert set_language(engine, user.id, "nl").language == "nl"
    assert get_user(engine, user.id).language == "nl"
    assert set_language(engine, user.id, None).language is None


def test_demo_users_only_on_an_empty_table(engine):
    created = ensure_demo_users(engine)
    assert sorted(role for _, _, role in created) == sorted(ROLES)
    for username, password, role in created:
        assert authenticate(engine, username, password, "127.0.0.1").role == role
    assert len({password for _, password, _ in created}) == len(ROLES)
    assert ensure_demo_users(engine) == []
    assert len(list_users(engine)) == len(ROLES)


def test_no_demo_users_when_a_user_exists(engine):
    create_user(engine, "anna", PASSWORD, "admin")
    assert ensure_demo_users(engine) == []
    assert [u.username for u in list_users(engine)] == ["anna"]


def test_set_password_replaces_the_old_one_and_is_audited_without_it(engine):
    user = create_user(engine, "anna", PASSWORD, "agent")
    set_password(engine, "anna", "a brand new password")
    with pytest.raises(LoginFailed):
        authenticate(engine, "anna", PASSWORD, "10.0.0.1")
    # The same user, in a new session generation: every session from before has ended.
    assert authenticate(engine, "anna", "a brand new password", "10.0.0.1") == dataclasses.replace(
        user, session_generation=user.session_generation + 1
    )
    with session_scope(engine, readonly=True) as session:
        row = session.scalar(select(AuditLogRow))
    assert (row.action, json.loads(row.detail)) == ("set_password", {"before": {}, "after": {}})
    assert "brand new" not in row.detail and "scrypt" not in row.detail
    with pytest.raises(InvalidInput, match="choose a longer one"):
        set_password(engine, "anna", "short")
