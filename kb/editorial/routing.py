"""Routing hints: topics the knowledge base does not cover (billing, TV, mobile, ...) and the team
that takes them, in the table `routing_rules` that editors keep up to date.

A rule has keywords (words or phrases, either language) and example queries. `route` is asked only
when a search found no good match: a query that contains a rule's keyword gets that rule's team
(case and accents ignored; plurals, compounds and one typo allowed; a phrase's words in order).
Without one, given the query's embedding, the rule whose example queries are closest, if close
enough. Every change to the table is audited.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, select

from kb.caselog.cases import escalation_teams
from kb.errors import InvalidInput, NotFound
from kb.search.analysis import stem, words
from kb.store import engine as db
from kb.store.tables import AuditLogRow, RoutingRuleRow, check_choice, check_id, check_text

MAX_KEYWORDS, MAX_KEYWORD_CHARS = 100, 60
MAX_EXAMPLES, MAX_EXAMPLE_CHARS = 50, 200
PREFIX_MIN = 4  # a keyword this long also matches words it begins ("roaming" in "roamingkosten")
TYPO_MIN = 5  # a keyword this long also matches a word one typo away
# The cosine between the query's embedding and an example query's at which a rule is a hint.
# Tuned with the bundled model on the development out-of-scope set (README, Confidence).
EXAMPLE_MIN = 0.9


@dataclass(frozen=True)
class RoutingRule:
    id: int
    team: str
    topic_nl: str
    topic_en: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    updated_at: datetime
    updated_by: int | None

    def topic(self, lang: str | None) -> str:
        return self.topic_nl if lang == "nl" else self.topic_en


@dataclass(frozen=True)
class Route:
    """Which rule a query matched, how ("keyword" or "example") and on what."""

    rule: RoutingRule
    how: str
    matched: str
    score: float

    @property
    def team(self) -> str:
        return self.rule.team

    def topic(self, lang: str | None) -> str:
        return self.rule.topic(lang)


# -- the table -------------------------------------------------------------------------------------


def list_rules(engine: Engine) -> list[RoutingRule]:
    """Every rule, in the order they were added."""
    with db.session_scope(engine, readonly=True) as session:
        return [_rule(row) for row in session.scalars(select(RoutingRuleRow).order_by(RoutingRuleRow.id))]


def save_rule(
    engine: Engine,
    rule_id: int | None,
    team: str,
    topic_nl: str,
    topic_en: str,
    keywords: str | Iterable[str],
    examples: str | Iterable[str],
    actor_id: int | None,
) -> RoutingRule:
    """Add a rule (rule_id None) or change one; checked, and audited with who did it.

    Keywords and examples are one a line (keywords may also be separated by commas). Raises
    InvalidInput naming the field, or NotFound.
    """
    values = {
        "team": check_choice("team", team, escalation_teams(), label="team"),
        "topic_nl": check_text("topic_nl", topic_nl, label="Dutch topic", limit="topic", one_line=True),
        "topic_en": check_text("topic_en", topic_en, label="English topic", limit="topic", one_line=True),
        "keywords": "\n".join(check_keywords(keywords)),
        "examples": "\n".join(check_examples(examples)),
    }
    if not values["keywords"] and not values["examples"]:
        raise InvalidInput("keywords", "Give at least one keyword or example query, or the topic is never matched.")
    actor_id = None if actor_id is None else check_id("actor_id", actor_id)
    with db.session_scope(engine) as session:
        if rule_id is None:
            row, before = RoutingRuleRow(), None
            session.add(row)
        else:
            row = session.get(RoutingRuleRow, check_id("rule_id", rule_id), with_for_update=True)
            if row is None:
                raise NotFound(f"There is no routing rule {rule_id}; reload the page.")
            before = _audit_values(row)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at, row.updated_by = db.utcnow(), actor_id
        session.flush()
        _audit(session, actor_id, "routing_rule_added" if before is None else "routing_rule_changed", row, before)
        return _rule(row)


def delete_rule(engine: Engine, rule_id: int, actor_id: int | None) -> None:
    """Remove a rule (audited with what it was)."""
    actor_id = None if actor_id is None else check_id("actor_id", actor_id)
    with db.session_scope(engine) as session:
        row = session.get(RoutingRuleRow, check_id("rule_id", rule_id), with_for_update=True)
        if row is None:
            raise NotFound(f"There is no routing rule {rule_id}; reload the page.")
        _audit(session, actor_id, "routing_rule_deleted", row, _audit_values(row), after=False)
        session.delete(row)


def check_keywords(value: str | Iterable[str]) -> list[str]:
    """Keywords one a line or comma separated: trimmed, without repeats, each with a letter or digit."""
    found = _lines(value, "keywords", split_commas=True)
    for keyword in found:
        if len(keyword) > MAX_KEYWORD_CHARS:
            raise InvalidInput("keywords", f"The keyword '{keyword[:30]}...' is too long; keep each to a few words.")
        if len("".join(words(keyword))) < 2:
            raise InvalidInput("keywords", f"The keyword '{keyword}' is too short; use at least two letters or digits.")
    if len(found) > MAX_KEYWORDS:
        raise InvalidInput("keywords", f"Give at most {MAX_KEYWORDS} keywords (found {len(found)}).")
    return found


def check_examples(value: str | Iterable[str]) -> list[str]:
    """Example queries one a line: trimmed, without repeats, each at most MAX_EXAMPLE_CHARS."""
    found = _lines(value, "examples", split_commas=False)
    for example in found:
        if len(example) > MAX_EXAMPLE_CHARS:
            raise InvalidInput(
                "examples", f"The example '{example[:30]}...' is too long; at most {MAX_EXAMPLE_CHARS} characters."
            )
        if not words(example):
            raise InvalidInput("examples", f"The example '{example}' has no words.")
    if len(found) > MAX_EXAMPLES:
        raise InvalidInput("examples", f"Give at most {MAX_EXAMPLES} example queries (found {len(found)}).")
    return found


def _lines(value, field: str, split_commas: bool) -> list[str]:
    if isinstance(value, str):
        text = check_text(field, value, label=field, required=False)
        parts = text.replace(",", "\n").splitlines() if split_commas else text.splitlines()
    else:
        parts = [check_text(field, v, label=field, required=False, limit=field) for v in value]
    return list(dict.fromkeys(" ".join(p.split()) for p in parts if p.strip()))


def _rule(row: RoutingRuleRow) -> RoutingRule:
    return RoutingRule(
        row.id,
        row.team,
        row.topic_nl,
        row.topic_en,
        tuple(row.keywords.splitlines()) if row.keywords else (),
        tuple(row.examples.splitlines()) if row.examples else (),
        row.updated_at,
        row.updated_by,
    )


def _audit_values(row: RoutingRuleRow) -> dict:
    return {k: getattr(row, k) for k in ("team", "topic_nl", "topic_en", "keywords", "examples")}


def _audit(session, actor_id, action: str, row: RoutingRuleRow, before: dict | None, after: bool = True) -> None:
    detail = {"before": before, "after": _audit_values(row) if after else None}
    session.add(
        AuditLogRow(
            at=db.utcnow(), actor_id=actor_id, action=action, target=f"routing_rule:{row.id}", detail=json.dumps(detail)
        )
    )


# -- matching --------------------------------------------------------------------------------------


class ExampleVectors:
    """The example queries' embeddings, computed once per process and again when the rules change
    (another server's edit too: the rules are read from the database on each weak search)."""

    def __init__(self, embedder: Callable[[], object]):
        self._embedder = embedder  # called only when the vectors are (re)computed: the model loads lazily
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._owners: list[tuple[int, str]] = []

    def lookup(self, rules: list[RoutingRule]) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """(one row per example query, (index of its rule in `rules`, the example) per row)."""
        key = tuple((r.id, r.examples) for r in rules)
        with self._lock:
            if key != self._key:
                owners = [(i, example) for i, r in enumerate(rules) for example in r.examples]
                embedder = self._embedder()
                self._vectors = (
                    embedder.embed_queries([e for _, e in owners])
                    if owners
                    else np.zeros((0, embedder.dim), dtype=np.float32)
                )
                self._owners, self._key = owners, key
            return self._vectors, self._owners


def route(
    engine_or_rules: Engine | Iterable[RoutingRule],
    query: str,
    query_vector: np.ndarray | None = None,
    examples: ExampleVectors | None = None,
) -> Route | None:
    """The rule for a query the knowledge base has no good answer to, or None.

    A keyword in the query wins (the rule with the most keyword words found); without one, the rule
    with the example query closest to `query_vector`, if at least EXAMPLE_MIN (needs `examples`).
    """
    rules = list_rules(engine_or_rules) if isinstance(engine_or_rules, Engine) else list(engine_or_rules)
    if not rules:
        return None
    query_words = words(query)
    best: Route | None = None
    for rule in rules:
        matched = [k for k in rule.keywords if _contains(query_words, words(k))]
        score = float(sum(len(words(k)) for k in matched))
        if matched and (best is None or score > best.score):
            best = Route(rule, "keyword", max(matched, key=len), score)
    if best is not None or query_vector is None or examples is None:
        return best
    vectors, owners = examples.lookup(rules)
    if not owners:
        return None
    similarity = vectors @ np.asarray(query_vector, dtype=np.float32)
    top = int(np.argmax(similarity))
    if float(similarity[top]) < EXAMPLE_MIN:
        return None
    rule_index, example = owners[top]
    return Route(rules[rule_index], "example", example, round(float(similarity[top]), 4))


def _contains(query_words: list[str], keyword_words: list[str]) -> bool:
    """The keyword's words, in order, next to each other in the query."""
    n = len(keyword_words)
    return n > 0 and any(
        all(_same_word(k, q) for k, q in zip(keyword_words, query_words[i : i + n], strict=True))
        for i in range(len(query_words) - n + 1)
    )


def _same_word(keyword: str, word: str) -> bool:
    if word == keyword:
        return True
    if len(keyword) >= PREFIX_MIN and word.startswith(keyword):
        return True
    if len(keyword) >= 3 and any(stem(word, lang) == stem(keyword, lang) for lang in ("nl", "en")):
        return True
    return len(keyword) >= TYPO_MIN and _one_edit(keyword, word)


def _one_edit(a: str, b: str) -> bool:
    """True when b is a one-letter insertion, deletion, replacement or swap away from a."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i, j = (diff + [0, 0])[:2]
        return len(diff) == 2 and j == i + 1 and (a[i], a[j]) == (b[j], b[i])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
