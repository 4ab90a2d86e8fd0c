"""The knowledge editors' pages: the worklist, the article list, the editor with live preview and
lint, the workflow (save, submit for review, publish, archive, restore), history with diffs, and
resolving agents' flags.

Articles are stored in the database (kb.editorial.documents); publishing makes this server rebuild
its index at once and waits up to PUBLISH_WAIT_SECONDS for it, so the editor is told when the new
text is searchable; every other server follows within its poll interval (kb.editorial.sync).
What an editor typed is never lost: every refusal (lint, conflict, bad input, database away)
shows the form again with their text in it.
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import SQLAlchemyError

from kb.content.articles import LANGUAGES, parse_article
from kb.content.lint import lint_text
from kb.content.render import render_article
from kb.editorial import documents as docs
from kb.editorial import flags as flagging
from kb.editorial.documents import ARTICLE_ID, EditConflict, PublishRefused
from kb.errors import ArticleError, InvalidInput, KBError, NotFound
from webapp import library
from webapp.labels import (
    CATEGORY_LABELS,
    CONNECTION_LABELS,
    DOC_STATUS_LABELS,
    FLAG_REASON_LABELS,
    TEAM_LABELS,
)
from webapp.security import EDITOR_ROLES, roles

bp = Blueprint("editor", __name__, url_prefix="/editor")
log = logging.getLogger(__name__)

PUBLISH_WAIT_SECONDS = 5.0
STATUS_LABELS = DOC_STATUS_LABELS
ACTION_LABELS = {
    "import": lazy_gettext("Imported"),
    "save": lazy_gettext("Saved"),
    "submit": lazy_gettext("Submitted for review"),
    "approve": lazy_gettext("Approved"),
    "publish": lazy_gettext("Published"),
    "archive": lazy_gettext("Archived"),
    "restore": lazy_gettext("Restored"),
}
REASON_LABELS = FLAG_REASON_LABELS
NOT_SAVED = lazy_gettext(
    "Could not save: the database cannot be written right now. Your text is kept below; try again in a moment."
)


MAX_EDITOR_BODY = 4 * 1024 * 1024  # a pasted article far over the limit still gets a message, not a 413


def _engine():
    return current_app.extensions["kb"].engine


@bp.before_request
def _room_for_long_articles() -> None:
    request.max_content_length = request.max_form_memory_size = MAX_EDITOR_BODY


def review_required() -> bool:
    return os.environ.get("KB_REVIEW_REQUIRED", "") == "1" or bool(current_app.config.get("KB_REVIEW_REQUIRED"))


def _key(article_id: str, lang: str) -> tuple[str, str]:
    """The (id, language) of a URL, or 404: URL parts never become anything but these two patterns."""
    if not ARTICLE_ID.match(article_id) or len(article_id) > 200 or lang not in LANGUAGES:
        abort(404)
    return article_id, lang


# -- the article list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    article_id: str
    title: str
    versions: dict  # lang -> Doc


@bp.get("/articles")
@roles(*EDITOR_ROLES)
def articles():
    """Every article with the status of each language; filter by status."""
    wanted = request.args.get("status")
    rows: dict[str, Row] = {}
    for doc in docs.docs(_engine()):
        row = rows.setdefault(doc.article_id, Row(doc.article_id, doc.title, {}))
        row.versions[doc.lang] = doc
        if doc.lang == g.locale:
            rows[doc.article_id] = Row(doc.article_id, doc.title, row.versions)
    found = sorted(rows.values(), key=lambda r: r.title.casefold())
    if wanted in STATUS_LABELS:
        found = [r for r in found if any(d.status == wanted for d in r.versions.values())]
    counts = {
        status: sum(any(d.status == status for d in r.versions.values()) for r in rows.values())
        for status in STATUS_LABELS
    }
    return render_template(
        "editor/articles.html",
        rows=found,
        wanted=wanted,
        counts=counts,
        total=len(rows),
        status_labels=STATUS_LABELS,
        languages=LANGUAGES,
    )


# -- editing ------------------------------------------------------------------------------------------


def _lint(text: str, article_id: str, lang: str) -> list:
    return lint_text(text, f"{lang}/{article_id}.md", library.published_for_lint())


def _preview(text: str, article_id: str, lang: str):
    """(rendered page or None, the lint problems): the preview agents would see, through the same renderer."""
    problems = _lint(text, article_id, lang)
    try:
        article = parse_article(text, f"{lang}/{article_id}.md")
    except ArticleError:
        return None, problems
    return render_article(article), problems


def _edit_page(
    article_id: str,
    lang: str,
    *,
    text: str,
    summary: str = "",
    base_edit_id: int | None,
    status: int = 200,
    error: str | None = None,
    conflict: EditConflict | None = None,
    problems=None,
    new: bool = False,
):
    doc = None if new else docs.get_doc(_engine(), article_id, lang)
    page, found = _preview(text, article_id, lang)
    siblings = {d.lang: d for d in docs.docs(_engine(), article_id)} if not new else {}
    conflict_diff = None
    if conflict is not None:
        conflict_diff = _diff(conflict.base.text if conflict.base else "", conflict.theirs.text)
    return render_template(
        "editor/edit.html",
        article_id=article_id,
        lang=lang,
        doc=doc,
        new=new,
        text=text,
        summary=summary,
        base_edit_id=base_edit_id,
        page=page,
        problems=problems if problems is not None else found,
        error=error,
        conflict=conflict,
        conflict_diff=conflict_diff,
        siblings=siblings,
        languages=LANGUAGES,
        status_labels=STATUS_LABELS,
        review_required=review_required(),
        open_flags=flagging.list_flags(_engine(), article_id=article_id) if not new else [],
        reason_labels=REASON_LABELS,
        categories=CATEGORY_LABELS,
        connections=CONNECTION_LABELS,
        teams=TEAM_LABELS,
    ), status


NEW_TEMPLATE = """---
id: {id}
lang: {lang}
title: "{title}"
category: connectivity
tags: []
symptoms:
{symptoms}
applies_to:
  connection: [any]
