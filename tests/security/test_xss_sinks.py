"""Stored and reflected cross-site scripting in every place the app shows text someone typed.

Each payload of the corpus (tests/security/xss.py) is stored in every text field a user can fill
(display name, customer reference, problem, notes, step results, reasons, search queries, content
gaps, webhook errors) and every page that shows them is fetched: it must contain no element,
event handler, style or script URL that the same page with harmless text does not have.
Article Markdown has its own corpus walk in tests/webapp/test_articles_view.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

from kb.caselog import cases as caselog
from kb.caselog.gaps import flag_gap
from kb.errors import InvalidInput
from kb.identity.users import create_user
from kb.integrations.webhook import deliver_pending, queue_handoff
from tests.conftest import write_kb
from tests.security.xss import _IGNORED, BAD_SCHEME, DANGEROUS_TAGS, XSS_PAYLOADS, _Collector
from tests.webapp.conftest import PASSWORD, sign_in_as

HARMLESS = "Modem restarted, light green"


def _signature(html: str) -> tuple[Counter, list[str]]:
    """(the dangerous elements by tag and id/name/type, everything active that must never appear)."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    elements, active = Counter(), []
    for tag, attrs in collector.tags:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc"):
                active.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction", "data") and BAD_SCHEME.match(
                _IGNORED.sub("", value or "").lower()
            ):
                active.append(f"<{tag} {name}={value!r}>")
        if tag in DANGEROUS_TAGS or tag == "a":
            elements[(tag, values.get("id"), values.get("name"), values.get("type"))] += 1
    return elements, active


def _fill(app, text: str, admin) -> tuple[int, list[str]]:
    """An agent named `text` with a case where every field holds `text`; returns (case id, refused fields)."""
    engine = app.extensions["kb"].engine
    refused = []

    def keep(field, make, fallback):
        try:
            return make(text)
        except InvalidInput:  # e.g. a one-line field refuses a line break: the fallback is stored instead
            refused.append(field)
            return make(fallback)

    agent = keep(
        "display_name",
        lambda t: create_user(engine, f"agent{abs(hash(t)) % 10**8}", PASSWORD, "agent", display_name=t),
        HARMLESS,
    )
    case = keep("customer_ref", lambda t: caselog.open_case(engine, agent.id, "chat", t, text, "dsl"), "K-HARMLESS-1")
    caselog.record_search(engine, case.id, agent.id, text, ["dsl-no-sync"])
    caselog.add_note(engine, case.id, agent.id, text)
    caselog.tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 1, result=text)
    flag_gap(_gap_store(app), text, "en", agent.id, case.id)
    caselog.escalate_case(engine, case.id, agent.id, "tier2", text)
    queue_handoff(engine, case.id, "https://tickets.example.com/hook", {"case_id": case.id, "text": text})

    def refuse(url, body):
        raise ConnectionRefusedError(text)

    deliver_pending(engine, post=refuse, max_attempts=1)
    return agent, case.id, refused


def _gap_store(app):
    with app.test_request_context():
        from webapp.queries import gap_store

        return gap_store()


def _pages(app, agent, admin, case_id: int, query: str) -> dict[str, str]:
    client = app.test_client()
    sign_in_as(client, agent)
    pages = {
        "case list": client.get("/cases/"),
        "case page": client.get(f"/cases/{case_id}"),
        "hand-off": client.get(f"/cases/{case_id}/handoff"),
        "search page (reflected)": client.post("/", data={"query": query}),
    }
    sign_in_as(client, admin)
    pages |= {
        "admin: users": client.get("/admin/users"),
        "admin: deliveries": client.get("/admin/deliveries"),
        "admin: the case": client.get(f"/cases/{case_id}"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, (name, response.status_code)
    return {name: response.get_data(as_text=True) for name, response in pages.items()}


@pytest.fixture
def kb_root(tmp_path):
    return write_kb(tmp_path / "articles")


def _app(make_app, kb_root, tmp_path, name: str):
    return make_app(KB_ARTICLES=str(kb_root), KB_DATABASE_URL=f"sqlite:///{tmp_path / name}")


@pytest.fixture
def baseline(make_app, kb_root, tmp_path):
    app = _app(make_app, kb_root, tmp_path, "baseline.db")
    admin = create_user(app.extensions["kb"].engine, "root.admin", PASSWORD, "admin", display_name="Ada")
    agent, case_id, _ = _fill(app, HARMLESS, admin)
    return {name: _signature(html)[0] for name, html in _pages(app, agent, admin, case_id, HARMLESS).items()}


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_stored_or_reflected_text_becomes_active_on_any_page(make_app, kb_root, tmp_path, baseline, payload):
    app = _app(make_app, kb_root, tmp_path, "payload.db")
    admin = create_user(app.extensions["kb"].engine, "root.admin", PASSWORD, "admin", display_name="Ada")
    agent, case_id, refused = _fill(app, payload, admin)
    assert set(refused) <= {"display_name", "customer_ref"}  # only one-line fields may refuse a payload
    for name, html in _pages(app, agent, admin, case_id, payload).items():
        elements, active = _signature(html)
        assert active == [], (name, active)
        extra = elements - baseline[name]
        assert not extra, (name, dict(extra))
        assert payload not in html or "<" not in payload, (name, "the payload is in the page unescaped")
