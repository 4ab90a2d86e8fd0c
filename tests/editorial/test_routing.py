"""Routing rules: the seeded table, keyword and example matching, checks and the audit trail."""

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select

from kb.editorial.routing import (
    EXAMPLE_MIN,
    ExampleVectors,
    RoutingRule,
    delete_rule,
    list_rules,
    route,
    save_rule,
)
from kb.errors import InvalidInput, NotFound
from kb.store import engine as db
from kb.store.tables import AuditLogRow
from tests.conftest import FakeEmbedder

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def rule(id, team, keywords=(), examples=(), nl="Onderwerp", en="Topic"):
    return RoutingRule(id, team, nl, en, tuple(keywords), tuple(examples), NOW, None)


RULES = [
    rule(1, "billing", ["factuur", "invoice", "direct debit", "refund"]),
    rule(2, "tv", ["tv", "decoder", "zender", "tv guide"]),
    rule(3, "mobile", ["simkaart", "sim", "roaming", "mobile data"]),
]


def team(query, rules=RULES, **kwargs):
    found = route(rules, query, **kwargs)
    return found.team if found else None


def audit_rows(engine):
    with db.session_scope(engine, readonly=True) as session:
        return [(r.action, r.actor_id, r.target, json.loads(r.detail)) for r in session.scalars(select(AuditLogRow))]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Factuur is te hoog", "billing"),
        ("FACTUUR klopt niet", "billing"),  # case
        ("fáctuur", "billing"),  # accents
        ("facturen van vorig jaar", "billing"),  # a plural (same stem)
        ("factur klopt niet", "billing"),  # one typo
        ("the direct debit failed", "billing"),  # a phrase
        ("roamingkosten in spanje", "mobile"),  # a compound that begins with the keyword
        ("tv zenders zijn weg", "tv"),
        ("sim werkt niet", "mobile"),
        ("wifi traag op zolder", None),
        ("simple question", None),  # a short keyword matches whole words only
        ("debit direct", None),  # a phrase's words in order
        ("the guide on the tv", "tv"),
    ],
)
def test_keywords_match_case_accents_plurals_compounds_and_one_typo(query, expected):
    assert team(query) == expected


def test_the_rule_with_the_most_keyword_words_wins_and_the_route_says_why():
    rules = [rule(1, "billing", ["data"]), rule(2, "mobile", ["mobile data"])]
    found = route(rules, "out of mobile data")
    assert found.team == "mobile" and found.how == "keyword" and found.matched == "mobile data"
    assert found.rule.id == 2 and found.topic("nl") == "Onderwerp" and found.topic("en") == "Topic"


def test_example_queries_match_on_the_query_embedding_when_no_keyword_does():
    embedder = FakeEmbedder()
    calls = []
    examples = ExampleVectors(lambda: calls.append(1) or embedder)
    rules = [rule(1, "tv", examples=["picture breaks up on the television"]), rule(2, "billing", ["factuur"])]
    vector = embedder.embed_queries(["picture breaks up on the television"])[0]
    found = route(rules, "beeld valt weg", vector, examples)
    assert found.team == "tv" and found.how == "example" and found.score >= EXAMPLE_MIN
    far = embedder.embed_queries(["order a pizza margherita"])[0]
    assert route(rules, "order a pizza", far, examples) is None
    assert route(rules, "beeld valt weg") is None  # no vector: keywords only
    assert route(rules, "factuur", vector, examples).how == "keyword"  # a keyword comes first
    assert len(calls) == 1  # the examples were embedded once


def test_example_vectors_are_computed_again_when_the_rules_change():
    embedder = FakeEmbedder()
    examples = ExampleVectors(lambda: embedder)
    first = [rule(1, "tv", examples=["television picture"])]
    examples.lookup(first)
    examples.lookup(first)
    assert embedder.queries_embedded == 1
    changed = [rule(1, "tv", examples=["television picture", "decoder restarts"])]
    vectors, owners = examples.lookup(changed)
    assert embedder.queries_embedded == 3 and vectors.shape == (2, embedder.dim)
    assert owners == [(0, "television picture"), (0, "decoder restarts")]
    empty_vectors, empty_owners = examples.lookup([rule(1, "tv", ["tv"])])
    assert empty_owners == [] and empty_vectors.shape == (0, embedder.dim)


def test_no_rules_no_route():
    assert route([], "factuur") is None
    assert route([], "factuur", np.ones(4), ExampleVectors(FakeEmbedder)) is None


