"""The demo history: months of realistic first-line cases, for trying the reports and the case pages.

`generate` writes a case history into a case log that holds no real cases, through the same
library functions the web app uses (kb.caselog.cases, kb.caselog.gaps, kb.identity.users), so
every check applies and the rows look exactly like real ones, except that each case has
`is_demo = True` and a customer reference starting with "DEMO-". The timestamps come from a
simulated clock: `kb.store.engine.utcnow` is replaced for the duration of the run, so run it
from the command line (`kb demo`, or `kb start` before it serves), never inside a process that
serves requests at the same time. Each library call commits on its own, as in the app; if a run
fails half-way, what was written stays: `kb demo --remove` clears it.

The history is made by twelve demo agents (`demo-agent-01` ... `demo-agent-12`, role agent, in the
teams helpdesk-a, helpdesk-b and chat-desk; reused when they exist). Contacts arrive over the last
`days` days, weighted towards office hours and weekdays (Europe/Amsterdam), with two short outage
peaks; a few call drivers are frequent and the rest form a long tail. Phone is the most common
channel, then chat, then e-mail. About three in four cases are resolved, one in five escalated,
one in twelve closed as unresolved / callback; some customers contact the helpdesk again within a
few days, a few cases are reopened. Everything is drawn from `random.Random(seed)`: the same seed
and the same end time (`now`) give the same history.

Generating is refused while the database holds a real case (`has_real_cases`), and also while it
holds a demo history already: run `kb demo --remove` first to replace it. `remove` deletes the
demo cases with everything that hangs off them, and the demo agents when nothing else refers to
them; real cases and their rows are never touched.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Column, Engine, Table, delete, exists, false, func, select, true
from sqlalchemy.orm import Session

from kb.caselog import cases as caselog
from kb.caselog.gaps import GapTable, flag_gap
from kb.content.articles import Article
from kb.errors import InvalidInput, KBError
from kb.identity.users import create_user
from kb.store import engine as db
from kb.store.tables import AuditLogRow, Base, CaseRow, UserRow

__all__ = ["AGENT_PREFIX", "DemoRefused", "DemoReport", "generate", "has_real_cases", "remove"]

AGENT_PREFIX = "demo-agent-"
CUSTOMER_PREFIX = "DEMO-"
MAX_CASES = 1_000_000
MAX_DAYS = 3650
PROGRESS_EVERY = 100

_AGENTS = (  # username suffix, display name, team, language
    ("01", "Sanne Jansen", "helpdesk-a", "nl"),
    ("02", "Daan de Vries", "helpdesk-a", "nl"),
    ("03", "Fatima el Amrani", "helpdesk-a", "nl"),
    ("04", "Bram Visser", "helpdesk-a", "nl"),
    ("05", "Lotte Bakker", "helpdesk-a", "nl"),
    ("06", "Mehmet Yilmaz", "helpdesk-b", "nl"),
    ("07", "Eva Smit", "helpdesk-b", "nl"),
    ("08", "Ruben Mulder", "helpdesk-b", "nl"),
    ("09", "Noor Hendriks", "helpdesk-b", "nl"),
    ("10", "Tom Peters", "chat-desk", "nl"),
    ("11", "Anika Schmidt", "chat-desk", "en"),
    ("12", "James O'Brien", "chat-desk", "en"),
)
# Who takes which channel: phone is the two helpdesk teams, chat and e-mail mostly the chat desk.
_CHANNEL_TEAMS = {
    "phone": {"helpdesk-a": 1.0, "helpdesk-b": 1.0},
    "chat": {"chat-desk": 4.0, "helpdesk-b": 1.0},
    "email": {"chat-desk": 2.0, "helpdesk-b": 1.0, "helpdesk-a": 0.5},
}
_CHANNELS = (("phone", 0.60), ("chat", 0.30), ("email", 0.10))

# The frequent call drivers, most frequent first; the other articles form the long tail.
_HEAD = (
    "no-internet-all-devices",
    "router-restart",
    "slow-wifi",
    "dsl-no-sync",
    "fiber-los-red-light",
    "email-password-reset",
    "wifi-coverage",
    "connection-drops",
    "modem-status-lights",
    "wifi-cannot-connect",
    "cable-modem-no-signal",
    "speed-below-contract",
    "customer-portal-password-reset",
    "no-internet-single-device",
    "check-area-outage",
    "voip-no-dial-tone",
)
# How-to-work articles: opened along the way (identity check, hand-off), never a call driver.
_PROCESS = ("escalate-to-tier2", "documenting-a-case", "handling-upset-customer", "verify-customer-identity")
_IDENTITY, _HANDOFF = "verify-customer-identity", "escalate-to-tier2"
_OUTAGE_DRIVERS = ("check-area-outage", "no-internet-all-devices")
_ZIPF = 0.95

_TEAM_WEIGHTS = {"tier2": 0.58, "network-operations": 0.17, "field-service": 0.13, "billing": 0.08, "security": 0.04}
# Articles whose problems are hard to fix on the phone (escalated more often) or easy (less often).
_HARD = {"fiber-los-red-light": 1.8, "dsl-no-sync": 1.5, "cable-modem-no-signal": 1.6, "modem-replacement": 2.0}
_EASY_CATEGORIES = {"account": 0.6, "email": 0.7, "wifi": 0.8}

P_RESOLVED, P_ESCALATED = 0.755, 0.155  # of the cases where an article was worked through; the rest unresolved
P_NO_ARTICLE = 0.03  # escalated without any article opened
P_REPEAT = 0.087  # a new contact is a customer coming back within a few days (when there is one to come back)
P_REOPEN = {"resolved": 0.013, "unresolved": 0.05, "escalated": 0.0}
P_WEAK_FIRST = 0.08

_HOURS = {8: 0.5, 9: 1.0, 10: 1.1, 11: 1.0, 12: 0.75, 13: 0.9, 14: 0.9, 15: 0.85, 16: 0.85, 17: 0.75}
_HOURS |= {18: 0.6, 19: 0.8, 20: 0.7, 21: 0.35}
_WEEKDAYS = (1.15, 1.0, 0.95, 0.95, 0.9, 0.5, 0.3)  # Monday ... Sunday
_OPENS, _CLOSES = 8, 22
_TECH = {"connectivity", "router", "wifi", "telephony", "tv"}  # problems with lights, cables and "back online"

# Seconds between things an agent does, per channel (lognormal medians); e-mail waits hours for replies.
_LISTEN = {"phone": 35, "chat": 60, "email": 150}
_STEP = {"phone": 48, "chat": 85, "email": 55}
_EMAIL_WAIT_MEDIAN, _EMAIL_WAIT_SIGMA = 3 * 3600, 0.9

_STOP = {
    "nl": set(
        "de het een en ik mijn we wij is zijn op in van te dat die er maar als met voor aan om je u ze al nog wel "
        "heel dan ook bij of naar hoe wat moet kan heb hebben word wordt zo toch echt gewoon weer sinds onze ons "
        "dit deze mij me hem haar hij zij jullie was".split()
    ),
    "en": set(
        "the a an and i my we is are it its it's on in of to that this there but if with for at or how what do "
        "does have has so just me you your from can am be been was really all any up off out still again every "
        "since when after our us he she they them i'm i've".split()
    ),
}
_WORD = re.compile(r"[0-9a-zà-ÿ]+(?:['’][a-z]+)?")

_TEXT = {
    "nl": {
        "prefix": ("", "", "Klant belt: ", "Klant meldt: ", "Klant geeft aan: ", "Kl. zegt: ", "Melding: "),
        "suffix": ("", "", "", " sinds vanochtend", " sinds gisteravond", " al twee dagen", " sinds het onweer"),
        "email": ("Mail van klant: ", "E-mail klant: "),
        "chat": ("Chat: ", "", "", "Klant in de chat: "),
        "repeat": ("Weer contact: ", "2e contact: ", "Opnieuw contact over eerdere melding: ", "Klant komt terug op: "),
        "weak": (
            "werkt niet",
            "internet raar",
            "kastje doet raar",
            "storing?",
            "probleem modem",
            "lampje",
            "geen verbinding",
            "ding doet het niet",
            "foutmelding",
            "internet doet vreemd",
            "rare melding",
            "apparaat offline",
        ),
        "uncovered": (
            "decoder start niet op na update",
            "smart-tv app geeft foutcode 1012",
            "printer niet meer zichtbaar op netwerk",
            "slimme thermostaat verliest steeds verbinding",
            "deurbelcamera werkt niet meer sinds nieuw modem",
            "klant wil vaste ip voor thuiskantoor",
            "laadpaal auto krijgt geen verbinding",
            "spelcomputer nat type strikt",
        ),
        "result": ("ok", "klopt", "gedaan", "zoals verwacht", "klant had dit al gedaan"),
        "result_tech": ("lampje brandt groen", "lampjes zien er normaal uit", "klant ziet het netwerk"),
        "stuck": ("geen verbetering", "geen verschil", "nog steeds niks", "werkt nog niet", "lukt niet"),
        "stuck_tech": ("lampje blijft rood", "nog steeds geen sync", "blijft knipperen"),
        "fixed": ("opgelost", "gelukt", "klant tevreden", "werkt nu"),
        "fixed_tech": ("werkt weer", "klant is weer online"),
        "note": (
            "Klant belt vanaf mobiel.",
            "Klant is niet technisch, rustig uitgelegd.",
            "Klant was geïrriteerd, al eerder gebeld.",
            "Klant wil bevestiging per mail.",
        ),
        "note_tech": (
            "Klant heeft modem al eerder herstart.",
            "Modem staat in de meterkast.",
            "Klant heeft eigen router achter het modem.",
        ),
        "resolved": ("", "", "Opgelost, klant tevreden.", "Klant geholpen met stap {k}."),
        "resolved_tech": ("Klant is weer online.", "Werkt weer na stap {k}."),
        "unresolved": (
            "Klant niet bij het modem, belt terug.",
            "Gesprek weggevallen.",
            "Klant probeert het zelf nog, belt terug.",
            "Terugbelafspraak gemaakt voor morgen.",
            "Klant had geen tijd meer.",
            "Geen reactie meer van klant.",
        ),
        "escalate": "Na stap {k} geen verbetering. {why}",
        "no_article": "Geen artikel gevonden voor dit probleem. {why}",
        "why": {
            "tier2": "Graag lijn en modem op afstand controleren.",
            "network-operations": "Mogelijk storing in de wijk, graag netwerk controleren.",
            "field-service": "Monteur nodig op locatie.",
            "billing": "Abonnement of factuur moet aangepast worden.",
            "security": "Mogelijk misbruik van het account, graag beoordelen.",
        },
        "why_other": "Graag verder onderzoeken.",
        "reopen": ("Klant belt terug: probleem is terug.", "Klant belt terug, werkt toch niet.", "Terugbelafspraak."),
    },
    "en": {
        "prefix": ("", "", "Customer calls: ", "Customer reports: ", "Cust says: ", "Caller: "),
        "suffix": ("", "", "", " since this morning", " since last night", " for two days now", " after a storm"),
        "email": ("E-mail from customer: ", "Mail: "),
        "chat": ("Chat: ", "", "", "Customer in chat: "),
        "repeat": ("Contact again: ", "Second contact: ", "Follow-up on earlier case: ", "Back again: "),
        "weak": (
            "not working",
            "internet weird",
            "box acting up",
            "outage?",
            "modem problem",
            "light",
            "no connection",
            "thing broken",
            "error message",
            "weird message",
            "device offline",
        ),
        "uncovered": (
            "set-top box stuck after update",
            "smart tv app shows error 1012",
            "printer not visible on network anymore",
            "smart thermostat keeps losing connection",
            "doorbell camera stopped working with new modem",
            "customer wants fixed ip for home office",
            "car charger cannot connect",
            "game console nat type strict",
        ),
        "result": ("ok", "done", "as expected", "customer already did this"),
        "result_tech": ("light is green", "lights look normal", "customer sees the network"),
        "stuck": ("no improvement", "no change", "still nothing", "still not working", "did not work"),
        "stuck_tech": ("light stays red", "still no sync", "keeps blinking"),
        "fixed": ("solved", "done, customer happy", "works now"),
        "fixed_tech": ("working again", "customer back online"),
        "note": (
            "Customer is calling from a mobile.",
            "Customer is not technical, explained slowly.",
            "Customer was annoyed, has called before.",
            "Customer wants confirmation by e-mail.",
        ),
        "note_tech": (
            "Customer already restarted the modem earlier.",
            "Modem is in the meter cupboard.",
            "Customer has own router behind the modem.",
        ),
        "resolved": ("", "", "Solved, customer happy.", "Helped the customer with step {k}."),
        "resolved_tech": ("Customer back online.", "Working again after step {k}."),
        "unresolved": (
            "Customer not at the modem, will call back.",
            "Call dropped.",
            "Customer will try it first, calls back.",
            "Callback arranged for tomorrow.",
            "Customer had no more time.",
            "No more reply from customer.",
        ),
        "escalate": "No improvement after step {k}. {why}",
        "no_article": "No article found for this problem. {why}",
        "why": {
            "tier2": "Please check line and modem remotely.",
            "network-operations": "Possibly an outage in the area, please check the network.",
            "field-service": "Technician needed on site.",
            "billing": "Subscription or bill needs changing.",
            "security": "Possible misuse of the account, please assess.",
        },
        "why_other": "Please investigate further.",
        "reopen": ("Customer calls back: problem is back.", "Customer calls back, still not working.", "Callback."),
    },
}


class DemoRefused(KBError):
    """The demo history is not written: the database holds real cases, or a demo history already."""


@dataclass(frozen=True)
class DemoReport:
    cases: int
    agents: int
    searches: int
    escalated: int
    resolved: int
    unresolved: int
    repeats: int


# -- checks and removal ---------------------------------------------------------------------------------


def has_real_cases(engine: Engine) -> bool:
    """True when the case log holds any case not written by `kb demo`."""
    with db.session_scope(engine, readonly=True) as session:
        return bool(session.scalar(select(exists().where(CaseRow.is_demo == false()))))


def _demo_case_count(engine: Engine) -> int:
    with db.session_scope(engine, readonly=True) as session:
        return session.scalar(select(func.count()).select_from(CaseRow).where(CaseRow.is_demo == true())) or 0


def _referring(table: Table) -> list[tuple[Table, Column, Column]]:
    """(child table, its column, the column of `table` it refers to) for every foreign key to `table`."""
    return [
        (child, fk.parent, fk.column)
        for child in Base.metadata.sorted_tables
        for fk in child.foreign_keys
        if fk.column.table is table and child is not table
    ]


def _delete_with_dependents(session: Session, table: Table, where) -> None:
    """Delete the rows of `table` that match `where`, after every row that refers to them (at any depth)."""
    for child, column, key in _referring(table):
        _delete_with_dependents(session, child, column.in_(select(key).where(where)))
    session.execute(delete(table).where(where))


def remove(engine: Engine) -> int:
    """Delete the demo cases with everything hanging off them; the number of cases removed.

    Removed with them: every row that refers to a demo case (its events, resolutions, webhook
    deliveries, content gaps, article flags, analytics facts, and rows referring to those), and the
    audit entries about them (reopenings).
    The demo agents go too when nothing else refers to them. Article revision texts stay: they are
    shared with real cases and hold no customer data. Real cases are never touched.
    """
    with db.session_scope(engine) as session:
        ids = list(session.scalars(select(CaseRow.id).where(CaseRow.is_demo == true()).order_by(CaseRow.id)))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            targets = [f"case:{case_id}" for case_id in chunk]
            session.execute(delete(AuditLogRow).where(AuditLogRow.target.in_(targets)))
            _delete_with_dependents(session, CaseRow.__table__, CaseRow.id.in_(chunk) & (CaseRow.is_demo == true()))
        agents = session.execute(select(UserRow.id, UserRow.username).where(UserRow.username.startswith(AGENT_PREFIX)))
        for user_id, username in agents.all():
            if not re.fullmatch(rf"{AGENT_PREFIX}\d\d", username):
                continue
            used = any(
                session.scalar(select(exists().where(column == user_id)))
                for _child, column, _key in _referring(UserRow.__table__)
            )
            if not used:
                session.execute(delete(UserRow).where(UserRow.id == user_id))
    return len(ids)


# -- the simulated clock ----------------------------------------------------------------------------------


class _Clock:
    """The stand-in for kb.store.engine.utcnow while the history is written."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def _simulated(clock: _Clock) -> Iterator[None]:
    real = db.utcnow
    db.utcnow = clock
    try:
        yield
    finally:
        db.utcnow = real


