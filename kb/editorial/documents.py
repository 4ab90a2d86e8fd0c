"""Articles in the database: one document per (id, language), every save a revision, a publish workflow.

While the app runs the database is the source of truth, so several app servers sharing it serve
the same articles; the `articles/` folder is the shipped seed and the import/export format
(`import_folder`, `export_folder`, one Markdown file per language version as `kb lint` expects).

A document's status is draft, in_review, published or archived. Saving a published article makes
a draft of the change while agents keep the published text. Publishing works on an article id
(both languages together, since `kb lint` requires both), lints the texts as they would be
published against the rest of what is published, and refuses with every message at its line.
With `review_required` a change is submitted for review first and published by a second editor.
Every change is an `article_edits` row (who, when, a one-line summary, the full text), and each
change to what agents see adds a `content_publications` row that servers poll to re-index.

Nothing here turns user input into a path: ids and languages are checked against fixed patterns,
and only `export_folder` writes files, under the folder it was given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kb.content.articles import LANGUAGES, REVISION_CHARS, Article, article_files, parse_article, read_text
from kb.content.lint import Problem, lint_paths, lint_text
from kb.errors import ArticleError, InvalidInput, KBError, LintFailed, NotFound
from kb.store import engine as db
from kb.store.tables import (
    MAX_LENGTH,
    ArticleDocRow,
    ArticleEditRow,
    ContentPublicationRow,
    UserRow,
    check_id,
    check_text,
)

ARTICLE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
FRONT_STATUS = {"draft": "draft", "in_review": "draft", "published": "published", "archived": "archived"}


class EditConflict(KBError):
    """Someone saved the document after the version the editor opened: nothing was overwritten."""

    def __init__(self, message: str, theirs: Edit, base: Edit | None):
        super().__init__(message)
        self.theirs, self.base = theirs, base


class PublishRefused(KBError):
    """The texts do not lint (every problem is in `problems`), or the workflow does not allow it."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class Edit:
    id: int
    article_id: str
    lang: str
    action: str
    revision: str
    author_id: int | None
    author_name: str | None
    at: datetime
    summary: str
    text: str = field(repr=False)


@dataclass(frozen=True)
class Doc:
    article_id: str
    lang: str
    status: str
    version: int
    head: Edit
    published: Edit | None
    published_at: datetime | None
    searchable_at: datetime | None
    submitted_by: int | None
    updated_at: datetime

    @property
    def unpublished_changes(self) -> bool:
        return self.published is not None and self.head.id != self.published.id and self.status != "archived"

    @property
    def title(self) -> str:
        try:
            return _parsed(self.head.text, self.path).title
        except ArticleError:
            return self.article_id

    @property
    def path(self) -> str:
        return f"{self.lang}/{self.article_id}.md"


@lru_cache(maxsize=4096)
def _parsed(text: str, path: str) -> Article:
    return parse_article(text, path)


@dataclass(frozen=True)
class ImportReport:
    added: int = 0
    changed: int = 0
    unchanged: int = 0


# -- checks -------------------------------------------------------------------------------------------


def check_key(article_id: object, lang: object) -> tuple[str, str]:
    """A valid article id and language, or InvalidInput (never a path: these are patterns, not names)."""
    if not isinstance(article_id, str) or not ARTICLE_ID.match(article_id) or len(article_id) > 200:
        raise InvalidInput(
            "article_id", "The article id must be lowercase words joined by hyphens, e.g. 'dsl-no-sync'."
        )
    if lang not in LANGUAGES:
        raise InvalidInput("lang", f"The language must be one of {', '.join(LANGUAGES)}.")
    return article_id, lang