def test_the_migration_seeds_billing_tv_mobile_and_sales_with_known_teams(engine):
    from kb.caselog.cases import escalation_teams

    rules = list_rules(engine)
    assert [r.team for r in rules] == ["billing", "tv", "mobile", "sales"]
    assert set(r.team for r in rules) <= set(escalation_teams())
    assert all(r.keywords and r.examples and r.topic_nl and r.topic_en for r in rules)
    assert all(r.updated_by is None for r in rules)
    for query, expected in [
        ("klant is dubbel afgeschreven", "billing"),
        ("my bill is wrong", "billing"),
        ("decoder blijft opstarten", "tv"),
        ("the tv guide is empty", "tv"),
        ("puk code nodig", "mobile"),
        ("roaming charges abroad", "mobile"),
        ("nieuwe klant wil glasvezel", "sales"),
        ("do you have a student discount", "sales"),
        ("wifi traag op zolder", None),
        ("geen internet sinds gisteren", None),
    ]:
        assert team(query, engine) == expected, query


def test_save_adds_and_changes_a_rule_and_audits_both(engine, admin):
    added = save_rule(engine, None, "security", "Fraude", "Fraud", "oplichting, scam\n fraud ", "", admin.id)
    assert added.keywords == ("oplichting", "scam", "fraud") and added.examples == ()
    assert added.updated_by == admin.id and added in list_rules(engine)
    changed = save_rule(
        engine, added.id, "security", "Fraude", "Fraud", ["fraud"], ["someone stole my identity"], admin.id
    )
    assert changed.keywords == ("fraud",) and changed.examples == ("someone stole my identity",)
    rows = [r for r in audit_rows(engine) if r[2] == f"routing_rule:{added.id}"]
    assert [(action, actor) for action, actor, _, _ in rows] == [
        ("routing_rule_added", admin.id),
        ("routing_rule_changed", admin.id),
    ]
    assert rows[0][3]["before"] is None and rows[0][3]["after"]["keywords"] == "oplichting\nscam\nfraud"
    assert rows[1][3]["before"]["keywords"] == "oplichting\nscam\nfraud" and rows[1][3]["after"]["keywords"] == "fraud"
    assert team("het is oplichting", engine) is None and team("fraud call", engine) == "security"


def test_delete_removes_a_rule_and_audits_what_it_was(engine, admin):
    tv = next(r for r in list_rules(engine) if r.team == "tv")
    delete_rule(engine, tv.id, admin.id)
    assert "tv" not in [r.team for r in list_rules(engine)] and team("decoder kapot", engine) is None
    action, actor, target, detail = audit_rows(engine)[-1]
    assert (action, actor, target) == ("routing_rule_deleted", admin.id, f"routing_rule:{tv.id}")
    assert detail["before"]["team"] == "tv" and detail["after"] is None
    with pytest.raises(NotFound, match="no routing rule"):
        delete_rule(engine, tv.id, admin.id)
    with pytest.raises(NotFound, match="no routing rule"):
        save_rule(engine, tv.id, "tv", "Tv", "TV", "tv", "", admin.id)


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"team": "plumbing"}, "team", "The team must be one of"),
        ({"topic_nl": "  "}, "topic_nl", "The Dutch topic is required"),
        ({"topic_en": "x" * 101}, "topic_en", "The English topic is too long"),
        ({"keywords": "", "examples": ""}, "keywords", "at least one keyword or example"),
        ({"keywords": "tv, x"}, "keywords", "The keyword 'x' is too short"),
        ({"keywords": "a" * 61}, "keywords", "is too long"),
        ({"keywords": ",".join(f"word{i}" for i in range(101))}, "keywords", "at most 100 keywords"),
        ({"examples": "?!?"}, "examples", "has no words"),
        ({"examples": "a" * 201}, "examples", "at most 200 characters"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_what_to_do(engine, admin, changes, field, message):
    values = {"team": "billing", "topic_nl": "Facturen", "topic_en": "Invoices", "keywords": "factuur", "examples": ""}
    values.update(changes)
    before = list_rules(engine)
    with pytest.raises(InvalidInput, match=message) as err:
        save_rule(engine, None, **values, actor_id=admin.id)
    assert err.value.field == field
    assert list_rules(engine) == before and not [r for r in audit_rows(engine) if r[0].startswith("routing")]


def test_teams_come_from_the_escalation_teams(engine, admin, monkeypatch):
    monkeypatch.setenv("KB_ESCALATION_TEAMS", "tier2,noc")
    with pytest.raises(InvalidInput, match="tier2, noc"):
        save_rule(engine, None, "billing", "Facturen", "Invoices", "factuur", "", admin.id)
    assert save_rule(engine, None, "noc", "Netwerk", "Network", "glasvezelkabel", "", admin.id).team == "noc"