class _OutOfTime(Exception):
    """The next thing the agent would do lies after the end of the history: the case stays as it is."""


def _local_zone():
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:  # pragma: no cover - a system without time zone data
        return timezone(timedelta(hours=1))


# -- the articles -------------------------------------------------------------------------------------------


class _Catalog:
    """The articles by id and language, with the popularity of each call driver."""

    def __init__(self, articles: list[Article], rng: random.Random):
        self.by_id: dict[str, dict[str, Article]] = {}
        for article in sorted(articles, key=lambda a: (a.id, a.lang)):
            if article.steps and article.lang in ("nl", "en") and article.id:
                self.by_id.setdefault(article.id, {})[article.lang] = article
        if not self.by_id:
            raise InvalidInput(
                "articles", "There are no articles with steps to build a demo history from; run kb lint."
            )
        drivers = [i for i in self.by_id if i not in _PROCESS] or list(self.by_id)
        head = [i for i in _HEAD if i in drivers]
        tail = sorted(i for i in drivers if i not in head)
        rng.shuffle(tail)
        self.drivers = head + tail
        self.weights = [1 / (rank + 1) ** _ZIPF for rank in range(len(self.drivers))]
        self.cumulative = list(_accumulate(self.weights))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.drivers, cum_weights=self.cumulative)[0]

    def version(self, article_id: str, lang: str) -> Article:
        versions = self.by_id[article_id]
        return versions.get(lang) or next(iter(versions.values()))

    def related(self, article: Article) -> list[str]:
        return [i for i in article.related if i in self.by_id and i != article.id and i not in _PROCESS]


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def _escalation_point(article: Article) -> int:
    """The step at which agents typically give up on this article and escalate."""
    numbers = [s.number for s in article.steps]
    mentioned = [
        s.number
        for s in article.steps
        if re.search(r"escalat|escaleer", f"{s.action} {s.expected}", re.I) and s.number >= len(numbers) / 2
    ]
    if mentioned:
        return mentioned[-1]
    return numbers[min(len(numbers) - 1, max(0, round(len(numbers) * 0.75) - 1))]