escalate_to: tier2
related: []
status: draft
updated: {today}
owner: kb-editors
---

## {h_symptoms}

{symptom_lines}

## {h_causes}

- {cause_hint}

## {h_steps}

{steps}

## {h_escalate}

- {escalate_hint}

## {h_explain}

"""
HEADINGS = {
    "en": (
        "Symptoms",
        "Causes",
        "Steps",
        "When to escalate",
        "Explain to the customer",
        "Expected",
        "(what causes this)",
        "(when to hand the case on, and to whom)",
    ),
    "nl": (
        "Symptomen",
        "Oorzaken",
        "Stappen",
        "Wanneer escaleren",
        "Uitleg voor de klant",
        "Verwacht",
        "(wat dit veroorzaakt)",
        "(wanneer en aan wie je de case doorgeeft)",
    ),
}


def draft_text(article_id: str, lang: str, title: str = "", symptoms=(), steps=()) -> str:
    """A new article's starting text in the house format, prefilled from a case when there is one."""
    from kb.store.engine import utcnow

    h = HEADINGS[lang]
    symptoms = [s for s in symptoms if s.strip()][:8] or [""]
    quoted = [s.replace('"', "'").replace("\n", " ").strip() for s in symptoms]
    steps = list(steps)[:15] or [(" ", " ")]
    return NEW_TEMPLATE.format(
        id=article_id,
        lang=lang,
        title=title.replace('"', "'"),
        symptoms="\n".join(f'  - "{s}"' for s in quoted),
        today=utcnow().date().isoformat(),
        h_symptoms=h[0],
        symptom_lines="\n".join(f"- {s}" for s in quoted),
        h_causes=h[1],
        h_steps=h[2],
        steps="\n".join(
            f"{n}. {action.strip()}\n   {h[5]}: {(expected or '').strip()}"
            for n, (action, expected) in enumerate(steps, 1)
        ),
        h_escalate=h[3],
        h_explain=h[4],
        cause_hint=h[6],
        escalate_hint=h[7],
    )