def clean_article_text(text: object) -> str:
    """The text as stored: a BOM and Windows line ends removed; refused when empty, binary or too long."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("text", "The article is not UTF-8 text; paste it as text.") from None
    if not isinstance(text, str):
        raise InvalidInput("text", "The article must be text.")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    limit = MAX_LENGTH["article_text"]
    if len(text) > limit:
        raise InvalidInput(
            "text", f"The article is {len(text):,} characters; at most {limit:,} fit. Split it into two articles."
        )
    if "\x00" in text or sum(ch < " " and ch not in "\n\t" for ch in text) > 0:
        raise InvalidInput("text", "The article contains binary control characters; paste plain text.")
    if not text.strip():
        raise InvalidInput("text", "The article is empty; start with the '---' front matter block.")
    return text


def _summary(summary: object) -> str:
    return check_text("summary", summary or "", label="change summary", required=False, one_line=True)[
        : MAX_LENGTH["summary"]
    ]


_FRONT = re.compile(r"\A---\n(.*?\n)---\n", re.S)


def set_front_matter(text: str, name: str, value: str) -> str:
    """`text` with the front-matter field `name` set to `value` (added before the closing '---' if absent)."""
    match = _FRONT.match(text)
    if not match:
        return text  # not an article yet; lint says so
    head = match.group(1)
    line = f"{name}: {value}\n"
    pattern = re.compile(rf"^{re.escape(name)}\s*:.*\n", re.M)
    head = pattern.sub(line, head, count=1) if pattern.search(head) else head + line
    return f"---\n{head}---\n" + text[match.end() :]


def revision_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:REVISION_CHARS]


# -- reading ------------------------------------------------------------------------------------------


def _edit(row: ArticleEditRow, names: dict[int, str]) -> Edit:
    return Edit(
        row.id,
        row.article_id,
        row.lang,
        row.action,
        row.revision,
        row.author_id,
        names.get(row.author_id),
        row.at,
        row.summary,
        row.text,
    )


def _names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(UserRow.id, UserRow.display_name).where(UserRow.id.in_(wanted))).all())


def _docs(session: Session, rows: list[ArticleDocRow]) -> list[Doc]:
    """The documents of `rows` with their newest and published revisions (two queries for all of them)."""
    ids = {i for r in rows for i in (r.head_edit_id, r.published_edit_id) if i}
    edits = {e.id: e for e in session.scalars(select(ArticleEditRow).where(ArticleEditRow.id.in_(ids)))}
    names = _names(session, [e.author_id for e in edits.values()])
    return [
        Doc(
            r.article_id,
            r.lang,
            r.status,
            r.version,
            _edit(edits[r.head_edit_id], names),
            _edit(edits[r.published_edit_id], names) if r.published_edit_id else None,
            r.published_at,
            r.searchable_at,
            r.submitted_by,
            r.updated_at,
        )
        for r in rows
    ]


def _doc(session: Session, row: ArticleDocRow) -> Doc:
    return _docs(session, [row])[0]


def get_doc(engine: Engine, article_id: str, lang: str) -> Doc | None:
    article_id, lang = check_key(article_id, lang)
    with db.session_scope(engine, readonly=True) as session:
        row = session.get(ArticleDocRow, (article_id, lang))
        return _doc(session, row) if row else None


def docs(engine: Engine, article_id: str | None = None) -> list[Doc]:
    """Every document (or the language versions of one id), by id then language."""
    with db.session_scope(engine, readonly=True) as session:
        query = select(ArticleDocRow).order_by(ArticleDocRow.article_id, ArticleDocRow.lang)
        if article_id is not None:
            query = query.where(ArticleDocRow.article_id == check_key(article_id, "en")[0])
        rows = session.scalars(query).all()
        return _docs(session, rows) if rows else []


def count_docs(engine: Engine) -> int:
    with db.session_scope(engine, readonly=True) as session:
        return session.scalar(select(func.count()).select_from(ArticleDocRow)) or 0


def history(engine: Engine, article_id: str, lang: str) -> list[Edit]:
    """Every revision of the document, newest first."""
    article_id, lang = check_key(article_id, lang)
    with db.session_scope(engine, readonly=True) as session:
        rows = session.scalars(
            select(ArticleEditRow)
            .where(ArticleEditRow.article_id == article_id, ArticleEditRow.lang == lang)
            .order_by(ArticleEditRow.id.desc())
        ).all()
        names = _names(session, [r.author_id for r in rows])
    return [_edit(r, names) for r in rows]


def get_edit(engine: Engine, edit_id: object) -> Edit:
    edit_id = check_id("edit_id", edit_id)
    with db.session_scope(engine, readonly=True) as session:
        row = session.get(ArticleEditRow, edit_id)
        if row is None:
            raise NotFound(f"There is no revision {edit_id}.")
        return _edit(row, _names(session, [row.author_id]))


def publication_seq(engine: Engine) -> int:
    """The newest change to what agents see; 0 before any. Cheap: servers poll it."""
    with db.session_scope(engine, readonly=True) as session:
        return session.scalar(select(func.max(ContentPublicationRow.id))) or 0


def published_articles(engine: Engine) -> list[Article]:
    """Every published language version, parsed, as search and agents get them."""
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(ArticleDocRow.article_id, ArticleDocRow.lang, ArticleEditRow.text)
            .join(ArticleEditRow, ArticleEditRow.id == ArticleDocRow.published_edit_id)
            .order_by(ArticleDocRow.article_id, ArticleDocRow.lang)
        ).all()
    return [parse_article(text, f"{lang}/{article_id}.md") for article_id, lang, text in rows]


def mark_searchable(engine: Engine, revisions: dict[tuple[str, str], str], at: datetime) -> None:
    """A server now serves these (id, lang) -> revision: record the first time each became searchable."""
    with db.session_scope(engine) as session:
        for row in session.scalars(select(ArticleDocRow).where(ArticleDocRow.published_edit_id.is_not(None))):
            revision = revisions.get((row.article_id, row.lang))
            if revision is None or row.searchable_at is not None:
                continue
            published = session.get(ArticleEditRow, row.published_edit_id)
            if published is not None and published.revision == revision:
                row.searchable_at = at


# -- writing ------------------------------------------------------------------------------------------


def _add_edit(session: Session, article_id, lang, action, text, author_id, summary, now) -> ArticleEditRow:
    row = ArticleEditRow(
        article_id=article_id,
        lang=lang,
        action=action,
        text=text,
        revision=revision_of(text),
        author_id=author_id,
        at=now,
        summary=summary,
    )
    session.add(row)
    session.flush()
    return row


def _actor(session: Session, actor_id: int | None) -> None:
    if actor_id is not None and session.get(UserRow, check_id("actor_id", actor_id)) is None:
        raise NotFound(f"There is no user with id {actor_id}; log in again.")


def save(
    engine: Engine,
    article_id: str,
    lang: str,
    text: object,
    author_id: int,
    summary: object = "",
    base_edit_id: int | None = None,
    *,
    action: str = "save",
) -> Doc:
    """Save a new revision as a draft. `base_edit_id` is the revision the editor opened (None: a new
    document). EditConflict when someone saved after it; nothing is overwritten."""
    article_id, lang = check_key(article_id, lang)
    text = set_front_matter(clean_article_text(text), "status", "draft")
    summary = _summary(summary) or ("New article" if base_edit_id is None else "Edited")
    now = db.utcnow()
    with db.session_scope(engine) as session:
        _actor(session, author_id)
        row = session.get(ArticleDocRow, (article_id, lang), with_for_update=True)
        if row is None:
            if base_edit_id is not None:
                raise NotFound(f"The article {article_id} ({lang}) no longer exists; save it as a new article.")
            edit = _add_edit(session, article_id, lang, action, text, author_id, summary, now)
            row = ArticleDocRow(
                article_id=article_id, lang=lang, status="draft", head_edit_id=edit.id, updated_at=now, version=1
            )
            session.add(row)
            session.flush()
            return _doc(session, row)
        if base_edit_id != row.head_edit_id:
            theirs = get_edit_in(session, row.head_edit_id)
            base = get_edit_in(session, base_edit_id) if base_edit_id else None
            if base is not None and (base.article_id, base.lang) != (article_id, lang):
                base = None
            who = theirs.author_name or "an import"
            what = "created this article" if base_edit_id is None else "saved this article after you opened it"
            raise EditConflict(
                f"{who} {what} (at {theirs.at:%H:%M:%S} UTC); nothing was overwritten. Their version is "
                "shown next to yours: merge your change into it and save again.",
                theirs,
                base,
            )
        head = session.get(ArticleEditRow, row.head_edit_id)
        if head.text == text:
            return _doc(session, row)  # nothing changed: no empty revision
        edit = _add_edit(session, article_id, lang, action, text, author_id, summary, now)
        row.head_edit_id, row.updated_at, row.version = edit.id, now, row.version + 1
        row.status, row.submitted_by = "draft", None  # a change to a published or archived article is a draft
        return _doc(session, row)


def get_edit_in(session: Session, edit_id: int) -> Edit:
    row = session.get(ArticleEditRow, edit_id)
    if row is None:
        raise NotFound(f"There is no revision {edit_id}.")
    return _edit(row, _names(session, [row.author_id]))


def restore(engine: Engine, article_id: str, lang: str, edit_id: int, author_id: int, base_edit_id: int) -> Doc:
    """Make an earlier revision the newest draft again (as a new revision; history is never rewritten)."""
    old = get_edit(engine, edit_id)
    if (old.article_id, old.lang) != check_key(article_id, lang):
        raise InvalidInput("edit_id", "That revision belongs to another article.")
    return save(
        engine,
        article_id,
        lang,
        old.text,
        author_id,
        f"Restored the revision of {old.at:%Y-%m-%d %H:%M} ({old.revision})",
        base_edit_id,
        action="restore",
    )


def submit(engine: Engine, article_id: str, actor_id: int) -> list[Doc]:
    """Ask for review: the drafts of this article (each language with changes) become 'in review'."""
    article_id = check_key(article_id, "en")[0]
    now = db.utcnow()
    with db.session_scope(engine) as session:
        _actor(session, actor_id)
        rows = _rows(session, article_id)
        pending = [r for r in rows if r.status == "draft"]
        if not pending:
            raise PublishRefused("There is no draft of this article to submit for review.")
        for row in pending:
            head = session.get(ArticleEditRow, row.head_edit_id)
            _add_edit(session, article_id, row.lang, "submit", head.text, actor_id, "Submitted for review", now)
            row.status, row.submitted_by, row.updated_at = "in_review", actor_id, now
        return [_doc(session, r) for r in rows]


def _rows(session: Session, article_id: str) -> list[ArticleDocRow]:
    rows = session.scalars(select(ArticleDocRow).where(ArticleDocRow.article_id == article_id).with_for_update()).all()
    if not rows:
        raise NotFound(f"There is no article '{article_id}'.")
    return sorted(rows, key=lambda r: r.lang)


def publish(
    engine: Engine,
    article_id: str,
    actor_id: int,
    *,
    review_required: bool = False,
    today: dt.date | None = None,
) -> list[Doc]:
    """Publish every language of the article with changes (draft or in review), or refuse and say why.

    The texts are linted as they will be published against everything else that is published;
    `updated` is set to today, and with review the approver goes into `reviewed_by`/`reviewed_at`.
    """
    article_id = check_key(article_id, "en")[0]
    now = db.utcnow()
    today = (today or now.date()).isoformat()
    with db.session_scope(engine) as session:
        _actor(session, actor_id)
        rows = _rows(session, article_id)
        pending = [r for r in rows if r.status in ("draft", "in_review")]
        if not pending:
            raise PublishRefused("Nothing to publish: every language of this article is published as it is.")
        if review_required:
            waiting = [r for r in pending if r.status != "in_review"]
            if waiting:
                raise PublishRefused(
                    "Publishing needs a second editor's review here (KB_REVIEW_REQUIRED=1): submit the "
                    "article for review first."
                )
            if any(r.submitted_by == actor_id for r in pending) or any(
                session.get(ArticleEditRow, r.head_edit_id).author_id == actor_id for r in pending
            ):
                raise PublishRefused("Another editor must review and publish your own change.")
        approver = session.get(UserRow, actor_id)
        texts = {}
        for row in pending:
            text = session.get(ArticleEditRow, row.head_edit_id).text
            text = set_front_matter(set_front_matter(text, "status", "published"), "updated", today)
            if review_required:
                text = set_front_matter(set_front_matter(text, "reviewed_by", approver.username), "reviewed_at", today)
            texts[row.lang] = text
        problems = _lint_for_publishing(session, article_id, texts)
        if problems:
            raise PublishRefused(
                f"The article has {len(problems)} lint problem(s); nothing was published. Fix them and publish again.",
                problems,
            )
        summary = "Reviewed and published" if review_required else "Published"
        for row in pending:
            edit = _add_edit(session, article_id, row.lang, "publish", texts[row.lang], actor_id, summary, now)
            row.head_edit_id = row.published_edit_id = edit.id
            row.status, row.published_at, row.searchable_at, row.updated_at = "published", now, None, now
            row.submitted_by = None
        session.add(ContentPublicationRow(at=now, actor_id=actor_id, article_id=article_id, action="publish"))
        session.flush()
        return [_doc(session, r) for r in rows]


def _lint_for_publishing(session: Session, article_id: str, texts: dict[str, str]) -> list[Problem]:
    others = []
    for other_id, lang, text in session.execute(
        select(ArticleDocRow.article_id, ArticleDocRow.lang, ArticleEditRow.text).join(
            ArticleEditRow, ArticleEditRow.id == ArticleDocRow.published_edit_id
        )
    ):
        if other_id == article_id and lang in texts:
            continue
        try:
            others.append(parse_article(text, f"{lang}/{other_id}.md"))
        except ArticleError:
            continue
    mine = []
    for lang, text in texts.items():
        try:
            mine.append(parse_article(text, f"{lang}/{article_id}.md"))
        except ArticleError:
            pass
    problems = []
    for lang, text in texts.items():
        problems += lint_text(text, f"{lang}/{article_id}.md", [*others, *mine])
    return problems


def archive(engine: Engine, article_id: str, actor_id: int, reason: object = "") -> list[Doc]:
    """Take the article out of search (every language). Cases that used it keep the text they saw."""
    article_id = check_key(article_id, "en")[0]
    summary = _summary(reason) or "Archived"
    now = db.utcnow()
    with db.session_scope(engine) as session:
        _actor(session, actor_id)
        rows = _rows(session, article_id)
        if all(r.status == "archived" for r in rows):
            raise PublishRefused("The article is archived already.")
        for row in rows:
            head = session.get(ArticleEditRow, row.head_edit_id)
            edit = _add_edit(
                session,
                article_id,
                row.lang,
                "archive",
                set_front_matter(head.text, "status", "archived"),
                actor_id,
                summary,
                now,
            )
            row.head_edit_id, row.published_edit_id, row.status, row.updated_at = edit.id, None, "archived", now
            row.version += 1
        session.add(ContentPublicationRow(at=now, actor_id=actor_id, article_id=article_id, action="archive"))
        session.flush()
        return [_doc(session, r) for r in rows]


# -- import and export -----------------------------------------------------------------------------


def import_folder(engine: Engine, root: Path, actor_id: int | None = None) -> ImportReport:
    """Load the articles of `root` (as `kb lint` reads them) into the database; lint first.

    A file whose text is the document's newest (or published) text changes nothing, so importing
    the same files twice, or importing what `export_folder` wrote, is a no-op. A changed file is a
    new revision with the file's status: published files are published at once.
    """
    root = Path(root)
    problems = lint_paths([root], context_root=root)
    if problems:
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise LintFailed(f"{len(problems)} lint problem(s) in {root}; nothing was imported:\n{shown}{more}")
    files = [(path, read_text(path)) for path in article_files(root)]
    now = db.utcnow()
    added = changed = unchanged = 0
    touched: set[str] = set()
    with db.session_scope(engine) as session:
        _actor(session, actor_id)
        for path, text in files:
            text = clean_article_text(text)
            article = parse_article(text, path)
            article_id, lang = check_key(article.id, article.lang)
            status = {"published": "published", "archived": "archived"}.get(article.status, "draft")
            row = session.get(ArticleDocRow, (article_id, lang), with_for_update=True)
            if row is not None:
                head = session.get(ArticleEditRow, row.head_edit_id)
                live = session.get(ArticleEditRow, row.published_edit_id) if row.published_edit_id else None
                if head.text == text or (status == "published" and live is not None and live.text == text):
                    unchanged += 1
                    continue
            summary = f"Imported from {Path(path).parent.name}/{Path(path).name}"
            edit = _add_edit(session, article_id, lang, "import", text, actor_id, summary, now)
            if row is None:
                row = ArticleDocRow(article_id=article_id, lang=lang, version=0, head_edit_id=edit.id, updated_at=now)
                session.add(row)
                added += 1
            else:
                changed += 1
            was_live = row.published_edit_id is not None
            row.head_edit_id, row.status, row.updated_at, row.version = edit.id, status, now, (row.version or 0) + 1
            if status == "published":
                row.published_edit_id, row.published_at, row.searchable_at = edit.id, now, None
            elif status == "archived":
                row.published_edit_id = None
            if status == "published" or was_live:
                touched.add(article_id)
        for article_id in sorted(touched):
            session.add(ContentPublicationRow(at=now, actor_id=actor_id, article_id=article_id, action="import"))
    return ImportReport(added, changed, unchanged)


def export_folder(engine: Engine, dest: Path) -> int:
    """Write every published revision as `dest/<lang>/<id>.md`; returns the number of files."""
    dest = Path(dest)
    count = 0
    for article in published_articles(engine):
        target = dest / article.lang / f"{article.id}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(article.text, encoding="utf-8")
        count += 1
    return count
