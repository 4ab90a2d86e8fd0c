"""Dutch and English: chosen per user, else from the browser; catalogs complete and compiled."""

from __future__ import annotations

import os
import shutil
import stat
from datetime import UTC, datetime

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import g, render_template_string

from kb.identity.users import set_language
from tests.conftest import ROOT
from tests.webapp.conftest import sign_in_as
from webapp.i18n import TRANSLATIONS, compile_catalogs

DUTCH_PO = TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po"


@pytest.mark.parametrize(
    "header, lang, heading",
    [
        ("nl-NL,nl;q=0.9,en;q=0.8", "nl", "Inloggen"),
        ("en-GB,en;q=0.9", "en", "Sign in"),
        ("de-DE,fr;q=0.8", "en", "Sign in"),
        (None, "en", "Sign in"),
    ],
)
def test_browser_language_chooses_the_interface(client, header, lang, heading):
    page = client.get("/auth/login", headers={"Accept-Language": header} if header else {}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page and f"<h1>{heading}</h1>" in page


def test_the_users_language_wins_over_the_browser(app, client, users):
    engine = app.extensions["kb"].engine
    set_language(engine, users["agent"].id, "nl")
    sign_in_as(client, users["agent"])
    page = client.get("/auth/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="nl">' in page and "Je instellingen" in page and "Uitloggen" in page
    set_language(engine, users["agent"].id, None)
    page = client.get("/auth/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Your settings" in page


def test_error_pages_and_library_messages_follow_the_language(client, users):
    page = client.get("/no/such/page", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert "Op dit adres staat geen pagina." in page
    sign_in_as(client, users["agent"])
    page = client.get("/admin/users", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert "Je rol geeft geen toegang tot deze pagina." in page


def test_g_locale_and_formatting_follow_the_user(app):
    template = "{{ g.locale }} {{ format_number(1234567.5) }} {{ format_datetime(when, 'short') }}"
    when = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "nl"}):
        app.preprocess_request()
        assert g.locale == "nl"
        shown = render_template_string(template, when=when)
        assert shown.startswith("nl 1.234.567,5 25-11-2026") and "10:30" in shown  # Amsterdam time
    with app.test_request_context(headers={"Accept-Language": "en"}):
        app.preprocess_request()
        shown = render_template_string(template, when=when)
        assert shown.startswith("en 1,234,567.5 11/25/26") and "10:30" in shown


def test_dutch_catalog_is_complete_for_every_marked_string():
    with DUTCH_PO.open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options = parse_mapping_cfg(fh)
    marked = {
        msg if isinstance(msg, str) else msg[0]
        for _, _, msg, _, _ in extract_from_dir(
            ROOT, method_map, options, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}
        )
    }
    missing = sorted(m for m in marked if m not in translated)
    assert missing == [], "add these to webapp/translations/nl/LC_MESSAGES/messages.po (see babel.cfg)"
    untranslated = sorted(
        m.id for m in catalog if m.id and (not m.string or m.fuzzy or (m.pluralizable and not all(m.string)))
    )
    assert untranslated == []


def webapp_i18n_source_checkout() -> bool:
    import webapp.i18n

    return webapp.i18n.SOURCE_CHECKOUT


def test_compile_catalogs_writes_missing_or_stale_mo_files(tmp_path):
    root = tmp_path / "translations"
    shutil.copytree(
        TRANSLATIONS / "nl" / "LC_MESSAGES", root / "nl" / "LC_MESSAGES", ignore=shutil.ignore_patterns("*.mo")
    )
    mo = root / "nl" / "LC_MESSAGES" / "messages.mo"
    assert compile_catalogs(root) == [mo] and mo.stat().st_size > 1000
    assert stat.S_IMODE(mo.stat().st_mode) == 0o644
    assert compile_catalogs(root) == []  # up to date: nothing written
    po = mo.with_suffix(".po")
    os.utime(po, (mo.stat().st_mtime + 10, mo.stat().st_mtime + 10))
    assert compile_catalogs(root) == [mo]
    assert not list(mo.parent.glob(".messages-*"))  # no temporary files left behind


def test_an_installed_package_never_writes_its_catalogs(make_app, tmp_path, monkeypatch, caplog):
    """Installed (no pyproject.toml beside webapp/), the .mo files come from the build: nothing is written."""
    import webapp.i18n

    root = tmp_path / "site-packages" / "webapp" / "translations"
    shutil.copytree(
        TRANSLATIONS / "nl" / "LC_MESSAGES", root / "nl" / "LC_MESSAGES", ignore=shutil.ignore_patterns("*.mo")
    )
    monkeypatch.setattr(webapp.i18n, "TRANSLATIONS", root)
    monkeypatch.setattr(webapp.i18n, "SOURCE_CHECKOUT", False)
    make_app()
    assert sorted(p.name for p in root.rglob("*")) == ["LC_MESSAGES", "messages.po", "nl"]
    assert "nl has no compiled catalog" in caplog.text


def test_a_source_checkout_compiles_its_catalogs_on_start(make_app):
    assert webapp_i18n_source_checkout()
    mo = DUTCH_PO.with_suffix(".mo")
    mo.unlink(missing_ok=True)
    make_app()
    assert mo.exists() and mo.stat().st_mtime >= DUTCH_PO.stat().st_mtime
