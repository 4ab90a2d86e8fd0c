"""The supervisor's view: admins see every open case, read any case, and give an open case to another agent."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from kb.caselog import cases as caselog
from kb.identity.users import create_user
from kb.store import engine as db
from kb.store.engine import session_scope
from kb.store.tables import AuditLogRow
from tests.dbfixtures import Clock
from tests.webapp.conftest import PASSWORD, csrf_token, sign_in_as
from webapp import supervisor

REF = "KLANT-778812"
BERT_REF = "KLANT-554433"


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(db, "utcnow", fake)
    return fake


@pytest.fixture
def engine(app):
    return app.extensions["kb"].engine


@pytest.fixture
def bert(engine):
    return create_user(engine, "bert", PASSWORD, "agent", display_name="Bert Bakker")


@pytest.fixture
def cases(engine, users, bert, clock):
    """Anna's case (75 minutes old, an article opened), Bert's (12 minutes old), and a closed one of Anna's."""
    anna = users["agent"]
    annas = caselog.open_case(engine, anna.id, "phone", REF, "Internet down since the storm", "dsl")
    clock.advance(60)
    caselog.record_article_opened(engine, annas.id, anna.id, "fiber-los-red-light", "en")
    clock.advance(60)
    caselog.record_article_opened(engine, annas.id, anna.id, "dsl-no-sync", "en")
    clock.advance(63 * 60)
    berts = caselog.open_case(engine, bert.id, "chat", BERT_REF, "Mail bounces", "fibre")
    closed = caselog.open_case(engine, anna.id, "email", "KLANT-CLOSED", "Slow wifi")
    caselog.close_unresolved(engine, closed.id, anna.id, "callback tomorrow")
    clock.advance(12 * 60)
    return annas, berts, closed


def as_user(app, user):
    client = app.test_client()
    sign_in_as(client, user)
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)


def rows(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<th scope=\"row\">.*?</tr>", page, flags=re.S)


def audits(engine) -> list[dict]:
    with session_scope(engine, readonly=True) as session:
        found = session.scalars(select(AuditLogRow.detail).where(AuditLogRow.action == "reassign_case")).all()
    return [json.loads(detail) for detail in found]


def test_admin_sees_every_open_case_with_agent_age_and_current_article(app, users, cases):
    annas, berts, closed = cases
    page = text_of(as_user(app, users["admin"]).get("/supervisor/cases"))
    anna_row, bert_row = rows(page)  # oldest first
    assert f'href="/supervisor/cases/{annas.id}"' in anna_row and "Agent User" in anna_row and "Phone" in anna_row
    assert "1 h 17 min" in anna_row and "DSL light blinking: no DSL sync" in anna_row
    assert "Fibre modem LOS light red" not in anna_row  # the last article opened is the current one
    assert "1 h 15 min ago" in anna_row  # last activity: the article opened at 09:02
    assert f'href="/supervisor/cases/{berts.id}"' in bert_row and "Bert Bakker" in bert_row and "Chat" in bert_row
    assert "12 min" in bert_row and "none yet" in bert_row
    assert f"/supervisor/cases/{closed.id}" not in page
    assert REF not in page and BERT_REF not in page  # customer references only on the case page
    assert "2 open cases" in page


def test_filter_by_agent_and_sort_by_age(app, users, bert, cases):
    annas, berts, _ = cases
    admin = as_user(app, users["admin"])
    [only] = rows(text_of(admin.get(f"/supervisor/cases?agent={bert.id}")))
    assert f"/supervisor/cases/{berts.id}" in only
    newest_first = rows(text_of(admin.get("/supervisor/cases?sort=newest")))
    assert [f"/supervisor/cases/{berts.id}" in r for r in newest_first] == [True, False]
    everything = rows(text_of(admin.get("/supervisor/cases?agent=nobody&sort=sideways")))
    assert [f"/supervisor/cases/{annas.id}" in r for r in everything] == [True, False]


@pytest.mark.parametrize("role", ["agent", "editor", "analyst"])
def test_other_roles_are_refused(app, users, cases, role):
    annas, *_ = cases
    client = as_user(app, users[role])
    assert client.get("/supervisor/cases").status_code == 403
    assert client.get(f"/supervisor/cases/{annas.id}").status_code == 403
    refused = client.post(f"/supervisor/cases/{annas.id}/reassign", data={"agent": str(users["agent"].id)})
    assert refused.status_code == 403 and REF not in text_of(refused)
    assert caselog.get_case(app.extensions["kb"].engine, annas.id).agent_id == users["agent"].id


