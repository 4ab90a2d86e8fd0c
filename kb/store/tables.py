"""Tables of users, cases, their events, the article revisions they saw, the hand-off outbox and content
gaps; plus the checks on what goes in them.

The limits and choices live here, next to the columns they protect, so every caller (web form,
API, CLI) is refused the same way, with an `InvalidInput` that says what to do.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import false

from kb.errors import InvalidInput

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("agent", "editor", "analyst", "admin", "noc")  # noc: the network operations centre (kb.outages)
LANGUAGES = ("nl", "en")
CHANNELS = ("phone", "chat", "email")
CONNECTION_TYPES = ("fibre", "dsl", "cable", "unknown")
STATUSES = ("open", "resolved", "escalated", "unresolved", "known_outage")
EVENT_KINDS = (
    "opened",
    "search",
    "article_opened",
    "step_ticked",
    "step_unticked",
    "note",
    "resolved",
    "escalated",
    "unresolved",
    "reopened",
    "connection_set",
    "reassigned",
    "known_outage",
    "called_back",
)
OUTAGE_STATUSES = ("investigating", "identified", "fixed", "closed")
OUTAGE_ACTIVE = ("investigating", "identified")
OUTAGE_SERVICES = ("internet", "telephony", "tv", "email")
OUTAGE_AREA_KINDS = ("area", "postcode", "node")
CALLBACK_RESULTS = ("restored", "still_broken")
DELIVERY_STATUSES = ("pending", "delivered", "failed")
DOC_STATUSES = ("draft", "in_review", "published", "archived")
EDIT_ACTIONS = ("import", "save", "submit", "approve", "publish", "archive", "restore")
FLAG_REASONS = ("wrong", "outdated", "unclear", "missing_step", "other")
FLAG_STATUSES = ("open", "fixed", "declined")
GAP_SOURCES = ("flagged", "weak")
MAX_LENGTH = {
    "customer_ref": 100,
    "problem": 5000,
    "note": 5000,
    "reason": 2000,
    "query": 5000,  # a pasted chat or e-mail message (kb.search.searcher.MAX_QUERY_CHARS)
    "display_name": 100,
    "team": 64,
    "article_id": 200,
    "url": 2000,
    "summary": 200,
    "article_text": 200_000,
    "topic": 100,
    "keywords": 5000,
    "examples": 10_000,
    "outage_message": 2000,
    "outage_notes": 5000,
}
ARTICLE_ID = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
MAX_ARTICLE_IDS = 100
MAX_STEP = 999


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out, on SQLite (which stores no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(2))
    team: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Incremented on sign-out, a new password and disabling: session cookies of an older generation are void.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginAttemptRow(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index(None, "username", "at"), Index(None, "address", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("connection_type", CONNECTION_TYPES), name="connection_type"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        Index(None, "agent_id", "opened_at"),
        Index(None, "status", "opened_at"),
        Index("uq_cases_agent_id_request_id", "agent_id", "request_id", unique=True),
        Index(None, "closed_at"),
        Index(None, "opened_at"),
        Index(None, "customer_ref", "opened_at"),
        Index(None, "outage_id"),
        Index(None, "postcode", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(16))
    customer_ref: Mapped[str] = mapped_column(String(100))
    problem: Mapped[str] = mapped_column(Text)
    connection_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handle_seconds: Mapped[int | None] = mapped_column(Integer)
    escalation_team: Mapped[str | None] = mapped_column(String(64))
    escalation_reason: Mapped[str | None] = mapped_column(Text)
    outcome_note: Mapped[str | None] = mapped_column(Text)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(64))  # the page's id for this open-case request
    # Customer data like customer_ref: never in a URL or a log line. Dutch format, normalised "3011AB".
    postcode: Mapped[str | None] = mapped_column(String(6))
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id"))  # closed as a known outage
    callback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    callback_result: Mapped[str | None] = mapped_column(String(16))
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # written by `kb demo`


FACT_COLUMNS = (
    "closed_day",
    "status",
    "agent_team",
    "escalation_team",
    "channel",
    "handle_seconds",
    "linked",
    "repeat",
    "reopen_count",
    "searches",
    "weak_searches",
    "is_demo",
    "case_id",
)


class CaseFactRow(Base):
    """One closed case, summarised for analytics (kb.caselog.facts): kept up to date when the case is
    closed or reopened and when the same customer calls again. No customer data: the counts stay
    when retention purges the case's texts."""

    __tablename__ = "case_facts"
    # Every analytics query reads a range of days: this index covers them, so no row is looked up.
    __table_args__ = (Index("ix_case_facts_covering", *FACT_COLUMNS),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in UTC
    status: Mapped[str] = mapped_column(String(16))
    reopen_count: Mapped[int] = mapped_column(Integer)
    handle_seconds: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    escalation_team: Mapped[str | None] = mapped_column(String(64))
    agent_team: Mapped[str | None] = mapped_column(String(64))
    is_demo: Mapped[bool] = mapped_column(Boolean)
    linked: Mapped[bool] = mapped_column(Boolean)
    repeat: Mapped[bool] = mapped_column(Boolean)
    searches: Mapped[int] = mapped_column(Integer)
    weak_searches: Mapped[int] = mapped_column(Integer)
    last_step_article: Mapped[str | None] = mapped_column(String(200))
    last_step: Mapped[int | None] = mapped_column(Integer)


class CaseFactArticleRow(Base):
    """An article a closed case used (opened, ticked a step of, or was resolved by)."""

    __tablename__ = "case_fact_articles"
    __table_args__ = (Index(None, "article_id"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("case_facts.case_id"), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lang: Mapped[str | None] = mapped_column(String(2))
    opened: Mapped[bool] = mapped_column(Boolean)
    resolved: Mapped[bool] = mapped_column(Boolean)


class CaseEventRow(Base):
    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        Index(None, "case_id", "id"),
        Index(None, "kind", "case_id"),
        Index("uq_case_events_case_id_request_id", "case_id", "request_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))
    article_id: Mapped[str | None] = mapped_column(String(200))
    lang: Mapped[str | None] = mapped_column(String(2))
    step_number: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[str | None] = mapped_column(String(64))  # the article version the event refers to
    request_id: Mapped[str | None] = mapped_column(String(64))  # the page's id for this write (notes)


class CaseResolutionRow(Base):
    __tablename__ = "case_resolutions"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    revision: Mapped[str | None] = mapped_column(String(64))  # the version the agent had open


class ArticleRevisionRow(Base):
    """The text of an article version that a case event refers to (kept after the article changes)."""

    __tablename__ = "article_revisions"
    __table_args__ = (Index(None, "article_id", "lang"),)

    revision: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200))
    lang: Mapped[str] = mapped_column(String(2))
    text: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditLogRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)


class ContentGapRow(Base):
    """A search an agent flagged because no article answered it (kb.caselog.gaps); `query` is customer data."""

    __tablename__ = "content_gaps"
    __table_args__ = (CheckConstraint(_in("lang", LANGUAGES), name="lang"), Index(None, "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(2))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "flagged" by an agent, or "weak": the search's best match was weak (recorded automatically).
    source: Mapped[str] = mapped_column(String(8), default="flagged", server_default="flagged")
    # The query's embedding (float32, L2-normalised) for clustering; customer data like the query.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)


class ArticleDocRow(Base):
    """One language version of an article in the editors' store (kb.editorial): its workflow state.

    `head_edit_id` is the newest saved text; `published_edit_id` the text agents see (None when
    never published or archived). `version` counts saves: an editor saving over a newer version
    than the one they opened is told (kb.editorial.documents.EditConflict).
    """

    __tablename__ = "article_docs"
    __table_args__ = (CheckConstraint(_in("status", DOC_STATUSES), name="status"),)

    article_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lang: Mapped[str] = mapped_column(String(2), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    head_edit_id: Mapped[int] = mapped_column(Integer)
    published_edit_id: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    searchable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a server first served it
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ArticleEditRow(Base):
    """Every save, submission, approval, publication, archiving, restore and import: who, when, why, the text."""

    __tablename__ = "article_edits"
    __table_args__ = (CheckConstraint(_in("action", EDIT_ACTIONS), name="action"), Index(None, "article_id", "lang"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200))
    lang: Mapped[str] = mapped_column(String(2))
    action: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    revision: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(String(200))


class ContentPublicationRow(Base):
    """One change to what agents see (publish, archive, import); servers poll the newest id to re-index."""

    __tablename__ = "content_publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    article_id: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))


class ArticleFlagRow(Base):
    """An agent's "this article is wrong / outdated / unclear / misses a step", open until an editor resolves it."""

    __tablename__ = "article_flags"
    __table_args__ = (
        CheckConstraint(_in("reason", FLAG_REASONS), name="reason"),
        CheckConstraint(_in("status", FLAG_STATUSES), name="status"),
        Index(None, "status", "at"),
        Index(None, "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200))
    lang: Mapped[str] = mapped_column(String(2))
    revision: Mapped[str | None] = mapped_column(String(64))  # the version the agent saw
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)  # the decline reason, or a note with the fix
    fixed_revision: Mapped[str | None] = mapped_column(String(64))


class RoutingRuleRow(Base):
    """A topic the knowledge base does not cover and the team that takes it (kb.editorial.routing):
    shown to the agent with a one-click escalation when a search finds no good match."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(64))
    topic_nl: Mapped[str] = mapped_column(String(100))
    topic_en: Mapped[str] = mapped_column(String(100))
    keywords: Mapped[str] = mapped_column(Text)  # one word or phrase a line
    examples: Mapped[str] = mapped_column(Text)  # one example query a line
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the migration's seed


class OutageRow(Base):
    """A known outage or planned maintenance (kb.outages): what is down where, since when, until
    when (expected), and what the agent reads out. Every change is kept in outage_changes."""

    __tablename__ = "outages"
    __table_args__ = (CheckConstraint(_in("status", OUTAGE_STATUSES), name="status"), Index(None, "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    planned: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    services: Mapped[str] = mapped_column(String(100))  # comma separated OUTAGE_SERVICES
    connections: Mapped[str] = mapped_column(String(100))  # comma separated; "" = every connection type
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expected_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fixed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_nl: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the `kb` command
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutageAreaRow(Base):
    """One area an outage covers: a four-digit postcode area, a full postcode, or a network node."""

    __tablename__ = "outage_areas"
    __table_args__ = (
        CheckConstraint(_in("kind", OUTAGE_AREA_KINDS), name="kind"),
        Index(None, "value", "outage_id"),
        Index(None, "outage_id"),  # the areas of the outages a search shows (migration 0013)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))


class OutageChangeRow(Base):
    """The history of an outage: who changed what, when (the expected end as it moved)."""

    __tablename__ = "outage_changes"
    __table_args__ = (Index(None, "outage_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[str] = mapped_column(Text)  # JSON {"field": [before, after], ...}


class ApiTokenRow(Base):
    """A user's API token (kb.identity.tokens): only its SHA-256 is kept; `prefix` names it in logs
    and lists without revealing it. It acts with its user's role, while the user is active."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the `kb` command
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyKeyRow(Base):
    """The first answer to a POST sent with an Idempotency-Key, per user: a retry gets it again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("uq_idempotency_keys_user_id_key", "user_id", "key", unique=True),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and body
    status: Mapped[int | None] = mapped_column(Integer)  # None while the first request is running
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScreenPopRow(Base):
    """A case opened for an agent by another system (the telephony's screen pop): the agent's
    browser makes it their current case on its next page or poll."""

    __tablename__ = "screen_pops"

    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- checks shared by users.py, cases.py and webhook.py ------------------------------------------


def check_id(field: str, value: object) -> int:
    """A positive integer id (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(
            field,
            f"The {field.replace('_', ' ')} must be a positive whole number "
            f"(got {type(value).__name__} {value!r:.40}).",
        )
    return value


# C0 controls and DEL (except tab and line breaks), and lone surrogates, which no driver can encode.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_text(
    field: str, value: object, *, label: str, required: bool = True, limit: str | None = None, one_line: bool = False
) -> str:
    """Text stripped of outer white space and control characters (PostgreSQL refuses NUL); with
    `one_line`, every run of white space (line breaks too) becomes one space. Required unless
    `required=False`; at most MAX_LENGTH[limit]."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field, f"The {label} must be text (got {type(value).__name__}).")
    value = _CONTROL.sub("", value).strip()
    if one_line:
        value = " ".join(value.split())
    if required and not value:
        raise InvalidInput(field, f"The {label} is required; fill it in.")
    maximum = MAX_LENGTH[limit or field]
    if len(value) > maximum:
        raise InvalidInput(
            field, f"The {label} is too long ({len(value)} characters); shorten it to at most {maximum}."
        )
    return value


def check_choice(field: str, value: object, choices: tuple[str, ...], *, label: str) -> str:
    """One of `choices`, exactly."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput(field, f"The {label} must be one of {', '.join(choices)} (got {value!r:.40}).")
    return value


def check_article(field: str, value: object) -> str:
    """An article id as in the articles' front matter: lowercase letters, digits and hyphens."""
    if not isinstance(value, str) or not ARTICLE_ID.match(value) or len(value) > MAX_LENGTH["article_id"]:
        raise InvalidInput(
            field,
            f"The article id {value!r:.60} is not valid; use the id from the article "
            "(lowercase letters, digits and hyphens, e.g. dsl-no-sync).",
        )
    return value


def check_articles(field: str, values: object, *, required: bool) -> list[str]:
    """A list of article ids without repeats (in the order given); at least one if `required`."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, set, frozenset)):
        raise InvalidInput(field, "Give the article ids as a list, e.g. ['dsl-no-sync'].")
    ids = list(dict.fromkeys(check_article(field, v) for v in values))
    if required and not ids:
        raise InvalidInput(
            field,
            "Choose at least one article that solved the problem, or close "
            "the case as escalated or unresolved instead.",
        )
    if len(ids) > MAX_ARTICLE_IDS:
        raise InvalidInput(field, f"Give at most {MAX_ARTICLE_IDS} article ids.")
    return ids


def check_step(value: object) -> int:
    """A step number as numbered in an article: 1, 2, 3, ..."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STEP:
        raise InvalidInput(
            "step_number", f"The step number must be a whole number from 1 to {MAX_STEP} (got {value!r:.20})."
        )
    return value


REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{8,64}\Z")


def check_request_id(value: object) -> str | None:
    """A client request id (8 to 64 letters, digits, '-' or '_', e.g. a UUID), or None for none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not REQUEST_ID.match(value):
        raise InvalidInput(
            "request_id",
            "The request id must be 8 to 64 letters, digits, '-' or '_' (a UUID will do); reload the page.",
        )
    return value