@bp.get("/new")
@roles(*EDITOR_ROLES)
def new():
    """A new article; `from_case=N` prefills symptoms from the case's problem and searches and the steps tried."""
    lang = request.args.get("lang") if request.args.get("lang") in LANGUAGES else g.locale
    symptoms, steps, title = [], [], ""
    case_id = request.args.get("from_case", type=int)
    if case_id:
        from webapp.worklist import case_material

        material = case_material(case_id)
        if material is None:
            abort(404)
        title, symptoms, steps = material
    return _edit_page(
        "",
        lang,
        text=draft_text("new-article-id", lang, title, symptoms, steps),
        base_edit_id=None,
        new=True,
    )


@bp.post("/new")
@roles(*EDITOR_ROLES)
def create():
    text, summary = request.form.get("text", ""), request.form.get("summary", "")
    article_id, lang = request.form.get("article_id", ""), request.form.get("lang", "")
    try:
        article = parse_article(docs.clean_article_text(text), "new.md")
        article_id = article_id or article.id
        lang = lang if lang in LANGUAGES else article.lang
        if article.id != article_id or article.lang != lang:
            raise InvalidInput(
                "text", f"The text says id '{article.id}', lang '{article.lang}': make them match the fields above."
            )
        if docs.get_doc(_engine(), article_id, lang) is not None:
            raise InvalidInput(
                "article_id", f"There is already an article '{article_id}' in {lang}; open it to edit it."
            )
        doc = docs.save(_engine(), article_id, lang, text, g.user.id, summary or "New article")
    except (InvalidInput, ArticleError, NotFound) as exc:
        message = exc.message if isinstance(exc, (InvalidInput, NotFound)) else str(exc)
        return _edit_page(
            article_id if ARTICLE_ID.match(article_id or "") else "",
            lang if lang in LANGUAGES else g.locale,
            text=text,
            summary=summary,
            base_edit_id=None,
            status=400,
            error=message,
            new=True,
        )
    except SQLAlchemyError as exc:
        log.error("could not save a new article: %s", type(exc).__name__)
        return _edit_page(
            "", g.locale, text=text, summary=summary, base_edit_id=None, status=503, error=str(NOT_SAVED), new=True
        )
    flash(gettext("Draft saved. Publish it when both languages are ready."), "info")
    return redirect(url_for("editor.edit", article_id=doc.article_id, lang=doc.lang))


@bp.get("/articles/<article_id>/<lang>")
@roles(*EDITOR_ROLES)
def edit(article_id: str, lang: str):
    article_id, lang = _key(article_id, lang)
    doc = docs.get_doc(_engine(), article_id, lang)
    if doc is None:
        others = docs.docs(_engine(), article_id)
        if not others:
            abort(404)
        # The other language exists: start this one from it (translate in place).
        source = others[0].head.text
        text = source.replace(f"lang: {others[0].lang}", f"lang: {lang}", 1)
        return _edit_page(article_id, lang, text=text, base_edit_id=None, new=True)
    return _edit_page(article_id, lang, text=doc.head.text, base_edit_id=doc.head.id)


@bp.post("/articles/<article_id>/<lang>/save")
@roles(*EDITOR_ROLES)
def save(article_id: str, lang: str):
    article_id, lang = _key(article_id, lang)
    form = request.form
    text, summary = form.get("text", ""), form.get("summary", "")
    base = form.get("base_edit_id", type=int)
    try:
        article = parse_article(docs.clean_article_text(text), f"{lang}/{article_id}.md")
        if article.id != article_id or article.lang != lang:
            raise InvalidInput(
                "text",
                f"The text says id '{article.id}', lang '{article.lang}' but this is {article_id} ({lang}): "
                "an id cannot change; create a new article for a new id.",
            )
        docs.save(_engine(), article_id, lang, text, g.user.id, summary, base)
    except EditConflict as exc:
        return _edit_page(
            article_id,
            lang,
            text=text,
            summary=summary,
            base_edit_id=exc.theirs.id,
            status=409,
            error=str(exc),
            conflict=exc,
        )
    except (InvalidInput, ArticleError, NotFound) as exc:
        message = exc.message if isinstance(exc, (InvalidInput, NotFound)) else str(exc)
        return _edit_page(article_id, lang, text=text, summary=summary, base_edit_id=base, status=400, error=message)
    except SQLAlchemyError as exc:
        log.error("could not save article %s (%s): %s", article_id, lang, type(exc).__name__)
        return _edit_page(
            article_id, lang, text=text, summary=summary, base_edit_id=base, status=503, error=str(NOT_SAVED)
        )
    flash(gettext("Draft saved."), "info")
    return redirect(url_for("editor.edit", article_id=article_id, lang=lang))


