"""Interface language (Dutch or English) per user, else the browser's, else English.

Translations live in webapp/translations/<lang>/LC_MESSAGES/messages.po; the compiled .mo files
are build output. An installed package gets them from the build (setup.py) and never writes next
to its code; a source checkout (pyproject.toml beside webapp/) compiles them at start-up with
`compile_catalogs` when missing or older than the .po.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from flask import Flask, current_app, g, request
from flask_babel import Babel, format_date, format_datetime, format_number, get_locale

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SOURCE_CHECKOUT = (Path(__file__).resolve().parent.parent / "pyproject.toml").is_file()
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}

log = logging.getLogger(__name__)


def compile_catalogs(root: Path = TRANSLATIONS) -> list[Path]:
    """Write messages.mo next to each messages.po that is newer than it; returns the files written.

    Each .mo is written to a temporary file and renamed, so a worker never reads half a catalog.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(Path(root).glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=".messages-", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as fh:
                write_mo(fh, catalog)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; workers may run as another user
            os.replace(tmp, mo)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(mo)
    return written


def select_locale() -> str:
    """The signed-in user's language, else the best match for Accept-Language, else the default."""
    languages = current_app.config["LANGUAGES"]
    user = g.get("user")
    if user is not None and user.language in languages:
        return user.language
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    """Compile the catalogs, install Flask-Babel, set g.locale and the formatting helpers."""
    if SOURCE_CHECKOUT:
        try:
            compile_catalogs()
        except OSError as exc:  # a read-only checkout: run with the .mo files that are there
            log.warning("could not compile translations in %s: %s", TRANSLATIONS, exc)
    else:
        for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
            if not po.with_suffix(".mo").is_file():
                log.warning("%s has no compiled catalog: the package was not built by setup.py", po.parent.parent.name)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", os.environ.get("KB_TIMEZONE") or "Europe/Amsterdam")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        format_datetime=format_datetime,
        format_date=format_date,
        format_number=format_number,
        language_names=LANGUAGE_NAMES,
    )

    @app.before_request
    def _set_locale() -> None:
        g.locale = str(get_locale())
