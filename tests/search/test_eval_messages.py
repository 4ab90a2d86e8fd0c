"""The customer-message eval sets (tests/eval/messages*.jsonl) stay valid.

They hold whole chat and e-mail messages as customers write them, labelled with
the articles a good agent would open ([] for out of scope). These checks keep
them parseable by ``kb eval``, within the agreed sizes and lengths, pointing at
articles that exist, and separate: messages_holdout.jsonl is never used for
tuning, so no message may appear in both files.
"""

import json
import re
from collections import Counter

import pytest

from kb.search.evaluation import read_eval_file
from tests.conftest import ROOT

EVAL = ROOT / "tests" / "eval"
DEV = EVAL / "messages.jsonl"
HOLDOUT = EVAL / "messages_holdout.jsonl"
KEYS = {"query", "expected", "lang", "kind", "note"}
MIN_CHARS, MAX_CHARS = 80, 1500

# (file, in-scope total, in-scope Dutch, out-of-scope total, out-of-scope Dutch)
MINIMUMS = [(DEV, 150, 90, 45, 25), (HOLDOUT, 60, 36, 20, 0)]

GREETING = re.compile(
    r"^\s*(beste|geachte|hallo|hoi|hee|goedemorgen|goedemiddag|goedenavond|goeiedag|goeiemiddag|goedendag|dag|"
    r"dear|hi|hello|good (morning|afternoon|evening))\b",
    re.IGNORECASE,
)
SIGN_OFF = re.compile(
    r"^\s*(met vriendelijke groet(en)?|vriendelijke groet(en)?|groet(en|jes)?|gr\.?|mvg|hoogachtend|merci|"
    r"kind regards|best regards|regards|thanks|many thanks|cheers)\b",
    re.IGNORECASE | re.MULTILINE,
)
QUOTED = re.compile(
    r"^>|\bschreef\b.*:|\bwrote:|-----(original message|oorspronkelijk bericht)-----",
    re.IGNORECASE | re.MULTILINE,
)


def load(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def article_ids(lang):
    return {path.stem for path in (ROOT / "articles" / lang).glob("*.md")}


def normalised(text):
    return " ".join(text.casefold().split())


@pytest.fixture(scope="module")
def sets():
    return {DEV: load(DEV), HOLDOUT: load(HOLDOUT)}


@pytest.mark.parametrize("path", [DEV, HOLDOUT], ids=lambda p: p.name)
def test_every_line_is_well_formed(sets, path):
    for number, record in enumerate(sets[path], start=1):
        where = f"{path.name}:{number}"
        assert set(record) == KEYS, where
        assert record["kind"] == "message", where
        assert record["lang"] in ("nl", "en"), where
        assert isinstance(record["note"], str) and record["note"].strip(), where
        assert MIN_CHARS <= len(record["query"]) <= MAX_CHARS, (where, len(record["query"]))
        expected = record["expected"]
        assert isinstance(expected, list) and len(expected) <= 3, where
        assert len(set(expected)) == len(expected), where
        missing = set(expected) - article_ids(record["lang"])
        assert not missing, (where, missing)
    # and kb eval reads them as they are
    assert len(read_eval_file(path)) == len(sets[path])


@pytest.mark.parametrize(("path", "scoped", "scoped_nl", "oos", "oos_nl"), MINIMUMS, ids=["dev", "holdout"])
def test_counts_meet_the_minimums(sets, path, scoped, scoped_nl, oos, oos_nl):
    counts = Counter((bool(r["expected"]), r["lang"]) for r in sets[path])
    assert counts[True, "nl"] + counts[True, "en"] >= scoped
    assert counts[True, "nl"] >= scoped_nl
    assert counts[False, "nl"] + counts[False, "en"] >= oos
    assert counts[False, "nl"] >= oos_nl


def test_totals_over_both_parts(sets):
    records = sets[DEV] + sets[HOLDOUT]
    in_scope = [r for r in records if r["expected"]]
    assert len(in_scope) >= 200
    assert sum(r["lang"] == "nl" for r in in_scope) >= 120
    assert sum(not r["expected"] for r in records) >= 60


def test_no_message_repeats_within_or_across_parts(sets):
    dev = [normalised(r["query"]) for r in sets[DEV]]
    holdout = [normalised(r["query"]) for r in sets[HOLDOUT]]
    assert len(set(dev)) == len(dev)
    assert len(set(holdout)) == len(holdout)
    assert not set(dev) & set(holdout)


def test_messages_look_like_real_mail(sets):
    records = sets[DEV] + sets[HOLDOUT]
    for lang in ("nl", "en"):
        texts = [r["query"] for r in records if r["lang"] == lang]
        greeted = [t for t in texts if GREETING.search(t) or SIGN_OFF.search(t)]
        quoted = [t for t in texts if QUOTED.search(t)]
        assert len(greeted) >= 10, lang
        assert len(quoted) >= 5, lang
        assert sum(len(t) >= 800 for t in texts) >= 3, lang
        assert sum("\n" in t for t in texts) >= 10, lang


@pytest.mark.parametrize("path", [DEV, HOLDOUT], ids=lambda p: p.name)
def test_known_weak_spots_are_covered(sets, path):
    """Dutch messages where the whole home is offline (second computer tried) or the neighbours share the fault."""
    first = Counter(r["expected"][0] for r in sets[path] if r["expected"] and r["lang"] == "nl")
    assert first["no-internet-all-devices"] >= 5
    assert first["check-area-outage"] >= 5
