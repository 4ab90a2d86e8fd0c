"""Where a search result opens the article: the matched step only when it is the place to start.

Search ranks articles by their best-matching piece, often a step. Jumping straight to that step is
right when the customer's words name that step ("reset the router with the pin" → the reset step),
and wrong when the match is a late step that repeats the procedure's vocabulary ("wifi wachtwoord
vergeten" matching step 9, "reconnect your devices with the new wifi password", while step 1 answers
it). The rule: land on the matched step only when no earlier step shares as many of the query's
words; otherwise open at the top of the steps. The matched step is highlighted either way, and the
highlight travels as a step number in the link (`?match=9`), never the query.
"""

from __future__ import annotations

from kb.content.articles import Article
from kb.search.analysis import analyze

STEPS_ANCHOR = "section-steps"


def entry_step(article: Article, matched: int, query: str) -> int | None:
    """The step to land on (`matched`), or None for the top of the steps."""
    numbers = [s.number for s in article.steps]
    if matched not in numbers or matched == numbers[0]:
        return None
    wanted = set(analyze(query, article.lang))
    if not wanted:
        return None
    overlap = {s.number: len(wanted & set(analyze(f"{s.action} {s.expected}", article.lang))) for s in article.steps}
    best = overlap[matched]
    if best == 0 or any(overlap[n] >= best for n in numbers if n < matched):
        return None
    return matched


def landing_url(url: str, article: Article | None, matched: int | None, query: str) -> str:
    """The result's link: the article URL (no fragment) with the highlight and the landing anchor."""
    if article is None or matched is None or not article.steps:
        return url
    base = url.split("#", 1)[0]
    separator = "&" if "?" in base else "?"
    entry = entry_step(article, matched, query)
    return f"{base}{separator}match={matched}#" + (f"step-{entry}" if entry else STEPS_ANCHOR)


def land(hit: dict, query: str, published) -> dict:
    """A described hit (webapp.queries.describe_hit) with its link pointing at the right place."""
    match = hit.get("match") or {}
    if match.get("kind") != "step":
        return hit
    article = published(hit["id"], hit["lang"])
    hit["url"] = landing_url(hit["url"], article, match.get("step"), query)
    return hit


def described(result, query: str) -> list[dict]:
    """The hits of a search as the page and the API show them, each linking to its landing place."""
    from webapp import library
    from webapp.queries import describe_hit

    return [land(describe_hit(hit, query), query, library.published) for hit in result.hits]
