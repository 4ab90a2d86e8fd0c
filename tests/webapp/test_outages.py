"""Known outages in the app: the notice above the results and the steps (nl and en), the reboot
warning, link and close, the callback list, the register's pages for the noc role, and the API."""

from __future__ import annotations

import pytest

from kb.caselog import cases as caselog
from kb.identity import tokens
from kb.outages import register
from tests.webapp.conftest import sign_in_as
from webapp import outage_notices


@pytest.fixture
def engine(app):
    return app.extensions["kb"].engine


@pytest.fixture
def outage(engine):
    return register.add_outage(
        engine,
        areas=["3011"],
        services=["internet"],
        connections=["dsl"],
        message_nl="Er is een storing in Rotterdam-Centrum; de monteur is onderweg.",
        message_en="There is an outage in Rotterdam centre; an engineer is on the way.",
        expected_end="2030-01-01T18:00+01:00",
    )


def open_case(client, engine, users, postcode="3011AB", connection="dsl"):
    sign_in_as(client, users["agent"])
    case = caselog.open_case(
        engine, users["agent"].id, "phone", "KLANT-77", "geen internet", connection, postcode=postcode
    )
    with client.session_transaction() as session:
        session["case_id"] = case.id
    return case


@pytest.mark.parametrize(("lang", "words"), [("nl", "Bekende storing"), ("en", "Known outage")])
def test_the_notice_stands_above_the_results_in_both_languages(client, engine, users, outage, lang, words):
    case = open_case(client, engine, users)
    page = client.get("/", headers={"Accept-Language": lang}).get_data(as_text=True)
    assert words in page
    assert outage.message(lang) in page
    assert page.index("outage-notice") < page.index('id="weak"')
    assert f'action="/cases/{case.id}/known-outage"' in page
    assert "3011AB" not in page.split("<main")[0]  # the postcode is in no link or header


def test_no_notice_for_another_area_or_connection(client, engine, users, outage):
    open_case(client, engine, users, postcode="4000AA")
    assert outage.message_en not in client.get("/").get_data(as_text=True)
    open_case(client, engine, users, postcode="3011AB", connection="fibre")
    page = client.get("/").get_data(as_text=True)
    assert outage.message_en not in page and "Nearby" in page


def test_without_a_postcode_the_active_outages_show_in_a_bar(client, engine, users, outage):
    sign_in_as(client, users["agent"])
    page = client.get("/").get_data(as_text=True)
    assert "Active outages:" in page and "3011" in page and outage.message_en not in page


def test_a_postcode_typed_in_the_query_finds_the_outage(client, users, outage):
    sign_in_as(client, users["agent"])
    data = client.post("/api/search", json={"query": "geen internet 3011 ab", "lang": "nl"}).get_json()
    assert [o["id"] for o in data["outages"]] == [outage.id]
    assert data["outages"][0]["message"] == outage.message_nl


def test_the_article_shows_the_notice_above_the_steps_and_the_reboot_warning(
    client, engine, users, outage, monkeypatch
):
    monkeypatch.setattr(outage_notices, "DO_NOT_START", ("dsl-no-sync",))
    open_case(client, engine, users)
    page = client.get("/articles/dsl-no-sync?lang=en").get_data(as_text=True)
    assert outage.message_en in page and "Do not start this procedure" in page
    assert page.index("outage-notice") < page.index('class="section section-steps"')
    other = client.get("/articles/email-password-reset?lang=en").get_data(as_text=True)
    assert outage.message_en not in other  # an account article: no outage notice


def test_link_and_close_then_the_callback_list(client, engine, users, outage):
    case = open_case(client, engine, users)
    closed = client.post(f"/cases/{case.id}/known-outage", data={"outage_id": str(outage.id), "callback": "1"})
    assert closed.status_code == 302
    assert caselog.get_case(engine, case.id).status == "known_outage"
    assert "KLANT-77" not in client.get("/outages/callbacks").get_data(as_text=True)  # not fixed yet
    register.end_outage(engine, outage.id)
    assert "KLANT-77" in client.get("/outages/callbacks").get_data(as_text=True)
    done = client.post(f"/cases/{case.id}/callback", data={"result": "restored"})
    assert done.status_code == 303 and caselog.get_case(engine, case.id).callback_result == "restored"
    assert "KLANT-77" not in client.get("/outages/callbacks").get_data(as_text=True)


