"""The escalation hand-off as the receiving team reads it: in KB_HANDOFF_LANGUAGE, in the app's time zone.

KB_HANDOFF_LANGUAGE (nl or en, default nl; app config, else the environment) is a server setting
for the receiving team, independent of the interface language of the agent who escalates. Times
are shown in BABEL_DEFAULT_TIMEZONE (KB_TIMEZONE, default Europe/Amsterdam). Titles of articles
read in the other language come from the version published in the hand-off language.
"""

from __future__ import annotations

import logging
import os

from flask import current_app

from kb.caselog import cases as caselog
from kb.caselog.handoff import DEFAULT_LANGUAGE, DEFAULT_TIMEZONE, HANDOFF_LANGUAGES, Handoff, build_handoff
from kb.content.articles import Article
from kb.errors import KBError
from webapp import library, workspace

log = logging.getLogger(__name__)


def handoff_language() -> str:
    """KB_HANDOFF_LANGUAGE; an unusable value is logged once and the default (nl) is used."""
    configured = current_app.config.get("KB_HANDOFF_LANGUAGE") or os.environ.get("KB_HANDOFF_LANGUAGE") or ""
    language = str(configured).strip().lower() or DEFAULT_LANGUAGE
    if language in HANDOFF_LANGUAGES:
        return language
    if not current_app.extensions.get("kb_handoff_language_warned"):
        current_app.extensions["kb_handoff_language_warned"] = True
        log.error(
            "KB_HANDOFF_LANGUAGE must be one of %s (found %r); hand-offs are written in %s until it is fixed",
            ", ".join(HANDOFF_LANGUAGES),
            str(configured)[:40],
            DEFAULT_LANGUAGE,
        )
    return DEFAULT_LANGUAGE


def published(article_id: str, lang: str) -> Article | None:
    """The version published now, or None (also when there is no published index yet)."""
    try:
        return library.published(article_id, lang)
    except KBError:
        return None


def handoff_for(case: caselog.Case) -> Handoff:
    """The case's hand-off in the receiving team's language (for the page, the API and the webhook)."""
    return build_handoff(workspace.engine(), case.id, language=handoff_language(), published=published)


def handoff_text(case: caselog.Case) -> str:
    """The hand-off as text to paste, times in the app's time zone with the zone shown."""
    return handoff_for(case).as_text(tz=current_app.config.get("BABEL_DEFAULT_TIMEZONE") or DEFAULT_TIMEZONE)


def outbox(url: str):
    """kb.integrations.webhook.outbox for `url` with the same language and titles as the page shows."""
    from kb.integrations.webhook import outbox as webhook_outbox

    return webhook_outbox(url, language=handoff_language(), published=published)