# -- the generator ------------------------------------------------------------------------------------------


@dataclass
class _Agent:
    id: int
    team: str
    free_at: datetime


@dataclass
class _Customer:
    ref: str
    lang: str
    connection: str


@dataclass
class _Done:
    """What the generator remembers of a case it wrote: for repeat contacts and reopenings."""

    case_id: int
    customer: _Customer
    article_id: str | None
    lang: str
    channel: str
    agent: _Agent
    status: str
    closed_at: datetime
    last_step: int
    repeated: bool = False


@dataclass
class _Tally:
    searches: int = 0
    repeats: int = 0
    status: dict[int, str] = field(default_factory=dict)


class _Generator:
    def __init__(
        self, engine: Engine, catalog: _Catalog, agents: list[_Agent], rng: random.Random, clock: _Clock, end: datetime
    ):
        self.engine, self.catalog, self.agents = engine, catalog, agents
        self.rng, self.clock, self.end = rng, clock, end
        self.gaps = GapTable(engine)
        self.teams = caselog.escalation_teams()
        self.team_weights = [_TEAM_WEIGHTS.get(t, 0.1) for t in self.teams]
        self.customers: set[str] = set()
        self.recent: list[_Done] = []
        self.tally = _Tally()
        self.points: dict[tuple[str, str], int] = {}
        self.jobs = _Jobs()
        self.busy_until: datetime | None = None  # e-mail: the agent is free while waiting for the reply

    # -- choosing -----------------------------------------------------------------------------------------

    def _customer(self, article: Article) -> _Customer:
        rng = self.rng
        while True:
            ref = f"{CUSTOMER_PREFIX}{rng.randrange(100000, 1000000)}"
            if ref not in self.customers:
                self.customers.add(ref)
                break
        lang = "nl" if rng.random() < 0.75 else "en"
        kinds = [c for c in article.connections if c in ("fibre", "dsl", "cable")]
        if kinds:
            connection = rng.choice(kinds)
        elif article.category in ("account", "email") and rng.random() < 0.35:
            connection = "unknown"
        else:
            connection = rng.choices(("fibre", "dsl", "cable", "unknown"), (0.42, 0.28, 0.25, 0.05))[0]
        return _Customer(ref, lang, connection)

    def _agent(self, channel: str, at: datetime, prefer: _Agent | None = None) -> tuple[_Agent, datetime]:
        """An agent of a team that takes this channel, free at `at` (or the first to be free), and the start."""
        if prefer is not None and prefer.free_at <= at and self.rng.random() < 0.4:
            return prefer, at
        weights = _CHANNEL_TEAMS[channel]
        pool = [a for a in self.agents if a.team in weights] or self.agents
        free = [a for a in pool if a.free_at <= at]
        if free:
            agent = self.rng.choices(free, [weights.get(a.team, 1.0) for a in free])[0]
            return agent, at
        agent = min(pool, key=lambda a: (a.free_at, a.id))
        return agent, agent.free_at + timedelta(seconds=self.rng.uniform(5, 40))

    def _team(self, article: Article | None) -> str:
        if article is not None and article.escalate_to in self.teams and self.rng.random() < 0.8:
            return article.escalate_to
        return self.rng.choices(self.teams, self.team_weights)[0]

    def _point(self, article: Article) -> int:
        key = (article.id, article.lang)
        if key not in self.points:
            self.points[key] = _escalation_point(article)
        return self.points[key]

    # -- writing, on the clock --------------------------------------------------------------------------

    def _wait(self, median: float, sigma: float = 0.5, pace: float = 1.0, minimum: float = 2.0) -> None:
        seconds = max(minimum, self.rng.lognormvariate(math.log(median), sigma) * pace)
        later = self.clock.now + timedelta(seconds=seconds)
        if later >= self.end:
            raise _OutOfTime
        self.clock.now = later

    def _wait_for_reply(self) -> None:
        """An e-mail waits hours for the customer's answer; the agent picks it up in office hours."""
        seconds = min(self.rng.lognormvariate(math.log(_EMAIL_WAIT_MEDIAN), _EMAIL_WAIT_SIGMA), 4 * 86400)
        later = _office_hours(self.clock.now + timedelta(seconds=seconds), self.rng)
        if self.busy_until is None:
            self.busy_until = self.clock.now
        if later >= self.end:
            raise _OutOfTime
        self.clock.now = later

    def _search(self, case_id: int, agent: _Agent, lang: str, query: str, top: list[str], weak: bool = False) -> None:
        caselog.record_search(self.engine, case_id, agent.id, query, top, weak=weak)
        self.tally.searches += 1
        if weak:
            self.gaps.add_weak(query, lang, agent.id, case_id, vector=None)

    def _top(self, main: str | None, article: Article | None) -> list[str]:
        """The article ids a search showed first: the right one (mostly first) and its neighbours;
        for a vague search (`main` None) some of the popular articles."""
        rng = self.rng
        if main is None or article is None:
            pool = self.catalog.drivers[:20]
            return rng.sample(pool, min(len(pool), rng.randint(3, 5)))
        related = self.catalog.related(article)
        top = [main, *rng.sample(related, min(len(related), rng.randint(2, 4)))]
        if len(top) > 1 and rng.random() < 0.2:
            top[0], top[1] = top[1], top[0]
        return top

    def _ticks(
        self, case_id: int, agent: _Agent, article: Article, upto: int, pace: float, channel: str, ending: str = ""
    ) -> int:
        """Tick the article's steps up to number `upto` in order, with an occasional skip; the last ticked."""
        rng = self.rng
        numbers = [s.number for s in article.steps if s.number <= upto] or [article.steps[0].number]
        last = numbers[-1]
        wait_before = (
            numbers[max(1, int(len(numbers) * 0.6))] if channel == "email" and len(numbers) > 2 else None
        )  # e-mail: the customer does the later steps and mails back
        ticked = 0
        for number in numbers:
            if number not in (numbers[0], last, wait_before) and rng.random() < 0.08:
                continue  # the agent skipped this one
            if number == wait_before:
                self._wait_for_reply()
            self._wait(_STEP[channel], 0.55, pace, minimum=8)
            if number == last and ending:
                result = self._say(article, ending)
            else:
                result = self._say(article, "result") if rng.random() < 0.25 else None
            caselog.tick_step(self.engine, case_id, agent.id, article.id, article.lang, number, result, version=article)
            ticked = number
            if number != last and rng.random() < 0.005:  # a mis-click on the next step, taken back
                following = next((n for n in numbers if n > number), None)
                if following is not None:
                    self._wait(4, 0.3, minimum=1)
                    caselog.tick_step(
                        self.engine, case_id, agent.id, article.id, article.lang, following, version=article
                    )
                    self._wait(6, 0.4, minimum=1)
                    caselog.untick_step(self.engine, case_id, agent.id, article.id, article.lang, following)
            if rng.random() < 0.01:
                self._wait(30, 0.4, pace)
                caselog.add_note(self.engine, case_id, agent.id, self._say(article, "note"))
        return ticked

    def _say(self, article: Article, key: str) -> str:
        """Something an agent writes about this article's problem: generic, or technical for technical ones."""
        words = _TEXT[article.lang]
        extra = words.get(f"{key}_tech", ()) if article.category in _TECH else ()
        return self.rng.choice(words[key] + extra)

    def _open_article(self, case_id: int, agent: _Agent, article: Article) -> None:
        caselog.record_article_opened(self.engine, case_id, agent.id, article.id, article.lang, version=article)

    # -- a contact --------------------------------------------------------------------------------------

    def contact(self, at: datetime, driver: str | None) -> None:
        rng = self.rng
        parent = self._parent(at) if rng.random() < P_REPEAT else None
        if parent is not None:
            parent.repeated = True
            customer = parent.customer
            article_id = parent.article_id or self.catalog.draw(rng)
            related = self.catalog.related(self.catalog.version(article_id, customer.lang))
            if related and rng.random() < 0.35:
                article_id = rng.choice(related)
        else:
            article_id = driver if driver in self.catalog.by_id else self.catalog.draw(rng)
            customer = self._customer(self.catalog.version(article_id, "nl"))
        article = self.catalog.version(article_id, customer.lang)
        lang = article.lang
        words = _TEXT[lang]
        channel = rng.choices([c for c, _ in _CHANNELS], [w for _, w in _CHANNELS])[0]
        no_article = parent is None and driver is None and rng.random() < P_NO_ARTICLE
        agent, start = self._agent(channel, at, parent.agent if parent else None)
        if start >= self.end:
            return
        self.busy_until = None
        pace = rng.lognormvariate(0, 0.25)

        symptom = rng.choice(article.symptoms or [article.title])
        if no_article:
            problem = rng.choice(words["uncovered"])
        else:
            problem = _agent_wording(rng, symptom)
        prefix = rng.choice(words["repeat" if parent else "prefix" if channel == "phone" else channel])
        suffix = rng.choice(words["suffix"]) if article.category in _TECH and not no_article else ""
        if suffix and (suffix.split()[0] in problem.lower() or symptom.rstrip().endswith("?")):
            suffix = ""  # not "sinds het onweer ... sinds vanochtend", nor after a question
        problem = f"{prefix}{problem}{suffix}"

        self.clock.now = start
        case = caselog.open_case(self.engine, agent.id, channel, customer.ref, problem, customer.connection, demo=True)
        self.tally.status[case.id] = "open"
        if parent is not None:
            self.tally.repeats += 1
        done = _Done(case.id, customer, None if no_article else article.id, lang, channel, agent, "open", start, 0)
        try:
            if no_article:
                self._without_article(case.id, agent, article, problem, channel, pace, done)
            else:
                self._with_article(case.id, agent, article, channel, pace, done, parent is not None, symptom)
        except _OutOfTime:
            pass  # still open at the end of the history: the agent is working on it now
        busy = self.busy_until or self.clock.now
        agent.free_at = max(agent.free_at, busy + timedelta(seconds=rng.uniform(20, 120)))
        if done.status != "open":
            self.recent.append(done)
            self._maybe_reopen(done)

    def _without_article(
        self, case_id: int, agent: _Agent, article: Article, problem: str, channel: str, pace: float, done: _Done
    ) -> None:
        rng, words = self.rng, _TEXT[article.lang]
        self._wait(_LISTEN[channel], 0.5, pace)
        query = problem.split(": ", 1)[-1].lower()
        shown = self._top(None, None)
        self._search(case_id, agent, article.lang, _shorten(rng, query, article.lang, most=4), shown, weak=True)
        if rng.random() < 0.5:
            self._wait(50, 0.4, pace, minimum=31)
            self._search(case_id, agent, article.lang, rng.choice(words["weak"]), self._top(None, None), weak=True)
        self._wait(20, 0.5, pace)
        flag_gap(self.gaps, query, article.lang, agent.id, case_id)
        self._wait(90, 0.5, pace)
        if channel == "email":
            self._wait_for_reply()
        team = self._team(None)
        reason = words["no_article"].format(why=words["why"].get(team, words["why_other"]))
        caselog.escalate_case(self.engine, case_id, agent.id, team, reason)
        self._closed(done, "escalated")

    def _with_article(
        self,
        case_id: int,
        agent: _Agent,
        article: Article,
        channel: str,
        pace: float,
        done: _Done,
        repeat: bool,
        symptom: str,
    ) -> None:
        rng, words, lang = self.rng, _TEXT[article.lang], article.lang
        catalog = self.catalog
        self._wait(_LISTEN[channel], 0.5, pace)
        if article.category == "account" and _IDENTITY in catalog.by_id and rng.random() < 0.5:
            identity = catalog.version(_IDENTITY, lang)
            self._open_article(case_id, agent, identity)
            self._ticks(case_id, agent, identity, identity.steps[min(2, len(identity.steps) - 1)].number, pace, "phone")
            self._wait(20, 0.5, pace)
        if rng.random() < P_WEAK_FIRST:
            self._search(case_id, agent, lang, rng.choice(words["weak"]), self._top(None, None), weak=True)
            self._wait(45, 0.4, pace, minimum=31)
        query = _query(rng, article, symptom if rng.random() < 0.7 else None)
        if rng.random() < 0.1 and len(query) > 6:  # typed on: the log keeps the query the agent settled on
            caselog.record_search(self.engine, case_id, agent.id, query[: rng.randint(3, len(query) - 2)], [])
            self._wait(6, 0.4, minimum=1)
        self._search(case_id, agent, lang, query, self._top(article.id, article))
        self._wait(15, 0.5, pace)
        related = catalog.related(article)
        if related and rng.random() < 0.07:  # opened a neighbour first, then the right one
            self._open_article(case_id, agent, catalog.version(rng.choice(related), lang))
            self._wait(35, 0.5, pace)
        self._open_article(case_id, agent, article)

        numbers = [s.number for s in article.steps]
        escalate_factor = _HARD.get(article.id, _EASY_CATEGORIES.get(article.category, 1.0)) * (1.5 if repeat else 1)
        p_unresolved = 1 - P_RESOLVED - P_ESCALATED
        roll = rng.random()
        if roll < p_unresolved:
            outcome = "unresolved"
        elif roll < p_unresolved + P_ESCALATED * escalate_factor:
            outcome = "escalated"
        else:
            outcome = "resolved"
        if outcome == "resolved":
            low = numbers[max(0, len(numbers) // 4 - 1)]
            upto = round(rng.triangular(low, numbers[-1], numbers[-1] * 0.65))
            ending = "fixed"
        elif outcome == "escalated":
            point = self._point(article)
            upto = point if rng.random() < 0.55 else rng.randint(numbers[0], numbers[-1])
            ending = "stuck"
        else:
            upto = rng.randint(numbers[0], max(numbers[0], numbers[-1] - 1))
            ending = ""
        if rng.random() < 0.12:
            self._wait(25, 0.5, pace)
            caselog.add_note(self.engine, case_id, agent.id, self._say(article, "note"))
        last = self._ticks(case_id, agent, article, upto, pace, channel, ending)
        done.last_step = last
        if channel == "email" and self.busy_until is None:  # the answer came after the customer's reply
            self._wait_for_reply()
        used = [article.id]
        if outcome == "resolved":
            if related and rng.random() < 0.08:  # solved with a second article
                second = catalog.version(rng.choice(related), lang)
                self._wait(30, 0.5, pace)
                self._open_article(case_id, agent, second)
                upto = second.steps[min(rng.randint(0, 2), len(second.steps) - 1)].number
                self._ticks(case_id, agent, second, upto, pace, channel)
                used.append(second.id)
            self._wait(40, 0.5, pace)
            note = self._say(article, "resolved").format(k=last)
            versions = {i: catalog.version(i, lang) for i in used}
            caselog.resolve_case(self.engine, case_id, agent.id, used, note, current=versions)
        elif outcome == "escalated":
            team = self._team(article)
            if _HANDOFF in catalog.by_id and rng.random() < 0.25:
                handoff = catalog.version(_HANDOFF, lang)
                self._wait(20, 0.5, pace)
                self._open_article(case_id, agent, handoff)
                self._ticks(
                    case_id, agent, handoff, handoff.steps[min(1, len(handoff.steps) - 1)].number, pace, "phone"
                )
            self._wait(60, 0.5, pace)
            reason = words["escalate"].format(k=last, why=words["why"].get(team, words["why_other"]))
            caselog.escalate_case(self.engine, case_id, agent.id, team, reason)
        else:
            self._wait(30, 0.5, pace)
            caselog.close_unresolved(self.engine, case_id, agent.id, rng.choice(words["unresolved"]))
        self._closed(done, outcome)

    def _closed(self, done: _Done, status: str) -> None:
        done.status, done.closed_at = status, self.clock.now
        self.tally.status[done.case_id] = status

    # -- coming back ------------------------------------------------------------------------------------

    def _parent(self, at: datetime) -> _Done | None:
        """A recent case of a customer who now contacts the helpdesk again (unresolved ones most likely)."""
        window = at - timedelta(days=5)
        self.recent = [d for d in self.recent if d.closed_at >= window]
        candidates = [d for d in self.recent if not d.repeated and d.closed_at <= at - timedelta(hours=1)]
        if not candidates:
            return None
        weights = [{"unresolved": 6.0, "escalated": 3.0}.get(d.status, 1.0) for d in candidates]
        return self.rng.choices(candidates, weights)[0]

    def _maybe_reopen(self, done: _Done) -> None:
        if done.article_id is None or self.rng.random() >= P_REOPEN.get(done.status, 0.0):
            return
        later = done.closed_at + timedelta(seconds=self.rng.lognormvariate(math.log(20 * 3600), 0.7))
        later = _office_hours(later, self.rng)
        if later < self.end - timedelta(hours=1):
            self.jobs.push(later, "reopen", done)

    def reopen(self, at: datetime, done: _Done) -> None:
        rng, words, catalog = self.rng, _TEXT[done.lang], self.catalog
        if self.tally.status.get(done.case_id) == "open":
            return
        agent, start = self._agent(done.channel, at, done.agent)
        if start >= self.end:
            return
        self.clock.now, self.busy_until = start, None
        caselog.reopen_case(self.engine, done.case_id, agent.id, rng.choice(words["reopen"]))
        self.tally.status[done.case_id] = "open"
        article = catalog.version(done.article_id, done.lang)
        pace = rng.lognormvariate(0, 0.25)
        try:
            self._wait(_LISTEN[done.channel], 0.5, pace)
            self._open_article(done.case_id, agent, article)
            numbers = [s.number for s in article.steps]
            upto = min(numbers[-1], max(done.last_step, numbers[0]) + rng.randint(0, 3))
            resolved = rng.random() < 0.6
            last = self._ticks(done.case_id, agent, article, upto, pace, "phone", "fixed" if resolved else "stuck")
            self._wait(40, 0.5, pace)
            if resolved:
                note = self._say(article, "resolved").format(k=last)
                caselog.resolve_case(
                    self.engine, done.case_id, agent.id, [article.id], note, current={article.id: article}
                )
                self._closed(done, "resolved")
            else:
                team = self._team(article)
                reason = words["escalate"].format(k=last, why=words["why"].get(team, words["why_other"]))
                caselog.escalate_case(self.engine, done.case_id, agent.id, team, reason)
                self._closed(done, "escalated")
        except _OutOfTime:
            pass
        agent.free_at = max(agent.free_at, self.clock.now + timedelta(seconds=rng.uniform(20, 120)))


class _Jobs:
    """Contacts and reopenings in time order (the sequence number keeps ties deterministic)."""

    def __init__(self):
        self.heap: list = []
        self.seq = 0

    def push(self, at: datetime, kind: str, payload) -> None:
        heapq.heappush(self.heap, (at, self.seq, kind, payload))
        self.seq += 1

    def pop(self):
        return heapq.heappop(self.heap)

    def __bool__(self) -> bool:
        return bool(self.heap)


# -- when things happen ------------------------------------------------------------------------------------


def _office_hours(at: datetime, rng: random.Random) -> datetime:
    """`at`, or the next morning when the helpdesk is closed then."""
    zone = _local_zone()
    local = at.astimezone(zone)
    if _OPENS <= local.hour < _CLOSES - 1:
        return at
    day = local.date() if local.hour < _OPENS else local.date() + timedelta(days=1)
    morning = datetime.combine(day, time(_OPENS), zone) + timedelta(seconds=rng.uniform(0, 2.5 * 3600))
    return morning.astimezone(UTC)


def _arrivals(rng: random.Random, count: int, start: datetime, end: datetime) -> list[tuple[datetime, str | None]]:
    """`count` contact times between start and end, office hours and weekdays weighted, with two outage peaks."""
    zone = _local_zone()
    first = start.astimezone(zone).date()
    days = [first + timedelta(days=d) for d in range((end.astimezone(zone).date() - first).days + 1)]
    day_weights = [_WEEKDAYS[d.weekday()] for d in days]
    hours, hour_weights = list(_HOURS), list(_HOURS.values())
    outages = []
    if len(days) >= 14:
        for _ in range(2):
            day = rng.choice(days[: len(days) - 2])
            peak = datetime.combine(day, time(rng.choice((10, 14, 19))), zone).astimezone(UTC)
            outages.append(peak)
    found: list[tuple[datetime, str | None]] = []
    while len(found) < count:
        if outages and rng.random() < 0.025:
            at = rng.choice(outages) + timedelta(minutes=rng.triangular(-30, 150, 10))
            driver = rng.choice(_OUTAGE_DRIVERS)
        else:
            day = rng.choices(days, day_weights)[0]
            hour = rng.choices(hours, hour_weights)[0]
            at = (datetime.combine(day, time(hour), zone) + timedelta(seconds=rng.uniform(0, 3600))).astimezone(UTC)
            driver = None
        if start <= at < end - timedelta(minutes=5):
            found.append((at, driver))
    found.sort(key=lambda item: item[0])
    return found


# -- wording --------------------------------------------------------------------------------------------------


def _agent_wording(rng: random.Random, symptom: str) -> str:
    text = symptom.strip().strip('"')
    if rng.random() < 0.5:
        text = text.lower()
    if rng.random() < 0.4:
        text = text.rstrip("?!. ")
    return text


def _shorten(rng: random.Random, text: str, lang: str, most: int = 5) -> str:
    """The words that carry the meaning (the longest ones, in their order): what an agent types."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP.get(lang, set())]
    if not words:
        return text.lower()
    keep = set(sorted(range(len(words)), key=lambda i: (-len(words[i]), i))[: rng.randint(2, most)])
    return " ".join(w for i, w in enumerate(words) if i in keep)


def _typo(rng: random.Random, query: str) -> str:
    words = query.split()
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return query
    i = rng.choice(long)
    w, k = words[i], rng.randrange(1, len(words[i]) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        w = w[: k - 1] + w[k] + w[k - 1] + w[k + 1 :]
    elif kind == 1:
        w = w[:k] + w[k + 1 :]
    else:
        w = w[:k] + w[k] + w[k:]
    words[i] = w
    return " ".join(words)


def _query(rng: random.Random, article: Article, symptom: str | None = None) -> str:
    """What an agent types for this article's problem: the customer's words, shortened, now and then a typo."""
    symptom = symptom or (rng.choice(article.symptoms) if article.symptoms else article.title)
    roll = rng.random()
    if roll < 0.5:
        query = _shorten(rng, symptom, article.lang)
    elif roll < 0.75:
        query = " ".join(_WORD.findall(symptom.lower()))
    elif roll < 0.9:
        query = _shorten(rng, article.title, article.lang, most=4)
    else:
        tags = article.tags or [article.title]
        query = " ".join(rng.sample(tags, min(len(tags), rng.randint(1, 3))))
    query = query.strip() or article.title.lower()
    if rng.random() < 0.08:
        query = _typo(rng, query)
    return query


# -- generate ------------------------------------------------------------------------------------------------


def _ensure_agents(engine: Engine, free_at: datetime) -> list[_Agent]:
    """The demo agents, created (with random passwords nobody is told) when they do not exist yet."""
    names = [f"{AGENT_PREFIX}{suffix}" for suffix, *_ in _AGENTS]
    with db.session_scope(engine, readonly=True) as session:
        existing = {row.username: row for row in session.scalars(select(UserRow).where(UserRow.username.in_(names)))}
    agents = []
    for (_suffix, name, team, language), username in zip(_AGENTS, names, strict=True):
        row = existing.get(username)
        if row is None:
            user = create_user(
                engine,
                username,
                secrets.token_urlsafe(24),
                "agent",
                display_name=f"{name} (demo)",
                language=language,
                team=team,
            )
            agents.append(_Agent(user.id, team, free_at))
        else:
            agents.append(_Agent(row.id, row.team or team, free_at))
    return agents


def generate(
    engine: Engine,
    articles: list[Article],
    *,
    cases: int = 5000,
    days: int = 90,
    seed: int = 1,
    progress: Callable[[int, int], object] | None = None,
    now: datetime | None = None,
) -> DemoReport:
    """Write a demo history of `cases` cases over the `days` days before `now` (default: the current time).

    Refuses (DemoRefused) when the database holds a real case or a demo history already. `progress(done,
    total)` is called every 100 cases and at the end. The same seed and `now` give the same history.
    """
    if isinstance(cases, bool) or not isinstance(cases, int) or not 1 <= cases <= MAX_CASES:
        raise InvalidInput("cases", f"The number of demo cases must be a whole number from 1 to {MAX_CASES}.")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"The number of days must be a whole number from 1 to {MAX_DAYS}.")
    if now is not None and (not isinstance(now, datetime) or now.utcoffset() is None):
        raise InvalidInput("now", "The end of the demo history must be a timezone-aware datetime.")
    rng = random.Random(seed)
    catalog = _Catalog(articles, rng)
    if has_real_cases(engine):
        raise DemoRefused(
            "This database holds real cases, and a demo history would mix with them. Write the demo into an "
            "empty database instead (set KB_DATABASE_URL to a new one, e.g. sqlite:///instance/demo.db)."
        )
    existing = _demo_case_count(engine)
    if existing:
        raise DemoRefused(
            f"This database holds a demo history already ({existing} cases); run `kb demo --remove` first "
            "to replace it."
        )
    end = (now or db.utcnow()).astimezone(UTC)
    start = end - timedelta(days=days)
    arrivals = _arrivals(rng, cases, start, end)
    clock = _Clock(end)
    with _simulated(clock):
        clock.now = start - timedelta(days=7)  # the agents joined a week before the history starts
        agents = _ensure_agents(engine, start)
        generator = _Generator(engine, catalog, agents, rng, clock, end)
        jobs = generator.jobs
        for at, driver in arrivals:
            jobs.push(at, "contact", driver)
        done = 0
        while jobs:
            at, _seq, kind, payload = jobs.pop()
            if kind == "contact":
                generator.contact(at, payload)
                done += 1
                if done % PROGRESS_EVERY == 0 and progress is not None and done < cases:
                    progress(done, cases)
            else:
                generator.reopen(at, payload)
    if progress is not None:
        progress(done, cases)
    statuses = list(generator.tally.status.values())
    return DemoReport(
        cases=len(statuses),
        agents=len(agents),
        searches=generator.tally.searches,
        escalated=statuses.count("escalated"),
        resolved=statuses.count("resolved"),
        unresolved=statuses.count("unresolved"),
        repeats=generator.tally.repeats,
    )
