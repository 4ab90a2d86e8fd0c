"""`kb eval`: hit@k and MRR@10 of the search on a labelled JSON Lines file, and its weak-match rates.

A line whose `expected` is an empty list is a query the knowledge base does not answer (out of
scope): the search should flag it weak. On the other lines a weak flag is a false alarm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import EvalFileError, QueryError
from kb.search.searcher import Searcher


@dataclass(frozen=True)
class EvalQuery:
    query: str
    expected: tuple[str, ...]  # empty: out of scope
    lang: str | None
    line: int

    @property
    def out_of_scope(self) -> bool:
        return not self.expected


def read_eval_file(path: Path) -> list[EvalQuery]:
    """Parse the file; raises EvalFileError listing every bad line by number."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read the file ({exc})") from exc
    queries, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            errors.append(f"{path}:{number}: not valid JSON ({exc.msg})")
            continue
        problem = _check(record)
        if problem:
            errors.append(f"{path}:{number}: {problem}")
            continue
        queries.append(EvalQuery(record["query"], tuple(record["expected"]), record.get("lang"), number))
    if errors:
        raise EvalFileError(
            "\n".join(
                errors
                + [
                    'each line must look like {"query": "...", "expected": ["article-id"], "lang": "nl"} '
                    '(or "expected": [] for a query the knowledge base does not answer)'
                ]
            )
        )
    if not queries:
        raise EvalFileError(f"{path}: no queries in the file")
    return queries


def _check(record) -> str | None:
    if not isinstance(record, dict):
        return "each line must be a JSON object"
    if not isinstance(record.get("query"), str) or not record["query"].strip():
        return "'query' must be a non-empty string"
    expected = record.get("expected")
    if not isinstance(expected, list) or not all(isinstance(e, str) and e for e in expected):
        return "'expected' must be a non-empty list of article ids, or [] for a query the KB does not answer"
    if record.get("lang") not in (None, "nl", "en"):
        return f"'lang' must be nl or en (found {record.get('lang')!r})"
    return None


def _metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)

    def hit(k):
        return round(sum(r is not None and r <= k for r in ranks) / n, 4) if n else 0.0

    mrr = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n if n else 0.0
    return {"hit@1": hit(1), "hit@3": hit(3), "hit@5": hit(5), "mrr@10": round(mrr, 4), "count": n}


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


@dataclass
class _Tally:
    ranks: list = field(default_factory=list)
    weak: list = field(default_factory=list)  # answerable queries: flagged weak?
    out_of_scope_weak: list = field(default_factory=list)

    def metrics(self) -> dict:
        m = _metrics(self.ranks)
        m["weak_rate"] = _share(self.weak)
        if self.out_of_scope_weak:
            m["true_weak_rate"] = _share(self.out_of_scope_weak)
            m["out_of_scope_count"] = len(self.out_of_scope_weak)
        return m


@dataclass(frozen=True)
class EvalReport:
    """`metrics`: hit@1, hit@3, hit@5, mrr@10 and count over the answerable queries, weak_rate (the
    share of answerable queries flagged weak: false alarms; None without any), and with out-of-scope
    queries true_weak_rate (the share of them flagged weak) and out_of_scope_count; by_lang has the
    same per language. `misses`: answerable queries ranked below 3; `weak_errors`: answerable
    queries flagged weak and out-of-scope queries not flagged."""

    metrics: dict
    misses: list
    mode: str
    weak_errors: list = field(default_factory=list)


def evaluate(searcher: Searcher, queries: list[EvalQuery], mode: str = "hybrid") -> EvalReport:
    """Run every query; a hit at k is any expected id among the first k distinct articles."""
    total = _Tally()
    by_lang: dict[str, _Tally] = {}
    misses, weak_errors = [], []
    for q in queries:
        try:
            result = searcher.search(q.query, k=10, lang=q.lang, mode=mode)
            ids, weak, confidence = [h.article_id for h in result.hits], result.weak, result.confidence
        except QueryError:
            ids, weak, confidence = [], True, 0.0
        tallies = (total, by_lang.setdefault(q.lang or "unknown", _Tally()))
        if q.out_of_scope:
            for t in tallies:
                t.out_of_scope_weak.append(weak)
            if not weak:
                weak_errors.append({"line": q.line, "query": q.query, "kind": "not flagged", "confidence": confidence})
            continue
        rank = next((i for i, article_id in enumerate(ids, start=1) if article_id in q.expected), None)
        for t in tallies:
            t.ranks.append(rank)
            t.weak.append(weak)
        if weak:
            weak_errors.append({"line": q.line, "query": q.query, "kind": "false weak", "confidence": confidence})
        if rank is None or rank > 3:
            misses.append(
                {"line": q.line, "query": q.query, "expected": list(q.expected), "got": ids[:3], "rank": rank}
            )
    metrics = total.metrics()
    metrics["by_lang"] = {lang: t.metrics() for lang, t in sorted(by_lang.items())}
    return EvalReport(metrics, misses, mode, weak_errors)
