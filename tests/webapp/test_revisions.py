"""Which version did the agent see? Tick a step, edit and republish the article: the hand-off keeps the old text."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb.caselog import cases as caselog
from kb.identity.users import create_user
from kb.search.bundle import build_index
from kb.store.engine import session_scope
from kb.store.tables import CaseResolutionRow
from tests.conftest import FakeEmbedder, article_text
from tests.webapp.conftest import sign_in_as

OLD = (
    ("Check that the fibre patch cable clicks into the ONT.", "The cable sits firmly."),
    ("Look for a kink in the fibre cable.", "The cable is not bent sharply."),
)
NEW = (
    ("Check the fibre patch cable and clean its connector.", "The connector is clean and clicks in."),
    ("Follow the fibre cable to the wall box.", "No kink between ONT and wall box."),
)


def write(root, steps):
    for lang in ("en", "nl"):
        path = root / lang / "fiber-los-red-light.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article_text("fiber-los-red-light", lang, "Fibre LOS light red", steps=steps), encoding="utf-8")


@pytest.fixture
def kb(tmp_path, make_app):
    root, index = tmp_path / "articles", tmp_path / "index"
    write(root, OLD)
    build_index(root, index, FakeEmbedder())
    app = make_app(load_search=False, KB_ARTICLES=str(root), KB_INDEX=str(index))
    agent = create_user(app.extensions["kb"].engine, "anna", "correct horse battery", "agent")
    client = app.test_client()
    sign_in_as(client, agent)
    client.post(
        "/cases/open",
        data={"channel": "phone", "customer_ref": "KLANT-1", "problem": "LOS red", "connection_type": "fibre"},
    )
    case_id = caselog.list_cases(app.extensions["kb"].engine, agent_id=agent.id)[0].id

    def republish(steps):
        write(root, steps)
        build_index(root, index, FakeEmbedder())

    return app, client, case_id, republish


def shown_revision(page: str) -> str:
    return re.search(r'name="revision" value="([0-9a-f]{12})"', page).group(1)


def test_the_hand_off_keeps_the_step_text_the_agent_ticked(kb):
    app, client, case_id, republish = kb
    page = client.get("/articles/fiber-los-red-light?lang=en").get_data(as_text=True)
    old_revision = shown_revision(page)
    assert OLD[1][0] in page
    saved = client.post(
        f"/api/cases/{case_id}/steps",
        json={"article_id": "fiber-los-red-light", "lang": "en", "revision": old_revision, "step": 2, "done": True},
    )
    assert saved.status_code == 200 and saved.get_json()["ticked"] == [2]
    republish(NEW)
    page = client.get("/articles/fiber-los-red-light?lang=en").get_data(as_text=True)
    assert NEW[1][0] in page and shown_revision(page) != old_revision  # agents now see the new text
    handoff = client.get(f"/api/cases/{case_id}/handoff").get_json()
    [step] = handoff["steps_done"]
    assert (step["action"], step["expected"], step["revision"]) == (*OLD[1], old_revision)
    app.config["KB_HANDOFF_LANGUAGE"] = "en"  # the language the agent read it in: the texts as they read them
    text = client.get(f"/cases/{case_id}/handoff").get_data(as_text=True)
    assert OLD[1][0] in text and NEW[1][0] not in text


def test_a_page_opened_before_a_republish_ticks_in_the_version_it_shows(kb):
    app, client, case_id, republish = kb
    old_revision = shown_revision(client.get("/articles/fiber-los-red-light?lang=en").get_data(as_text=True))
    republish(NEW)  # the agent's page is still the old one: the no-JS form posts its revision
    response = client.post(
        f"/cases/{case_id}/steps",
        data={"article_id": "fiber-los-red-light", "lang": "en", "revision": old_revision, "step": "1"},
    )
    assert response.status_code == 302
    [step] = client.get(f"/api/cases/{case_id}/handoff").get_json()["steps_done"]
    assert (step["action"], step["revision"]) == (OLD[0][0], old_revision)


def test_an_unknown_revision_is_refused_with_what_to_do(kb):
    app, client, case_id, _ = kb
    response = client.post(
        f"/api/cases/{case_id}/steps",
        json={"article_id": "fiber-los-red-light", "lang": "en", "revision": "0123456789ab", "step": 1, "done": True},
    )
    assert response.status_code == 400 and response.get_json()["field"] == "revision"
    assert "reload" in response.get_json()["error"]
    assert caselog.step_results(app.extensions["kb"].engine, case_id) == {}


def test_resolved_by_records_the_revision_on_the_case(kb):
    app, client, case_id, republish = kb
    old_revision = shown_revision(client.get("/articles/fiber-los-red-light?lang=en").get_data(as_text=True))
    republish(NEW)
    client.post(f"/cases/{case_id}/resolve", data={"article_ids": "fiber-los-red-light"})
    assert caselog.get_case(app.extensions["kb"].engine, case_id).status == "resolved"
    with session_scope(app.extensions["kb"].engine, readonly=True) as session:
        assert (
            session.scalar(select(CaseResolutionRow.revision).where(CaseResolutionRow.case_id == case_id))
            == old_revision
        )
