"""The article versions that case events refer to, kept with their text.

An article can change between the moment an agent reads it and the moment second line reads the
hand-off (or an analyst reads the figures). Every event that refers to an article records its
revision id, and the first time a revision is referred to its text is stored here, so the step
text the agent saw can always be shown again, whatever the knowledge base says today.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kb.content.articles import Article, parse_article
from kb.errors import ArticleError, InvalidInput
from kb.store import engine as db
from kb.store.tables import ArticleRevisionRow

_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def check_version(article_id: str, lang: str, version: Article | None) -> None:
    """Refuse a version that is not of the article the event names."""
    if version is not None and (version.id, version.lang) != (article_id, lang):
        raise InvalidInput(
            "revision",
            f"revision {version.revision} is of {version.id} ({version.lang}), "
            f"not of {article_id} ({lang}); reload the article",
        )


def remember(session: Session, version: Article) -> str:
    """Keep this version's text (once; concurrent writers of the same revision are fine); its revision id."""
    if not version.text:
        raise InvalidInput("revision", f"the text of {version.id} ({version.lang}) is not known; reload the article")
    values = {
        "revision": version.revision,
        "article_id": version.id,
        "lang": version.lang,
        "text": version.text,
        "first_seen": db.utcnow(),
    }
    insert = _INSERT[session.get_bind().dialect.name]
    session.execute(insert(ArticleRevisionRow).values(**values).on_conflict_do_nothing(index_elements=["revision"]))
    return version.revision


def articles_at(engine_or_session: Engine | Session, revisions: set[str]) -> dict[str, Article]:
    """The stored versions with these revision ids, parsed; unknown or unreadable ones are left out."""
    wanted = sorted(r for r in revisions if r)
    if not wanted:
        return {}
    if isinstance(engine_or_session, Session):
        rows = engine_or_session.execute(
            select(ArticleRevisionRow.revision, ArticleRevisionRow.text).where(ArticleRevisionRow.revision.in_(wanted))
        ).all()
    else:
        with db.session_scope(engine_or_session, readonly=True) as session:
            rows = session.execute(
                select(ArticleRevisionRow.revision, ArticleRevisionRow.text).where(
                    ArticleRevisionRow.revision.in_(wanted)
                )
            ).all()
    found = {}
    for revision, text in rows:
        try:
            found[revision] = parse_article(text, f"revision {revision}")
        except ArticleError:
            continue  # stored from a published bundle, so this does not happen; never break a hand-off
    return found


def article_at(engine: Engine, revision: str) -> Article | None:
    """One stored version by its revision id, or None."""
    return articles_at(engine, {revision}).get(revision)