@bp.post("/preview")
@roles(*EDITOR_ROLES)
def preview():
    """Live preview and lint for the editor's script: in {article_id, lang, text}; out {html, problems}."""
    data = request.get_json(silent=True) if request.is_json else None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return {"error": gettext('Send a JSON object: {"article_id": ..., "lang": ..., "text": ...}.')}, 400
    article_id, lang = data.get("article_id") or "new-article-id", data.get("lang")
    if not isinstance(article_id, str) or not ARTICLE_ID.match(article_id) or lang not in LANGUAGES:
        return {"error": gettext("Give a valid article id and language.")}, 400
    try:
        text = docs.clean_article_text(data["text"])
    except InvalidInput as exc:
        return {"html": "", "problems": [{"line": 1, "message": exc.message, "hint": ""}]}
    page, problems = _preview(text, article_id, lang)
    html = render_template("editor/_preview.html", page=page, teams=TEAM_LABELS) if page else ""
    return jsonify(
        {"html": html, "problems": [{"line": p.line, "message": p.message, "hint": p.hint} for p in problems]}
    )


# -- the workflow -------------------------------------------------------------------------------------


def _after_publication(article_id: str, lang: str, verb: str):
    """Make this server serve it now (and say when), then back to the editor."""
    sync = current_app.extensions.get("kb_index_sync")
    seq = docs.publication_seq(_engine())
    if sync is not None and sync.wait_for(seq, PUBLISH_WAIT_SECONDS):
        doc = docs.get_doc(_engine(), article_id, lang)
        when = doc.searchable_at if doc and doc.searchable_at else None
        flash(
            gettext("%(verb)s; searchable on this server since %(time)s.", verb=verb, time=when.strftime("%H:%M:%S"))
            if when
            else gettext("%(verb)s; this server serves it now.", verb=verb),
            "info",
        )
    else:
        error = sync.last_error if sync is not None else None
        flash(
            gettext("%(verb)s. This server is still re-indexing; it is searchable within seconds.", verb=verb)
            if not error
            else gettext(
                "%(verb)s, but this server could not re-index yet (%(error)s); it keeps trying.", verb=verb, error=error
            ),
            "info" if not error else "error",
        )
    return redirect(url_for("editor.edit", article_id=article_id, lang=lang))


@bp.post("/articles/<article_id>/<lang>/publish")
@roles(*EDITOR_ROLES)
def publish(article_id: str, lang: str):
    article_id, lang = _key(article_id, lang)
    try:
        docs.publish(_engine(), article_id, g.user.id, review_required=review_required())
    except PublishRefused as exc:
        doc = docs.get_doc(_engine(), article_id, lang)
        if doc is None:
            abort(404)
        return _edit_page(
            article_id,
            lang,
            text=doc.head.text,
            base_edit_id=doc.head.id,
            status=400,
            error=str(exc),
            problems=exc.problems or None,
        )
    except NotFound:
        abort(404)
    except SQLAlchemyError as exc:
        log.error("could not publish %s: %s", article_id, type(exc).__name__)
        flash(str(NOT_SAVED), "error")
        return redirect(url_for("editor.edit", article_id=article_id, lang=lang))
    return _after_publication(article_id, lang, gettext("Published"))


@bp.post("/articles/<article_id>/<lang>/submit")
@roles(*EDITOR_ROLES)
def submit(article_id: str, lang: str):
    article_id, lang = _key(article_id, lang)
    try:
        docs.submit(_engine(), article_id, g.user.id)
    except PublishRefused as exc:
        flash(str(exc), "error")
    except NotFound:
        abort(404)
    else:
        flash(gettext("Submitted for review: another editor can now publish it."), "info")
    return redirect(url_for("editor.edit", article_id=article_id, lang=lang))


