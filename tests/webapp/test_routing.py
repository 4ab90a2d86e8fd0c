"""The routing table page (/editor/routing): roles, CSRF, validation, audit; the hint on a weak
search (webapp.queries.routing_hint) and each hit's relevance (describe_hit)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from kb.editorial.routing import list_rules
from kb.store import engine as db
from kb.store.tables import AuditLogRow
from tests.security.xss import XSS_PAYLOADS, active_content, page_allowances
from tests.webapp.conftest import csrf_token, sign_in_as
from webapp.queries import SearchParams, describe_hit, routing_hint

PAGE = "/editor/routing/"


def engine_of(app):
    return app.extensions["kb"].engine


def form(prefix="new", **changes):
    values = {"team": "billing", "topic_nl": "Facturen", "topic_en": "Invoices", "keywords": "factuur", "examples": ""}
    values.update(changes)
    return {f"{prefix}-{name}": value for name, value in values.items()}


def routing_audit(app):
    with db.session_scope(engine_of(app), readonly=True) as session:
        rows = session.scalars(select(AuditLogRow).where(AuditLogRow.action.like("routing_rule_%")))
        return [(r.action, r.actor_id, r.target, json.loads(r.detail)) for r in rows]


@pytest.mark.parametrize("role, status", [("agent", 403), ("analyst", 403), ("editor", 200), ("admin", 200)])
def test_only_editors_and_admins_see_the_table(client, users, role, status):
    sign_in_as(client, users[role])
    response = client.get(PAGE)
    assert response.status_code == status
    for path in (PAGE, f"{PAGE}1", f"{PAGE}1/delete"):
        assert (client.post(path, data=form()).status_code == 403) == (status == 403)


def test_signed_out_users_are_sent_to_log_in(client):
    assert client.get(PAGE).headers["Location"].startswith("/auth/login")
    assert client.post(PAGE, data=form()).headers["Location"].startswith("/auth/login")


def test_the_page_lists_the_seeded_topics_and_editors_get_a_nav_link(client, users):
    sign_in_as(client, users["editor"])
    page = client.get(PAGE).get_data(as_text=True)
    for text in ("Invoices and payments", "TV and decoder", "Mobile and SIM", "Sales and contracts", "decoder"):
        assert text in page
    assert f'href="{PAGE.rstrip("/")}"' in page  # in the navigation
    sign_in_as(client, users["agent"])
    assert PAGE.rstrip("/") not in client.get("/").get_data(as_text=True)


def test_an_editor_adds_changes_and_deletes_a_rule_and_each_change_is_audited(app, client, users):
    editor = users["editor"]
    sign_in_as(client, editor)
    added = client.post(PAGE, data=form(team="security", topic_nl="Fraude", topic_en="Fraud", keywords="scam, fraud"))
    assert added.status_code == 302
    rule = list_rules(engine_of(app))[-1]
    assert (rule.team, rule.topic_en, rule.keywords) == ("security", "Fraud", ("scam", "fraud"))
    assert rule.updated_by == editor.id
    assert "Fraud" in client.get(added.headers["Location"]).get_data(as_text=True)
    prefix = f"rule-{rule.id}"
    changed = client.post(
        f"{PAGE}{rule.id}",
        data=form(prefix, team="security", topic_nl="Fraude", topic_en="Fraud", keywords="fraud", examples="fake bank"),
    )
    assert changed.status_code == 302
    assert list_rules(engine_of(app))[-1].examples == ("fake bank",)
    assert client.post(f"{PAGE}{rule.id}/delete").status_code == 302
    assert rule.id not in [r.id for r in list_rules(engine_of(app))]
    audit = routing_audit(app)
    assert [(a, actor, target) for a, actor, target, _ in audit] == [
        ("routing_rule_added", editor.id, f"routing_rule:{rule.id}"),
        ("routing_rule_changed", editor.id, f"routing_rule:{rule.id}"),
        ("routing_rule_deleted", editor.id, f"routing_rule:{rule.id}"),
    ]
    assert audit[1][3]["before"]["keywords"] == "scam\nfraud" and audit[1][3]["after"]["examples"] == "fake bank"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"topic_nl": ""}, "Give the topic in Dutch"),
        ({"topic_en": "x" * 101}, "Keep the topic to 100 characters."),
        ({"keywords": "", "examples": ""}, "Give at least one keyword or example query"),
        ({"team": "plumbing"}, "Not a valid choice"),
        ({"keywords": "tv, x"}, "The keyword &#39;x&#39; is too short"),
        ({"examples": "?!?"}, "has no words"),
    ],
)
def test_bad_input_is_refused_at_its_field_with_the_text_kept(app, client, users, changes, message):
    sign_in_as(client, users["editor"])
    before = list_rules(engine_of(app))
    response = client.post(PAGE, data=form(**{"topic_nl": "Facturen bis", **changes}))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page
    assert 'aria-invalid="true"' in page
    if "topic_nl" not in changes:
        assert 'value="Facturen bis"' in page  # what the editor typed is still there
    assert list_rules(engine_of(app)) == before and routing_audit(app) == []


def test_a_rule_that_is_gone_says_so(app, client, users):
    sign_in_as(client, users["editor"])
    response = client.post(f"{PAGE}999", data=form("rule-999"), follow_redirects=True)
    assert "There is no routing rule 999" in response.get_data(as_text=True)
    response = client.post(f"{PAGE}999/delete", follow_redirects=True)
    assert "There is no routing rule 999" in response.get_data(as_text=True)


def test_changes_need_the_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    from kb.identity.users import create_user

    editor = create_user(engine_of(app), "eddie", "correct horse battery", "editor")
    client = app.test_client()
    sign_in_as(client, editor)
    rules = list_rules(engine_of(app))
    assert client.post(PAGE, data=form()).status_code == 400
    assert client.post(f"{PAGE}{rules[0].id}/delete").status_code == 400
    assert list_rules(engine_of(app)) == rules  # nothing added, nothing deleted
    token = csrf_token(client, PAGE)
    assert client.post(PAGE, data={**form(), "csrf_token": token}).status_code == 302
    assert len(list_rules(engine_of(app))) == len(rules) + 1


def test_a_database_that_cannot_be_written_keeps_the_form(app, client, users, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("UPDATE", {}, Exception("disk full"))

    monkeypatch.setattr("webapp.routing.save_rule", broken)
    sign_in_as(client, users["editor"])
    response = client.post(PAGE, data=form(topic_nl="Mijn tekst"))
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and "Could not save" in page and 'value="Mijn tekst"' in page


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_stored_text_is_shown_as_text(app, client, users, payload):
    sign_in_as(client, users["editor"])
    saved = client.post(PAGE, data=form(topic_nl=payload[:100], topic_en="x", examples=payload[:200]))
    assert saved.status_code in (302, 400)
    page = client.get(PAGE).get_data(as_text=True)
    assert payload[:100] not in page or "<" not in payload
    ours = {("form", f"id={p}-{kind}") for p in prefixes(app) for kind in ("form", "delete")}
    ours |= {("input", f"name={p}-{name}") for p in prefixes(app) for name in ("topic_nl", "topic_en")}
    ours |= {("select", f"name={p}-team") for p in prefixes(app)}
    assert active_content(page, page_allowances(page) | ours) == []


def prefixes(app) -> list[str]:
    return [f"rule-{r.id}" for r in list_rules(engine_of(app))] + ["new"]


def test_the_dutch_page_is_in_dutch(client, users):
    sign_in_as(client, users["editor"])
    page = client.get(PAGE, headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert "Facturen en betalingen" in page and "Een onderwerp toevoegen" in page


# -- the hint and the relevance of each hit -------------------------------------------------------


def search(app, query, lang="en"):
    params = SearchParams(query, lang)
    return params, app.extensions["kb"].searcher.search(query, k=8, lang=lang)


def test_a_weak_search_naming_an_uncovered_topic_gets_its_team(app):
    with app.test_request_context(headers={"Accept-Language": "nl"}):
        app.preprocess_request()
        params, result = search(app, "factuur is te hoog", "nl")
        assert result.weak
        assert routing_hint(params, result) == {
            "team": "billing",
            "team_label": "Facturatie",
            "topic": "Facturen en betalingen",
            "matched": "factuur",
        }
        tv = routing_hint(*search(app, "my decoder shows no channels"))
        assert tv["team"] == "tv" and tv["topic"] == "Tv en decoder"


def test_no_hint_for_a_good_match_an_unknown_topic_or_a_team_not_offered(app, monkeypatch):
    with app.test_request_context():
        app.preprocess_request()
        params, result = search(app, "dsl light blinking no sync splitter")
        assert not result.weak and routing_hint(params, result) is None
        assert routing_hint(params, replace(result, weak=True)) is None  # no keyword of any rule
        params, result = search(app, "order a pizza")
        assert result.weak and routing_hint(params, result) is None
        monkeypatch.setenv("KB_ESCALATION_TEAMS", "tier2,security")
        params, result = search(app, "factuur is te hoog", "nl")
        assert result.weak and routing_hint(params, result) is None


def test_a_routing_table_that_cannot_be_read_gives_no_hint_and_no_error(app, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr("kb.editorial.routing.list_rules", broken)
    with app.test_request_context():
        app.preprocess_request()
        params, result = search(app, "factuur is te hoog", "nl")
        assert routing_hint(params, result) is None


def test_each_hit_shows_a_relevance_that_agrees_with_the_search(app):
    with app.test_request_context(headers={"Accept-Language": "nl"}):
        app.preprocess_request()
        _, good = search(app, "remove the splitter dsl light blinking no sync")
        shown = [describe_hit(h, good.query) for h in good.hits]
        assert not good.weak and shown[0]["relevance"] == "strong" and shown[0]["relevance_label"] == "Past goed"
        assert shown[0]["confidence"] == good.confidence
        assert all(h["confidence"] <= good.confidence and h["relevance"] != "strong" for h in shown[1:])
        _, weak = search(app, "pizza margherita cable")
        assert weak.weak and weak.hits
        shown = [describe_hit(h, weak.query) for h in weak.hits]
        assert {h["relevance"] for h in shown} == {"weak"} and shown[0]["relevance_label"] == "Past nauwelijks"
        assert all(h["score"] == hit.score for h, hit in zip(shown, weak.hits, strict=True))  # ranking kept


def test_the_search_api_carries_each_hits_relevance(client, users):
    sign_in_as(client, users["agent"])
    data = client.post("/api/search", json={"query": "pizza margherita cable", "lang": "en"}).get_json()
    assert data["weak"] and data["hits"]
    assert {h["relevance"] for h in data["hits"]} == {"weak"}
    assert all(h["confidence"] <= data["confidence"] for h in data["hits"])
