"""Every article event records the revision the agent saw; the hand-off shows that text, not today's."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb.caselog.cases import escalate_case, open_case, record_article_opened, resolve_case, tick_step, timeline
from kb.caselog.checklist import set_steps
from kb.caselog.handoff import build_handoff
from kb.caselog.revisions import article_at
from kb.content.articles import parse_article
from kb.errors import InvalidInput
from kb.store.engine import session_scope
from kb.store.tables import ArticleRevisionRow, CaseResolutionRow
from tests.conftest import article_text

OLD_STEPS = (
    ("Check the telephone cable.", "The cable clicks in."),
    ("Remove any splitter.", "The DSL light goes steady."),
)
NEW_STEPS = (
    ("Check the telephone cable and the wall socket.", "The cable clicks in and the socket is tight."),
    ("Plug the modem straight into the first socket.", "The DSL light is steady within 5 minutes."),
)


def version(steps, lang="en", article_id="dsl-no-sync"):
    return parse_article(
        article_text(article_id, lang, "DSL light blinking", steps=steps), f"articles/{lang}/{article_id}.md"
    )


def test_the_revision_is_the_text_hash_and_changes_with_an_edit():
    old, new = version(OLD_STEPS), version(NEW_STEPS)
    assert old.revision == version(OLD_STEPS).revision and len(old.revision) == 12
    assert old.revision != new.revision


def test_hand_off_shows_the_step_text_the_agent_saw_after_the_article_changed(engine, agent):
    old, new = version(OLD_STEPS), version(NEW_STEPS)
    case = open_case(engine, agent.id, "phone", "KLANT-7", "DSL light blinks", "dsl")
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en", version=old)
    set_steps(engine, case.id, agent.id, old, step=2, done=True, result="still blinking")
    # The article is edited and republished; the agent ticks step 1 in the new text.
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en", version=new)
    set_steps(engine, case.id, agent.id, new, step=1, done=True)
    escalate_case(engine, case.id, agent.id, "tier2", "no sync")
    current = lambda article_id, lang, number: NEW_STEPS[number - 1]  # noqa: E731 - what the KB says today
    steps = {s.step_number: s for s in build_handoff(engine, case.id, step_text=current).steps}
    assert (steps[2].action, steps[2].expected, steps[2].revision) == (*OLD_STEPS[1], old.revision)
    assert (steps[1].action, steps[1].revision) == (NEW_STEPS[0][0], new.revision)
    assert steps[2].result == "still blinking"
    opened = [e for e in timeline(engine, case.id) if e.kind == "article_opened"]
    assert [e.revision for e in opened] == [old.revision, new.revision]  # a new revision is a new visit
    text = build_handoff(engine, case.id).as_text()
    assert any(
        line.startswith("  Stap 2 gedaan om ") and line.endswith(": " + OLD_STEPS[1][0]) for line in text.splitlines()
    )


def test_each_revision_text_is_stored_once(engine, agent):
    old = version(OLD_STEPS)
    for _ in range(2):
        case = open_case(engine, agent.id, "phone", "KLANT-7", "DSL light blinks", "dsl")
        record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en", version=old)
        tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 1, version=old)
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(ArticleRevisionRow)) == 1
    stored = article_at(engine, old.revision)
    assert stored.text == old.text and stored.steps == old.steps


def test_resolved_by_records_the_revision_worked_with(engine, agent):
    old, new = version(OLD_STEPS), version(NEW_STEPS)
    other = version(OLD_STEPS, article_id="router-restart")
    case = open_case(engine, agent.id, "phone", "KLANT-7", "DSL light blinks", "dsl")
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en", version=old)
    # Resolved after a republish: dsl-no-sync keeps the revision the agent had open; an article never
    # opened on the case gets the version the KB shows now.
    resolve_case(
        engine,
        case.id,
        agent.id,
        ["dsl-no-sync", "router-restart"],
        "",
        current={"dsl-no-sync": new, "router-restart": other},
    )
    with session_scope(engine, readonly=True) as session:
        rows = dict(
            session.execute(
                select(CaseResolutionRow.article_id, CaseResolutionRow.revision).where(
                    CaseResolutionRow.case_id == case.id
                )
            ).all()
        )
    assert rows == {"dsl-no-sync": old.revision, "router-restart": other.revision}
    assert article_at(engine, other.revision).id == "router-restart"


def test_a_version_of_another_article_is_refused(engine, agent):
    case = open_case(engine, agent.id, "phone", "KLANT-7", "DSL light blinks", "dsl")
    with pytest.raises(InvalidInput) as refused:
        tick_step(engine, case.id, agent.id, "router-restart", "en", 1, version=version(OLD_STEPS))
    assert refused.value.field == "revision"
    assert [e.kind for e in timeline(engine, case.id)] == ["opened"]


def test_a_step_the_version_does_not_have_is_refused(engine, agent):
    case = open_case(engine, agent.id, "phone", "KLANT-7", "DSL light blinks", "dsl")
    with pytest.raises(InvalidInput) as refused:
        set_steps(engine, case.id, agent.id, version(OLD_STEPS), step=3, done=True)
    assert refused.value.field == "step_number"
