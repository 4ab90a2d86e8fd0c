"""Flag it or fix it: an agent flags an article (wrong, outdated, unclear, missing step, other) with
a note; the flag keeps who, when, the revision they saw and their current case. It stays open until
an editor resolves it, fixed (in a revision) or declined (with a reason); the agent sees the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import aliased

from kb.editorial.documents import check_key
from kb.errors import InvalidInput, NotFound
from kb.store import engine as db
from kb.store.tables import (
    FLAG_REASONS,
    ArticleFlagRow,
    CaseRow,
    UserRow,
    check_choice,
    check_id,
    check_text,
)

OUTCOMES = ("fixed", "declined")


@dataclass(frozen=True)
class Flag:
    id: int
    article_id: str
    lang: str
    revision: str | None
    reason: str
    user_id: int
    user_name: str
    case_id: int | None
    at: datetime
    status: str
    resolved_by_name: str | None
    resolved_at: datetime | None
    fixed_revision: str | None
    note: str = field(repr=False)  # may quote the customer
    resolution: str | None = field(default=None, repr=False)


def flag_article(
    engine: Engine,
    article_id: str,
    lang: str,
    user_id: int,
    reason: str,
    note: str,
    revision: str | None = None,
    case_id: int | None = None,
) -> Flag:
    article_id, lang = check_key(article_id, lang)
    user_id = check_id("user_id", user_id)
    reason = check_choice("reason", reason, FLAG_REASONS, label="reason")
    note = check_text("note", note, label="note", limit="note")
    if revision is not None and (not isinstance(revision, str) or len(revision) > 64):
        raise InvalidInput("revision", "The revision must be the short text shown on the article.")
    with db.session_scope(engine) as session:
        if session.get(UserRow, user_id) is None:
            raise NotFound(f"There is no user with id {user_id}; log in again.")
        if case_id is not None and session.get(CaseRow, check_id("case_id", case_id)) is None:
            case_id = None
        row = ArticleFlagRow(
            article_id=article_id,
            lang=lang,
            revision=revision,
            reason=reason,
            note=note,
            user_id=user_id,
            case_id=case_id,
            at=db.utcnow(),
            status="open",
        )
        session.add(row)
        session.flush()
        flag_id = row.id
    return get_flag(engine, flag_id)


def resolve_flag(
    engine: Engine, flag_id: int, actor_id: int, outcome: str, note: str = "", fixed_revision: str | None = None
) -> Flag:
    """Close an open flag as fixed (optionally naming the revision) or declined (a reason is required)."""
    flag_id, actor_id = check_id("flag_id", flag_id), check_id("actor_id", actor_id)
    outcome = check_choice("outcome", outcome, OUTCOMES, label="outcome")
    note = check_text("resolution", note, label="reason", required=outcome == "declined", limit="reason")
    with db.session_scope(engine) as session:
        row = session.get(ArticleFlagRow, flag_id, with_for_update=True)
        if row is None:
            raise NotFound(f"There is no flag {flag_id}.")
        if row.status != "open":
            raise InvalidInput("flag_id", f"This flag was already resolved ({row.status}).")
        row.status, row.resolved_by, row.resolved_at = outcome, actor_id, db.utcnow()
        row.resolution, row.fixed_revision = note or None, (fixed_revision or None) if outcome == "fixed" else None
    return get_flag(engine, flag_id)


def _query():
    resolver = aliased(UserRow)
    return (
        select(ArticleFlagRow, UserRow.display_name, resolver.display_name)
        .join(UserRow, UserRow.id == ArticleFlagRow.user_id)
        .outerjoin(resolver, resolver.id == ArticleFlagRow.resolved_by)
    )


def _flag(row: ArticleFlagRow, name: str, resolver: str | None) -> Flag:
    return Flag(
        row.id,
        row.article_id,
        row.lang,
        row.revision,
        row.reason,
        row.user_id,
        name,
        row.case_id,
        row.at,
        row.status,
        resolver,
        row.resolved_at,
        row.fixed_revision,
        row.note,
        row.resolution,
    )


def get_flag(engine: Engine, flag_id: int) -> Flag:
    with db.session_scope(engine, readonly=True) as session:
        found = session.execute(_query().where(ArticleFlagRow.id == check_id("flag_id", flag_id))).first()
    if found is None:
        raise NotFound(f"There is no flag {flag_id}.")
    return _flag(*found)


def list_flags(
    engine: Engine,
    *,
    status: str | None = "open",
    user_id: int | None = None,
    article_id: str | None = None,
    limit: int = 200,
) -> list[Flag]:
    """Open flags oldest first (the worklist); with `user_id` one agent's flags, newest first."""
    query = _query()
    if status is not None:
        query = query.where(ArticleFlagRow.status == status)
    if user_id is not None:
        query = query.where(ArticleFlagRow.user_id == check_id("user_id", user_id))
    if article_id is not None:
        query = query.where(ArticleFlagRow.article_id == check_key(article_id, "en")[0])
    order = ArticleFlagRow.at.desc() if user_id is not None else ArticleFlagRow.at
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(query.order_by(order, ArticleFlagRow.id).limit(limit)).all()
    return [_flag(*row) for row in rows]


def count_open(engine: Engine) -> int:
    with db.session_scope(engine, readonly=True) as session:
        return session.scalar(select(func.count()).where(ArticleFlagRow.status == "open")) or 0
