"""`kb eval`: hit@k and MRR@10 of the search on a labelled JSON Lines file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kb.errors import EvalFileError, QueryError
from kb.search.searcher import Searcher


@dataclass(frozen=True)
class EvalQuery:
    query: str
    expected: tuple[str, ...]
    lang: str | None
    line: int


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
            "\n".join(errors + ['each line must look like {"query": "...", "expected": ["article-id"], "lang": "nl"}'])
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
    if not isinstance(expected, list) or not expected or not all(isinstance(e, str) for e in expected):
        return "'expected' must be a non-empty list of article ids"
    if record.get("lang") not in (None, "nl", "en"):
        return f"'lang' must be nl or en (found {record.get('lang')!r})"
    return None


def _metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)

    def hit(k):
        return round(sum(r is not None and r <= k for r in ranks) / n, 4) if n else 0.0

    mrr = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n if n else 0.0
    return {"hit@1": hit(1), "hit@3": hit(3), "hit@5": hit(5), "mrr@10": round(mrr, 4), "count": n}


@dataclass(frozen=True)
class EvalReport:
    """`metrics` has exactly hit@1, hit@3, hit@5, mrr@10, count and by_lang; misses are rank > 3."""

    metrics: dict
    misses: list
    mode: str


def evaluate(searcher: Searcher, queries: list[EvalQuery], mode: str = "hybrid") -> EvalReport:
    """Run every query; a hit at k is any expected id among the first k distinct articles."""
    ranks: list[int | None] = []
    by_lang: dict[str, list[int | None]] = {}
    misses = []
    for q in queries:
        try:
            result = searcher.search(q.query, k=10, lang=q.lang, mode=mode)
            ids = [h.article_id for h in result.hits]
        except QueryError:
            ids = []
        rank = next((i for i, article_id in enumerate(ids, start=1) if article_id in q.expected), None)
        ranks.append(rank)
        by_lang.setdefault(q.lang or "unknown", []).append(rank)
        if rank is None or rank > 3:
            misses.append(
                {"line": q.line, "query": q.query, "expected": list(q.expected), "got": ids[:3], "rank": rank}
            )
    metrics = _metrics(ranks)
    metrics["by_lang"] = {lang: _metrics(r) for lang, r in sorted(by_lang.items())}
    return EvalReport(metrics, misses, mode)
