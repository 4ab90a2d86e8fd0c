"""The escalation hand-off, checked field by field, as data, as a dict and as text in Dutch and English."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kb.caselog.cases import (
    add_note,
    escalate_case,
    open_case,
    record_article_opened,
    record_search,
    reopen_case,
    tick_step,
    untick_step,
)
from kb.caselog.handoff import (
    LABELS,
    Handoff,
    HandoffArticle,
    HandoffNote,
    HandoffSearch,
    HandoffSkippedStep,
    HandoffStep,
    build_handoff,
    short_title,
)
from kb.content.articles import parse_article
from kb.errors import InvalidInput
from kb.identity.users import create_user
from tests.conftest import article_text


def version(article_id, lang, title, steps):
    return parse_article(article_text(article_id, lang, title, steps=steps), f"articles/{lang}/{article_id}.md")


DSL_EN = version(
    "dsl-no-sync",
    "en",
    "DSL light blinking",
    (
        ("Check the telephone cable. Use the one that came with the modem.", "The cable clicks in."),
        ("Remove any **splitter** from the line.", "The DSL light goes steady."),
        ("Call the [exchange](https://wiki.example/exchange) desk.", "They see the line."),
    ),
)
DSL_NL = version(
    "dsl-no-sync",
    "nl",
    "DSL-lampje knippert",
    (
        ("Controleer de telefoonkabel. Gebruik de kabel die bij het modem zat.", "De kabel klikt vast."),
        ("Verwijder een eventuele splitter.", "Het DSL-lampje brandt continu."),
        ("Bel de centrale.", "Zij zien de lijn."),
    ),
)
OUTAGE_NL = version(
    "check-area-outage",
    "nl",
    "Storing in de buurt controleren",
    (("Zoek het adres op in de storingskaart.", "Er staat een storing of niet."),),
)
PUBLISHED = {(a.id, a.lang): a for a in (DSL_EN, DSL_NL, OUTAGE_NL)}
STEPS = {  # what step_text gives for events recorded before revisions existed
    ("dsl-no-sync", "en", 1): ("Check the telephone cable.", "The cable clicks in."),
    ("dsl-no-sync", "en", 2): ("Remove any splitter.", "The DSL light goes steady."),
}


def published(article_id, lang):
    return PUBLISHED.get((article_id, lang))


def step_text(article_id, lang, number):
    return STEPS[(article_id, lang, number)]  # KeyError for unknown steps, as a dict lookup gives


@pytest.fixture
def escalated(engine, agent, clock):
    """Read dsl-no-sync in English (steps 1 and 2 done, 3 ticked and unticked), glanced at an outage article."""
    t0 = clock.now
    case = open_case(engine, agent.id, "chat", "KLANT-42", "No internet.\nDSL light blinks.", "dsl")
    clock.advance(10)
    record_search(engine, case.id, agent.id, 'dsl "blinking"', ["dsl-no-sync"])
    clock.advance(10)
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en", version=DSL_EN)
    clock.advance(10)
    record_article_opened(engine, case.id, agent.id, "check-area-outage", "nl", version=OUTAGE_NL)
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en", version=DSL_EN)  # again: listed once
    clock.advance(10)
    for step in (1, 2, 3):
        tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", step, version=DSL_EN)
        clock.advance(10)
    untick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 3)
    tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 2, "Steady for a minute.", version=DSL_EN)
    tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 2, " Steady, then blinking again. ", version=DSL_EN)
    colleague = create_user(engine, "bert", "another password", "agent", display_name="Bert Jansen")
    add_note(engine, case.id, colleague.id, "Customer already rebooted twice.")
    clock.advance(30)
    escalate_case(engine, case.id, agent.id, "tier2", "Still no sync after all steps.")
    return case, t0


def test_handoff_field_by_field(engine, escalated):
    case, t0 = escalated
    h = build_handoff(engine, case.id, published=published)
    at = lambda seconds: t0 + timedelta(seconds=seconds)  # noqa: E731
    action, expected = DSL_EN.steps[0].action, DSL_EN.steps[0].expected
    assert h == Handoff(
        case_id=case.id,
        customer_ref="KLANT-42",
        channel="chat",
        problem="No internet.\nDSL light blinks.",
        connection_type="dsl",
        status="escalated",
        agent_name="Anna de Vries",
        opened_at=t0,
        escalated_at=at(100),
        team="tier2",
        reason="Still no sync after all steps.",
        steps=(
            # The agent's English text is kept; the titles are Dutch, the hand-off's language.
            HandoffStep(
                "dsl-no-sync", "en", 1, at(40), action, expected, None, DSL_EN.revision, "Controleer de telefoonkabel."
            ),
            HandoffStep(
                "dsl-no-sync",
                "en",
                2,
                at(50),
                "Remove any **splitter** from the line.",
                "The DSL light goes steady.",
                "Steady, then blinking again.",
                DSL_EN.revision,
                "Verwijder een eventuele splitter.",
            ),
        ),
        articles_tried=(
            HandoffArticle(
                "dsl-no-sync",
                "en",
                at(20),
                DSL_EN.revision,
                "DSL-lampje knippert",
                "nl",
                (HandoffSkippedStep(3, "Bel de centrale."),),
            ),
            # Nothing ticked and not the last opened: its steps are not listed as skipped.
            HandoffArticle(
                "check-area-outage", "nl", at(30), OUTAGE_NL.revision, "Storing in de buurt controleren", "nl"
            ),
        ),
        searches=(HandoffSearch('dsl "blinking"', at(10)),),
        notes=(HandoffNote("Customer already rebooted twice.", at(70), "Bert Jansen"),),
        language="nl",
    )


def test_as_text_in_dutch(engine, escalated):
    case, _ = escalated
    text = build_handoff(engine, case.id, published=published).as_text(tz="Europe/Amsterdam")
    assert text == "\n".join(
        [
            f"Escalatie-overdracht voor case {case.id}",
            "Team: Tier 2 (tweede lijn)",
            "Reden: Still no sync after all steps.",
            "Klantreferentie: KLANT-42",
            "Kanaal: Chat",
            "Verbindingstype: DSL",
            "Medewerker: Anna de Vries",
            "Geopend: 2026-11-25 10:00 CET",
            "Geëscaleerd: 2026-11-25 10:01 CET",
            "Probleem: No internet.",
            "  DSL light blinks.",
            "",
            "Geprobeerde artikelen (2):",
            "- DSL-lampje knippert (gelezen in het Engels), geopend 10:00 CET",
            "  Stap 1 gedaan om 10:00 CET: Controleer de telefoonkabel.",
            "  Stap 2 gedaan om 10:00 CET: Verwijder een eventuele splitter.",
            "    Resultaat: Steady, then blinking again.",
            "  Stap 3 overgeslagen: Bel de centrale.",
            "- Storing in de buurt controleren, geopend 10:00 CET",
            "",
            "Zoekopdrachten (1):",
            '- 10:00 CET: "dsl \\"blinking\\""',
            "",
            "Notities (1):",
            "- 10:01 CET Bert Jansen: Customer already rebooted twice.",
            "",
        ]
    )
    assert "tier2" not in text and "dsl-no-sync" not in text and "UTC" not in text
    assert "The cable clicks in." not in text  # no expected results: the step title is enough


def test_as_text_in_english(engine, escalated):
    case, _ = escalated
    text = build_handoff(engine, case.id, language="en", published=published).as_text(tz="Europe/Amsterdam")
    assert text == "\n".join(
        [
            f"Escalation hand-off for case {case.id}",
            "Team: Tier 2 (second line)",
            "Reason: Still no sync after all steps.",
            "Customer reference: KLANT-42",
            "Channel: Chat",
            "Connection type: DSL",
            "Agent: Anna de Vries",
            "Opened: 2026-11-25 10:00 CET",
            "Escalated: 2026-11-25 10:01 CET",
            "Problem: No internet.",
            "  DSL light blinks.",
            "",
            "Articles tried (2):",
            "- DSL light blinking, opened 10:00 CET",
            "  Step 1 done at 10:00 CET: Check the telephone cable.",
            "  Step 2 done at 10:00 CET: Remove any splitter from the line.",  # Markdown stripped
            "    Result: Steady, then blinking again.",
            "  Step 3 skipped: Call the exchange desk.",
            # No English version of this one: its Dutch title, and the hand-off says so.
            "- Storing in de buurt controleren (read in Dutch), opened 10:00 CET",
            "",
            "Searches (1):",
            '- 10:00 CET: "dsl \\"blinking\\""',
            "",
            "Agent notes (1):",
            "- 10:01 CET Bert Jansen: Customer already rebooted twice.",
            "",
        ]
    )


def test_as_dict_keeps_the_ids_beside_labels_and_titles(engine, escalated):
    case, t0 = escalated
    d = json.loads(json.dumps(build_handoff(engine, case.id, published=published).as_dict()))
    assert d["language"] == "nl"
    assert (d["team"], d["team_label"]) == ("tier2", "Tier 2 (tweede lijn)")
    assert (d["channel"], d["channel_label"]) == ("chat", "Chat")
    assert (d["connection_type"], d["connection_type_label"]) == ("dsl", "DSL")
    assert d["customer_ref"] == "KLANT-42" and d["agent"] == "Anna de Vries" and d["status"] == "escalated"
    assert d["opened_at"] == t0.isoformat() and d["opened_at"].endswith("+00:00")
    assert d["escalated_at"] == (t0 + timedelta(seconds=100)).isoformat()
    assert d["steps_done"][1] == {
        "article_id": "dsl-no-sync",
        "lang": "en",
        "step": 2,
        "title": "Verwijder een eventuele splitter.",
        "done_at": (t0 + timedelta(seconds=50)).isoformat(),
        "action": "Remove any **splitter** from the line.",
        "expected": "The DSL light goes steady.",
        "result": "Steady, then blinking again.",
        "revision": DSL_EN.revision,
    }
    assert d["articles_tried"] == [
        {
            "article_id": "dsl-no-sync",
            "lang": "en",
            "title": "DSL-lampje knippert",
            "title_lang": "nl",
            "opened_at": (t0 + timedelta(seconds=20)).isoformat(),
            "revision": DSL_EN.revision,
            "steps_skipped": [{"step": 3, "title": "Bel de centrale."}],
        },
        {
            "article_id": "check-area-outage",
            "lang": "nl",
            "title": "Storing in de buurt controleren",
            "title_lang": "nl",
            "opened_at": (t0 + timedelta(seconds=30)).isoformat(),
            "revision": OUTAGE_NL.revision,
            "steps_skipped": [],
        },
    ]
    assert d["searches"] == [{"query": 'dsl "blinking"', "at": (t0 + timedelta(seconds=10)).isoformat()}]
    assert d["notes"][0]["author"] == "Bert Jansen" and d["reason"] == "Still no sync after all steps."


def test_as_dict_in_english_has_english_labels_and_the_same_ids(engine, escalated):
    case, _ = escalated
    nl = build_handoff(engine, case.id, published=published).as_dict()
    en = build_handoff(engine, case.id, language="en", published=published).as_dict()
    assert (en["language"], en["team_label"]) == ("en", "Tier 2 (second line)")
    assert [(s["article_id"], s["lang"], s["step"]) for s in en["steps_done"]] == [
        (s["article_id"], s["lang"], s["step"]) for s in nl["steps_done"]
    ]
    assert [s["title"] for s in en["steps_done"]] == [
        "Check the telephone cable.",
        "Remove any splitter from the line.",
    ]
    assert en["articles_tried"][0]["title"] == "DSL light blinking" and en["articles_tried"][0]["title_lang"] == "en"


def test_the_read_languages_titles_when_the_other_version_numbers_its_steps_differently(engine, escalated):
    case, _ = escalated
    shorter = version("dsl-no-sync", "nl", "DSL-lampje knippert", (("Bel de centrale.", "Zij zien de lijn."),))
    only = {("dsl-no-sync", "nl"): shorter, ("check-area-outage", "nl"): OUTAGE_NL}
    h = build_handoff(engine, case.id, published=lambda a, lang: only.get((a, lang)))
    assert (h.articles_tried[0].title, h.articles_tried[0].title_lang) == ("DSL light blinking", "en")
    assert [s.title for s in h.steps] == ["Check the telephone cable.", "Remove any splitter from the line."]


def test_titles_come_from_the_revision_read_without_a_published_version(engine, escalated):
    case, _ = escalated
    h = build_handoff(engine, case.id)  # nothing published now: the stored revisions still give titles
    assert [(a.title, a.title_lang) for a in h.articles_tried] == [
        ("DSL light blinking", "en"),
        ("Storing in de buurt controleren", "nl"),
    ]
    assert h.articles_tried[0].steps_skipped == (HandoffSkippedStep(3, "Call the exchange desk."),)


def test_the_last_opened_article_lists_its_steps_as_skipped_even_without_a_tick(engine, agent, clock):
    case = open_case(engine, agent.id, "phone", "K-1", "slow", "unknown")
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "nl", version=DSL_NL)
    record_article_opened(engine, case.id, agent.id, "check-area-outage", "nl", version=OUTAGE_NL)
    escalate_case(engine, case.id, agent.id, "field-service", "needs a visit")
    h = build_handoff(engine, case.id, published=published)
    assert [a.steps_skipped for a in h.articles_tried] == [
        (),
        (HandoffSkippedStep(1, "Zoek het adres op in de storingskaart."),),
    ]
    lines = h.as_text().splitlines()
    assert "  Stap 1 overgeslagen: Zoek het adres op in de storingskaart." in lines
    assert "Team: Buitendienst" in lines and "Kanaal: Telefoon" in lines


@pytest.mark.parametrize(
    "language, label", [("nl", "Verbindingstype: Niet bekend"), ("en", "Connection type: Not known")]
)
def test_an_unknown_connection_type_is_said_in_words(engine, agent, language, label):
    case = open_case(engine, agent.id, "email", "C-9", "slow", "unknown")
    h = build_handoff(engine, case.id, language=language)
    assert label in h.as_text().splitlines()
    assert (h.as_dict()["connection_type"], h.as_dict()["connection_type_label"]) == ("unknown", label.split(": ")[1])


def handoff_at(opened, escalated=None, **fields):
    values = dict(
        case_id=1,
        customer_ref="K-1",
        channel="chat",
        problem="p",
        connection_type="fibre",
        status="escalated",
        agent_name="Anna",
        opened_at=opened,
        escalated_at=escalated,
        team="security",
        reason="r",
        steps=(),
        articles_tried=(),
        searches=(),
        notes=(),
    )
    return Handoff(**(values | fields))


def test_times_are_in_the_zone_given_with_the_zone_shown():
    summer = datetime(2026, 7, 1, 21, 30, tzinfo=UTC)
    h = handoff_at(
        summer, summer + timedelta(hours=3), notes=(HandoffNote("later", summer + timedelta(hours=3), "Bob"),)
    )
    lines = h.as_text(tz="Europe/Amsterdam").splitlines()
    assert "Geopend: 2026-07-01 23:30 CEST" in lines
    assert "Geëscaleerd: 2026-07-02 02:30 CEST" in lines
    assert "- 2026-07-02 02:30 CEST Bob: later" in lines  # another day than the case's: the date is shown
    assert "Opened: 2026-07-01 21:30 UTC" in handoff_at(summer, language="en").as_text(tz="UTC").splitlines()
    assert "Team: Beveiliging" in lines and "Verbindingstype: Glasvezel" in lines


def test_an_unknown_time_zone_or_language_is_refused_with_what_to_do(engine, agent):
    with pytest.raises(InvalidInput) as refused:
        handoff_at(datetime(2026, 7, 1, tzinfo=UTC)).as_text(tz="Europe/Atlantis")
    assert refused.value.field == "tz" and "IANA name such as Europe/Amsterdam" in str(refused.value)
    case = open_case(engine, agent.id, "phone", "C-9", "slow")
    with pytest.raises(InvalidInput) as refused:
        build_handoff(engine, case.id, language="de")
    assert str(refused.value) == "The hand-off language (KB_HANDOFF_LANGUAGE) must be one of nl, en (got 'de')."


@pytest.mark.parametrize(
    "action, title",
    [
        ("Check the cable. Then the socket.", "Check the cable."),
        (
            "Open the router page, e.g. 192.168.1.1, and log in. Then look.",
            "Open the router page, e.g. 192.168.1.1, and log in.",
        ),
        ("Zet het modem uit, bijv. met de knop. Wacht.", "Zet het modem uit, bijv. met de knop."),
        ("Use **bold**, `code` and a [link](https://x.example) <b>here</b>.", "Use bold, code and a link here."),
        ("Line one\n   continues here.", "Line one continues here."),
        ("word " * 30, ("word " * 15).strip() + "…"),
        ("", None),
    ],
)
def test_short_title_of_a_step(action, title):
    assert short_title(action) == title
    assert title is None or len(title) <= 80


# -- events recorded before revisions existed --------------------------------------------------------------


@pytest.fixture
def legacy(engine, agent, clock):
    t0 = clock.now
    case = open_case(engine, agent.id, "chat", "KLANT-42", "No internet.", "dsl")
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en")
    for step in (1, 2):
        clock.advance(10)
        tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", step)
    escalate_case(engine, case.id, agent.id, "tier2", "no sync")
    return case, t0


def test_without_a_revision_step_text_gives_the_texts(engine, legacy):
    case, t0 = legacy
    steps = build_handoff(engine, case.id, step_text=step_text).steps
    assert steps[0] == HandoffStep(
        "dsl-no-sync",
        "en",
        1,
        t0 + timedelta(seconds=10),
        "Check the telephone cable.",
        "The cable clicks in.",
        title="Check the telephone cable.",
    )


def test_without_a_revision_the_published_version_gives_texts_and_titles(engine, legacy):
    case, _ = legacy
    h = build_handoff(engine, case.id, published=published)
    assert [(s.action, s.title) for s in h.steps] == [
        (DSL_EN.steps[0].action, "Controleer de telefoonkabel."),
        (DSL_EN.steps[1].action, "Verwijder een eventuele splitter."),
    ]
    assert h.articles_tried[0].steps_skipped == (HandoffSkippedStep(3, "Bel de centrale."),)


def test_without_step_text_or_published_the_step_texts_are_empty(engine, legacy):
    case, _ = legacy
    h = build_handoff(engine, case.id)
    assert [(s.step_number, s.action, s.expected, s.title) for s in h.steps] == [
        (1, None, None, None),
        (2, None, None, None),
    ]
    assert (
        "- dsl-no-sync (gelezen in het Engels), geopend 10:00 CET" in h.as_text().splitlines()
    )  # no title known: the id is all there is
    assert "  Stap 1 gedaan om 10:00 CET: -" in h.as_text().splitlines()


def test_step_text_may_not_know_a_step(engine, agent, legacy):
    case, _ = legacy
    reopen_case(engine, case.id, agent.id, "one more step")
    tick_step(engine, case.id, agent.id, "dsl-no-sync", "nl", 9)
    h = build_handoff(engine, case.id, step_text=step_text)
    assert (h.steps[-1].step_number, h.steps[-1].action) == (9, None)
    # Ticked without being opened on the case: still an article tried, from its first tick.
    assert [(a.article_id, a.lang, a.opened_at) for a in h.articles_tried][-1] == (
        "dsl-no-sync",
        "nl",
        h.steps[-1].done_at,
    )


# -- no forged lines, no customer data in logs -------------------------------------------------------------


def test_handoff_of_an_open_case_has_no_team(engine, agent):
    case = open_case(engine, agent.id, "phone", "C-9", "slow")
    h = build_handoff(engine, case.id)
    assert (h.status, h.team, h.reason, h.escalated_at, h.steps, h.notes) == ("open", None, None, None, (), ())
    assert "Team: -" in h.as_text() and "Geprobeerde artikelen (0):" in h.as_text()
    assert h.as_dict()["team_label"] is None


def test_repr_hides_customer_data(engine, escalated):
    case, _ = escalated
    assert "KLANT-42" not in repr(build_handoff(engine, case.id))


@pytest.mark.parametrize("language", ["nl", "en"])
def test_no_field_can_forge_a_labelled_line(engine, clock, language):
    forger = create_user(engine, "mallory", "another password", "agent", display_name="Eve\nTeam: security")
    assert forger.display_name == "Eve Team: security"  # names are one line from the start
    case = open_case(engine, forger.id, "chat", "KLANT-1\rTeam: billing", "No internet.\nTeam: billing", "dsl")
    add_note(engine, case.id, forger.id, "line one\nTeam: billing\u2028Reason: none")
    tick_step(engine, case.id, forger.id, "dsl-no-sync", "en", 1, "ok\nTeam: billing", version=DSL_EN)
    escalate_case(engine, case.id, forger.id, "tier2", "why\nCustomer reference: SOMEONE-ELSE")
    text = build_handoff(engine, case.id, language=language).as_text()
    words = LABELS[language]
    labels = [words[k] for k in ("team", "reason", "customer_ref", "channel", "connection_type", "agent")]
    labels += [words[k] for k in ("opened", "escalated", "problem")]
    starts = [line.split(":")[0] for line in text.splitlines() if not line.startswith((" ", "-")) and ": " in line]
    assert starts == labels


def test_a_name_stored_with_a_line_break_stays_on_one_line():
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    h = handoff_at(now, now, agent_name="Eve\nTeam: security", notes=(HandoffNote("n", now, "Bob\nReason: x"),))
    lines = h.as_text().splitlines()
    assert "Medewerker: Eve Team: security" in lines and not any(line.startswith("Team: security") for line in lines)
    assert any(line.endswith("Bob Reason: x: n") for line in lines)