def test_still_broken_reopens_the_case_for_the_agent_who_called(client, engine, users, outage):
    case = open_case(client, engine, users)
    caselog.close_known_outage(engine, case.id, users["agent"].id, outage.id, callback=True)
    register.end_outage(engine, outage.id)
    from kb.identity.users import create_user

    bert = create_user(engine, "bert", "correct horse battery", "agent")
    sign_in_as(client, bert)
    response = client.post(f"/cases/{case.id}/callback", data={"result": "still_broken"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    again = caselog.get_case(engine, case.id)
    assert again.status == "open" and again.agent_id == bert.id


def test_the_hand_off_says_the_escalation_was_during_an_outage(client, engine, users, outage):
    case = open_case(client, engine, users)
    client.post(f"/cases/{case.id}/escalate", data={"team": "tier2", "reason": "modem kapot?"})
    handoff = client.get(f"/api/cases/{case.id}/handoff").get_json()
    assert [o["id"] for o in handoff["outages"]] == [outage.id]


# -- the register's pages ---------------------------------------------------------------------------------


def test_the_noc_registers_edits_and_ends_an_outage_in_the_app(client, engine, users):
    sign_in_as(client, users["noc"])
    form = {
        "areas": "3011\n3012AB",
        "services": ["internet", "tv"],
        "status": "investigating",
        "message_nl": "Storing",
        "message_en": "Outage",
        "expected_end": "2030-01-01T18:00",
    }
    created = client.post("/outages/", data=form)
    assert created.status_code == 303
    outage = register.list_outages(engine)[0]
    assert outage.areas == ("3011", "3012AB") and outage.services == ("internet", "tv")
    assert outage.expected_end.isoformat() == "2030-01-01T17:00:00+00:00"  # entered in Europe/Amsterdam
    page = client.get(f"/outages/{outage.id}").get_data(as_text=True)
    assert "History" in page and "nora" in page
    client.post(f"/outages/{outage.id}", data={**form, "status": "identified", "expected_end": ""})
    assert register.get_outage(engine, outage.id).status == "identified"
    client.post(f"/outages/{outage.id}/end")
    assert register.get_outage(engine, outage.id).status == "fixed"


def test_a_bad_outage_form_keeps_what_was_typed(client, users):
    sign_in_as(client, users["noc"])
    page = client.post("/outages/", data={"areas": "0000", "services": ["internet"], "message_nl": "Tekst blijft"})
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "Tekst blijft" in text and "0000" in text


def test_agents_may_not_keep_the_register(client, users):
    sign_in_as(client, users["agent"])
    assert client.get("/outages/").status_code == 403
    assert client.post("/outages/", data={}).status_code == 403


def test_a_possible_outage_becomes_an_outage_in_one_click(client, engine, users):
    for n in range(5):
        case = caselog.open_case(
            engine, users["agent"].id, "phone", f"R{n}", "geen internet", postcode=f"3020A{'BCDEF'[n]}"
        )
        caselog.record_search(engine, case.id, users["agent"].id, "dsl lampje knippert", ["dsl-no-sync"])
    sign_in_as(client, users["noc"])
    page = client.get("/outages/").get_data(as_text=True)
    assert "Postcode area 3020: 5 calls" in page
    client.post("/outages/from-alert", data={"area": "3020"})
    assert register.list_outages(engine)[0].areas == ("3020",)
    assert "Postcode area 3020" not in client.get("/outages/").get_data(as_text=True)


# -- the API -------------------------------------------------------------------------------------------------


def test_the_monitoring_posts_and_updates_outages_with_a_noc_token(client, engine, users):
    _, noc = tokens.create_token(engine, "nora")
    _, agent = tokens.create_token(engine, "anna")
    body = {"areas": ["3011"], "services": ["internet"], "message_nl": "Storing", "message_en": "Outage"}
    assert client.post("/api/v1/outages", json=body, headers={"Authorization": f"Bearer {agent}"}).status_code == 403
    made = client.post("/api/v1/outages", json=body, headers={"Authorization": f"Bearer {noc}"})
    assert made.status_code == 201
    outage_id = made.get_json()["id"]
    moved = client.patch(
        f"/api/v1/outages/{outage_id}",
        json={"expected_end": "2030-01-01T20:00:00+01:00", "status": "identified"},
        headers={"Authorization": f"Bearer {noc}"},
    )
    assert moved.status_code == 200 and moved.get_json()["expected_end"] == "2030-01-01T19:00:00+00:00"
    listed = client.get("/api/v1/outages?active=true", headers={"Authorization": f"Bearer {agent}"}).get_json()
    assert [o["id"] for o in listed["outages"]] == [outage_id]
    found = client.post(
        "/api/v1/search",
        json={"query": "geen internet", "postcode": "3011AB"},
        headers={"Authorization": f"Bearer {agent}"},
    ).get_json()
    assert [o["id"] for o in found["outages"]] == [outage_id] and found["outages"][0]["status"] == "identified"
    bad = client.patch(
        f"/api/v1/outages/{outage_id}", json={"colour": "red"}, headers={"Authorization": f"Bearer {noc}"}
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "colour"
