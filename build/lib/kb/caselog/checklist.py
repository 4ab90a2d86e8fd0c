"""The checklist rules: which steps of an article version are ticked on a case, and with what result.

The article page's checklist (one tick at a time, from its script) and its no-JavaScript form
(the full set of ticked boxes and result fields) both end up here. Everything is checked before
anything is written: bad input raises InvalidInput and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine

from kb.caselog import cases as caselog
from kb.content.articles import Article
from kb.errors import InvalidInput
from kb.store.tables import check_text


def set_steps(
    engine: Engine,
    case_id: int,
    actor_id: int,
    version: Article,
    wanted: set[int] | None = None,
    step: object = None,
    done: object = None,
    results: Mapping[int, object] | None = None,
    result: object = None,
) -> dict[int, str | None]:
    """Tick or untick steps of one article version on the case; {step: result} of the ticked steps after it.

    Either `wanted` (the full set that should be ticked, from the form) with `results` per step, or
    one `step` with `done` and an optional `result` (from the checklist script). Each tick records
    `version`, the text the agent was looking at.
    """
    article_id, lang = version.id, version.lang
    numbers = {s.number for s in version.steps}
    now = caselog.step_results(engine, case_id).get((article_id, lang), {})
    if wanted is None:
        if isinstance(step, bool) or not isinstance(step, int) or not isinstance(done, bool):
            raise InvalidInput("step_number", "step must be a number and done true or false")
        wanted = (set(now) | {step}) if done else (set(now) - {step})
        results = {step: result} if done and result is not None else {}
    checked = {
        n: check_text("result", text, label="step result", required=False, limit="note")
        for n, text in (results or {}).items()
    }
    # Writing what a step showed means it was done: a result typed for an unticked step ticks it
    # (an old result left in the field of a step the agent just unticked does not).
    wanted = wanted | {n for n, text in checked.items() if text and n not in now}
    if not (wanted - set(now)) <= numbers:  # unticking a step the article has since lost is allowed
        raise InvalidInput("step_number", "no such step")
    for number in sorted(wanted):
        text = checked.get(number)  # None: not sent, keep; "": cleared
        if number not in now:
            caselog.tick_step(engine, case_id, actor_id, article_id, lang, number, text or None, version=version)
        elif text is not None and (text or None) != now[number]:
            caselog.tick_step(engine, case_id, actor_id, article_id, lang, number, text, version=version)
    for number in sorted(set(now) - wanted):
        caselog.untick_step(engine, case_id, actor_id, article_id, lang, number)
    return caselog.step_results(engine, case_id).get((article_id, lang), {})