@bp.post("/articles/<article_id>/<lang>/archive")
@roles(*EDITOR_ROLES)
def archive(article_id: str, lang: str):
    article_id, lang = _key(article_id, lang)
    try:
        docs.archive(_engine(), article_id, g.user.id, request.form.get("reason", ""))
    except (PublishRefused, InvalidInput) as exc:
        flash(str(exc), "error")
        return redirect(url_for("editor.edit", article_id=article_id, lang=lang))
    except NotFound:
        abort(404)
    return _after_publication(article_id, lang, gettext("Archived: no longer in search; cases keep what they saw"))


@bp.get("/articles/<article_id>/<lang>/history")
@roles(*EDITOR_ROLES)
def history(article_id: str, lang: str):
    """Every revision; `a` and `b` (revision numbers) show the difference between two."""
    article_id, lang = _key(article_id, lang)
    edits = docs.history(_engine(), article_id, lang)
    if not edits:
        abort(404)
    by_id = {e.id: e for e in edits}
    b = by_id.get(request.args.get("b", type=int)) or edits[0]
    a = by_id.get(request.args.get("a", type=int)) or (edits[1] if len(edits) > 1 else None)
    doc = docs.get_doc(_engine(), article_id, lang)
    return render_template(
        "editor/history.html",
        article_id=article_id,
        lang=lang,
        doc=doc,
        edits=edits,
        a=a,
        b=b,
        diff=_diff(a.text if a else "", b.text),
        action_labels=ACTION_LABELS,
        status_labels=STATUS_LABELS,
    )


def _diff(before: str, after: str) -> list[tuple[str, str]]:
    """(kind, line) pairs of a unified diff: kind is 'add', 'del', 'hunk' or 'same'. Escaped by the template."""
    lines = []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        lines.append((kind, line))
    return lines


@bp.post("/articles/<article_id>/<lang>/restore")
@roles(*EDITOR_ROLES)
def restore(article_id: str, lang: str):
    article_id, lang = _key(article_id, lang)
    edit_id = request.form.get("edit_id", type=int)
    base = request.form.get("base_edit_id", type=int)
    try:
        docs.restore(_engine(), article_id, lang, edit_id, g.user.id, base)
    except EditConflict as exc:
        flash(str(exc), "error")
        return redirect(url_for("editor.history", article_id=article_id, lang=lang))
    except (InvalidInput, NotFound) as exc:
        flash(exc.message, "error")
        return redirect(url_for("editor.history", article_id=article_id, lang=lang))
    flash(gettext("The earlier revision is the newest draft again; publish it to make it live."), "info")
    return redirect(url_for("editor.edit", article_id=article_id, lang=lang))


# -- flags ---------------------------------------------------------------------------------------------


@bp.post("/flags/<int:flag_id>/resolve")
@roles(*EDITOR_ROLES)
def resolve_flag(flag_id: int):
    form = request.form
    try:
        flag = flagging.get_flag(_engine(), flag_id)
        fixed = None
        if form.get("outcome") == "fixed":
            doc = docs.get_doc(_engine(), flag.article_id, flag.lang)
            fixed = doc.published.revision if doc and doc.published else None
        flagging.resolve_flag(_engine(), flag_id, g.user.id, form.get("outcome", ""), form.get("note", ""), fixed)
    except NotFound:
        abort(404)
    except InvalidInput as exc:
        flash(exc.message, "error")
    else:
        flash(gettext("The flag is resolved; the agent who raised it sees the outcome."), "info")
    return redirect(url_for("editor.worklist") + "#flags")


@bp.get("/")
@roles(*EDITOR_ROLES)
def worklist():
    from webapp.worklist import worklist_page

    return worklist_page()


def init_app(app) -> None:
    """Templates get the status labels."""
    app.jinja_env.globals.update(editor_status_labels=STATUS_LABELS)


__all__ = ["bp", "draft_text", "REASON_LABELS", "STATUS_LABELS", "KBError"]