def test_only_admins_get_the_nav_link(app, users):
    assert 'href="/supervisor/cases"' in text_of(as_user(app, users["admin"]).get("/auth/account"))
    assert 'href="/supervisor/cases"' not in text_of(as_user(app, users["agent"]).get("/auth/account"))


def test_the_case_view_is_read_only(app, users, bert, cases):
    annas, *_ = cases
    page = text_of(as_user(app, users["admin"]).get(f"/supervisor/cases/{annas.id}"))
    assert REF in page and "Internet down since the storm" in page and "Agent User" in page
    assert "Case opened" in page and "Opened article" in page and "DSL light blinking: no DSL sync" in page
    actions = re.findall(r'<form[^>]*action="([^"]+)"', page)
    assert [a for a in actions if a != "/auth/logout"] == [f"/supervisor/cases/{annas.id}/reassign"]
    choices = re.findall(r'<option value="(\d+)"', page)
    assert choices == [str(bert.id)]  # active agents other than the one who has it


def test_unknown_case_is_404(app, users, cases):
    admin = as_user(app, users["admin"])
    assert admin.get("/supervisor/cases/99999").status_code == 404
    assert admin.post("/supervisor/cases/99999/reassign", data={"agent": "1", "reason": "x"}).status_code == 404


def test_reassign_moves_the_case_to_the_new_agent(app, engine, users, bert, cases):
    annas, berts, _ = cases
    anna = users["agent"]
    annas_client = as_user(app, anna)
    assert annas_client.post(f"/cases/{annas.id}/current").status_code == 302
    searched = len(caselog.timeline(engine, annas.id))
    annas_client.post("/", data={"query": "dsl light blinking"})
    assert len(caselog.timeline(engine, annas.id)) == searched + 1  # her searches are logged on it now
    admin = as_user(app, users["admin"])

    response = admin.post(
        f"/supervisor/cases/{annas.id}/reassign", data={"agent": str(bert.id), "reason": "Shift ends"}
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/supervisor/cases/{annas.id}"
    page = text_of(admin.get(response.headers["Location"]))
    assert f"Case {annas.id} is now with Bert Bakker." in page
    assert "Reassigned" in page and "from Agent User to Bert Bakker" in page and "Shift ends" in page
    assert caselog.get_case(engine, annas.id).agent_id == bert.id
    assert audits(engine) == [{"from_agent_id": anna.id, "to_agent_id": bert.id, "reason": "Shift ends"}]

    berts_page = text_of(as_user(app, bert).get("/cases/"))
    assert f'href="/cases/{annas.id}"' in berts_page and f'href="/cases/{berts.id}"' in berts_page
    own_page = as_user(app, bert).get(f"/cases/{annas.id}")  # the agent's case page shows the event
    assert own_page.status_code == 200 and "Reassigned" in text_of(own_page) and "Shift ends" in text_of(own_page)
    assert as_user(app, bert).get(f"/cases/{annas.id}/handoff").status_code == 200

    # Anna's current case is gone: her next page forgets it and her searches are not logged on it.
    assert f'href="/cases/{annas.id}"' not in text_of(annas_client.get("/cases/"))
    with annas_client.session_transaction() as session:
        assert "case_id" not in session
    before = len(caselog.timeline(engine, annas.id))
    annas_client.post("/", data={"query": "modem has no sync"})
    assert len(caselog.timeline(engine, annas.id)) == before
    assert annas_client.get(f"/cases/{annas.id}").status_code == 404


def test_reassign_needs_the_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    engine = app.extensions["kb"].engine
    anna = create_user(engine, "anna", PASSWORD, "agent")
    bert = create_user(engine, "bert", PASSWORD, "agent")
    ada = create_user(engine, "ada", PASSWORD, "admin")
    case = caselog.open_case(engine, anna.id, "phone", REF, "no sync", "dsl")
    admin = as_user(app, ada)
    data = {"agent": str(bert.id), "reason": "Shift ends"}
    assert admin.post(f"/supervisor/cases/{case.id}/reassign", data=data).status_code == 400
    assert admin.post(f"/supervisor/cases/{case.id}/reassign", data={**data, "csrf_token": "forged"}).status_code == 400
    assert caselog.get_case(engine, case.id).agent_id == anna.id and audits(engine) == []
    token = csrf_token(admin, f"/supervisor/cases/{case.id}")
    done = admin.post(f"/supervisor/cases/{case.id}/reassign", data={**data, "csrf_token": token})
    assert done.status_code == 303 and caselog.get_case(engine, case.id).agent_id == bert.id


@pytest.mark.parametrize("agent", ["99999", "abc", "", "editor", "-1", "1e3"])
def test_a_bad_agent_is_refused_and_the_reason_kept(app, engine, users, cases, agent):
    annas, *_ = cases
    chosen = str(users["editor"].id) if agent == "editor" else agent
    response = as_user(app, users["admin"]).post(
        f"/supervisor/cases/{annas.id}/reassign", data={"agent": chosen, "reason": "Shift <ends>"}
    )
    page = text_of(response)
    assert response.status_code == 400
    assert "Choose the agent to give the case to from the list of active agents." in page
    assert "Shift &lt;ends&gt;</textarea>" in page
    assert caselog.get_case(engine, annas.id).agent_id == users["agent"].id and audits(engine) == []


def test_the_same_agent_is_refused(app, engine, users, cases):
    annas, *_ = cases
    response = as_user(app, users["admin"]).post(
        f"/supervisor/cases/{annas.id}/reassign", data={"agent": str(users["agent"].id), "reason": "Shift ends"}
    )
    assert response.status_code == 400
    assert f"Case {annas.id} is already with Agent User; choose another agent." in text_of(response)
    assert audits(engine) == []


def test_a_missing_reason_is_refused_and_the_agent_kept(app, engine, users, bert, cases):
    annas, *_ = cases
    response = as_user(app, users["admin"]).post(
        f"/supervisor/cases/{annas.id}/reassign", data={"agent": str(bert.id), "reason": "  "}
    )
    page = text_of(response)
    assert response.status_code == 400 and "Give the reason (at most 2000 characters)." in page
    assert f'<option value="{bert.id}" selected>' in page
    assert caselog.get_case(engine, annas.id).agent_id == users["agent"].id


def test_a_closed_case_has_no_reassign_form_and_is_refused(app, engine, users, bert, cases):
    _, _, closed = cases
    admin = as_user(app, users["admin"])
    page = text_of(admin.get(f"/supervisor/cases/{closed.id}"))
    assert "KLANT-CLOSED" in page and 'id="reassign-form"' not in page
    response = admin.post(f"/supervisor/cases/{closed.id}/reassign", data={"agent": str(bert.id), "reason": "late"})
    assert response.status_code == 409 and "closed meanwhile and can no longer be reassigned" in text_of(response)
    assert caselog.get_case(engine, closed.id).agent_id == users["agent"].id


def test_a_database_failure_keeps_the_form_and_logs_only_the_case_id(app, users, bert, cases, caplog, monkeypatch):
    annas, *_ = cases

    def unwritable(*args, **kwargs):
        raise OperationalError("UPDATE cases", {}, Exception("database is locked"))

    monkeypatch.setattr(supervisor, "reassign_case", unwritable)
    with caplog.at_level(logging.INFO):
        response = as_user(app, users["admin"]).post(
            f"/supervisor/cases/{annas.id}/reassign", data={"agent": str(bert.id), "reason": "Shift ends"}
        )
    page = text_of(response)
    assert response.status_code == 503 and "the database cannot be written right now" in page
    assert "Shift ends</textarea>" in page and f'<option value="{bert.id}" selected>' in page
    assert f"could not reassign case {annas.id}: OperationalError" in caplog.text
    assert REF not in caplog.text and "Shift ends" not in caplog.text


def test_dutch_labels(app, users, bert, cases):
    annas, *_ = cases
    admin = as_user(app, users["admin"])
    admin.post(f"/supervisor/cases/{annas.id}/reassign", data={"agent": str(bert.id), "reason": "Dienst voorbij"})
    page = text_of(admin.get("/supervisor/cases", headers={"Accept-Language": "nl"}))
    assert "Alle openstaande cases" in page and "12 min" in page
    case_page = text_of(admin.get(f"/supervisor/cases/{annas.id}", headers={"Accept-Language": "nl"}))
    assert "Opnieuw toegewezen" in case_page and "van Agent User naar Bert Bakker" in case_page


def test_every_supervisor_view_is_for_admins_only(app):
    views = [e for e in app.view_functions if e.startswith("supervisor.")]
    assert sorted(views) == ["supervisor.case", "supervisor.cases", "supervisor.reassign"]
    assert all(app.view_functions[e].allowed_roles == {"admin"} for e in views)
