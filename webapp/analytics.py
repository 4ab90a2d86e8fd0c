"""The analysts' pages: headline figures with their formulas, per article and per step, per team,
search, weekly trends as SVG charts, drill-down to the cases behind a figure, CSV and JSON exports.

Every figure is defined in docs/metrics.md and computed by kb.analytics.metrics. Filters travel in
the query string (they are not customer data); the customer reference is never shown here.
Roles: analysts and admins; editors may open the per-article page.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, g, render_template, request
from flask_babel import format_date, format_decimal, format_percent, gettext, lazy_gettext

from kb.analytics import metrics as m
from kb.analytics.export import to_csv, to_json
from kb.caselog import cases as caselog
from kb.errors import InvalidInput, KBError, NotFound
from kb.store.engine import utcnow
from kb.store.tables import CHANNELS, LANGUAGES
from webapp import library
from webapp.charts import Series, bar_chart, line_chart
from webapp.labels import CATEGORY_LABELS, CHANNEL_LABELS, EVENT_LABELS, STATUS_LABELS, TEAM_LABELS
from webapp.security import roles

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

ANALYST_ROLES = ("analyst",)
PRESETS = {"today": 1, "7": 7, "30": 30, "90": 90}
FORMULAS = {
    "cases_closed": lazy_gettext("Cases closed in the period (resolved, escalated, unresolved or known outage)."),
    "cases_opened": lazy_gettext("Cases opened in the period."),
    "fcr_rate": lazy_gettext(
        "Resolved, never reopened, and no new case for the same customer within %(days)s days / closed cases."
    ),
    "l1_resolution_rate": lazy_gettext("Resolved / closed cases."),
    "escalation_rate": lazy_gettext("Escalated / closed cases."),
    "unresolved_rate": lazy_gettext("Closed as unresolved or callback / closed cases."),
    "known_outage_rate": lazy_gettext("Closed as part of a known outage, linked to it / closed cases."),
    "link_rate": lazy_gettext("Closed cases with at least one article opened, ticked or resolving / closed cases."),
    "repeat_contact_rate": lazy_gettext(
        "Closed cases followed by a new case for the same customer within %(days)s days / closed cases."
    ),
    "median_handle_seconds": lazy_gettext("Median time the closed cases were open (summed over reopenings)."),
    "p90_handle_seconds": lazy_gettext("90th percentile of the handle time of the closed cases."),
    "searches_per_case": lazy_gettext("Searches logged on the closed cases / closed cases."),
    "weak_search_share": lazy_gettext("Searches whose best match was weak / searches on the closed cases."),
    "content_gap_searches": lazy_gettext("Searches flagged as gaps plus weak searches kept for the editors."),
}
RATES = {
    "fcr_rate",
    "l1_resolution_rate",
    "escalation_rate",
    "unresolved_rate",
    "known_outage_rate",
    "link_rate",
    "repeat_contact_rate",
    "weak_search_share",
}
DRILL = {
    "cases_closed": "closed",
    "fcr_rate": "fcr",
    "l1_resolution_rate": "resolved",
    "escalation_rate": "escalated",
    "unresolved_rate": "unresolved",
    "known_outage_rate": "known_outage",
    "link_rate": "linked",
    "repeat_contact_rate": "repeat",
}
HEADLINE_ORDER = (
    "cases_closed",
    "fcr_rate",
    "l1_resolution_rate",
    "escalation_rate",
    "unresolved_rate",
    "known_outage_rate",
    "link_rate",
    "repeat_contact_rate",
    "median_handle_seconds",
    "p90_handle_seconds",
    "cases_opened",
    "searches_per_case",
    "weak_search_share",
    "content_gap_searches",
)
# The outages' services and statuses as the analytics page names them.
OUTAGE_SERVICE_NAMES = {
    "internet": lazy_gettext("Internet"),
    "telephony": lazy_gettext("Telephony"),
    "tv": lazy_gettext("TV"),
    "email": lazy_gettext("E-mail"),
}
OUTAGE_STATUS_NAMES = {
    "investigating": lazy_gettext("Investigating"),
    "identified": lazy_gettext("Cause identified"),
    "fixed": lazy_gettext("Fixed"),
    "closed": lazy_gettext("Closed"),
}
NAMES = {
    "cases_closed": lazy_gettext("Cases closed"),
    "cases_opened": lazy_gettext("Cases opened"),
    "fcr_rate": lazy_gettext("First-contact resolution"),
    "l1_resolution_rate": lazy_gettext("Resolved at first line"),
    "escalation_rate": lazy_gettext("Escalated"),
    "unresolved_rate": lazy_gettext("Unresolved / callback"),
    "known_outage_rate": lazy_gettext("Known outage"),
    "link_rate": lazy_gettext("Link rate"),
    "repeat_contact_rate": lazy_gettext("Repeat contacts"),
    "median_handle_seconds": lazy_gettext("Median handle time"),
    "p90_handle_seconds": lazy_gettext("Handle time, 90th percentile"),
    "searches_per_case": lazy_gettext("Searches per case"),
    "weak_search_share": lazy_gettext("Weak-match searches"),
    "content_gap_searches": lazy_gettext("Content-gap searches"),
}


def _engine():
    return current_app.extensions["kb"].engine


def categories() -> dict[str, str]:
    """Article id -> category, from what is published (for the category filter and figures)."""
    try:
        return {a.id: a.category for a in library.published_for_lint()}
    except KBError:
        return {}


def filters_from(args) -> tuple[m.Filters, dict, str | None]:
    """The filters in the query string (a preset or since/until), their values for the form, an error."""
    today = utcnow().date()
    values = {
        name: args.get(name, "")
        for name in ("period", "since", "until", "category", "channel", "team", "lang", "agent_team")
    }
    values["period"] = values["period"] or "30"
    error = None
    since, until = today - timedelta(days=29), today
    if values["period"] in PRESETS:
        since = today - timedelta(days=PRESETS[values["period"]] - 1)
    elif values["period"] == "custom":
        try:
            since, until = date.fromisoformat(values["since"]), date.fromisoformat(values["until"])
        except ValueError:
            error = gettext("Give the custom period as two dates (YYYY-MM-DD); showing the last 30 days.")
            values["period"] = "30"
    else:
        values["period"] = "30"
    chosen = {
        "category": values["category"] or None,
        "channel": values["channel"] if values["channel"] in CHANNELS else None,
        "team": values["team"] or None,
        "lang": values["lang"] if values["lang"] in LANGUAGES else None,
        "agent_team": values["agent_team"] or None,
    }
    try:
        f = m.Filters(since, until, **chosen)
    except InvalidInput as exc:
        error = exc.message
        f = m.Filters(today - timedelta(days=29), today, **chosen)
        values["period"] = "30"
    values["since"], values["until"] = f.since.isoformat(), f.until.isoformat()
    return f, values, error


def query_string(values: dict, **changes) -> str:
    from urllib.parse import urlencode

    merged = {k: v for k, v in {**values, **changes}.items() if v not in (None, "")}
    return urlencode(merged)


def shown(key: str, value) -> str:
    """A figure in the user's language: rates as percentages, handle times as m:ss, the rest as numbers."""
    from webapp.workspace import format_duration

    if value is None:
        return "–"
    if key in RATES:
        return format_percent(value, "#,##0.0%")
    if key.endswith("_seconds"):
        return format_duration(value)
    if isinstance(value, float):
        return format_decimal(value, "#,##0.00")
    return format_decimal(value)


def _agent_teams() -> list[str]:
    from sqlalchemy import select

    from kb.store import engine as db
    from kb.store.tables import UserRow

    with db.session_scope(_engine(), readonly=True) as session:
        return sorted(t for t in session.scalars(select(UserRow.team).distinct()) if t)


def _form_context(values) -> dict:
    """What every analytics page's template gets: the filter form's choices and values, the query
    string to keep the filters in links, and the figure formatter."""
    cats = sorted(set(categories().values()))
    return {
        "values": values,
        "qs": query_string(values),
        "query_string": query_string,
        "shown": shown,
        "category_choices": [(c, CATEGORY_LABELS.get(c, c)) for c in cats],
        "channel_choices": list(CHANNEL_LABELS.items()),
        "team_choices": [(t, TEAM_LABELS.get(t, t)) for t in caselog.escalation_teams()],
        "lang_choices": [(lang, lang.upper()) for lang in LANGUAGES],
        "agent_team_choices": [(t, t) for t in _agent_teams()],
    }


@bp.get("/")
@roles(*ANALYST_ROLES)
def dashboard():
    f, values, error = filters_from(request.args)
    report = m.report(_engine(), f, categories(), articles=False)
    head, before = report.headline.as_dict(), report.previous.as_dict()
    figures = []
    for key in HEADLINE_ORDER:
        value, old = head[key], before[key]
        change = None if value is None or old is None else value - old
        formula = str(FORMULAS[key])
        formula = formula % {"days": m.repeat_days()} if "%(days)s" in formula else formula
        delta = ""
        if change:
            delta = ("+" if change > 0 else "") + (
                format_percent(change, "#,##0.0%") if key in RATES else shown(key, change)
            )
        figures.append(
            {
                "key": key,
                "name": NAMES[key],
                "value": shown(key, value),
                "previous": shown(key, old),
                "change": change,
                "change_shown": delta,
                "formula": formula,
                "drill": DRILL.get(key),
            }
        )
    weeks = report.weeks
    labels = [format_date(w.start, "d MMM") for w in weeks]

    def axis(value: float, percent: bool) -> str:
        return format_percent(value, "#,##0%") if percent else format_decimal(round(value))

    trend = line_chart(
        "trend-rates",
        gettext("Weekly rates"),
        gettext(
            "First-contact resolution, escalation and link rate per week of the period; the numbers are in the table."
        ),
        labels,
        [
            Series(str(NAMES["fcr_rate"]), [w.fcr_rate for w in weeks], "series-1"),
            Series(str(NAMES["escalation_rate"]), [w.escalation_rate for w in weeks], "series-2"),
            Series(str(NAMES["link_rate"]), [w.link_rate for w in weeks], "series-3"),
        ],
        number=axis,
    )
    volume = line_chart(
        "trend-cases",
        gettext("Cases closed per week"),
        gettext("The number of cases closed in each week of the period; the table below has the numbers."),
        labels,
        [Series(str(NAMES["cases_closed"]), [float(w.closed) for w in weeks], "series-1")],
        percent=False,
        number=axis,
    )
    teams_chart = bar_chart(
        "escalation-teams",
        gettext("Escalations per team"),
        gettext("How many cases of the period were escalated to each team."),
        [(str(TEAM_LABELS.get(t, t)), float(n), format_decimal(n)) for t, n, _ in report.escalation_teams],
    )
    return render_template(
        "analytics/dashboard.html",
        report=report,
        figures=figures,
        trend=trend,
        volume=volume,
        teams_chart=teams_chart,
        outage_services=OUTAGE_SERVICE_NAMES,
        outage_statuses=OUTAGE_STATUS_NAMES,
        error=error,
        team_labels=TEAM_LABELS,
        category_labels=CATEGORY_LABELS,
        titles=_titles(),
        **_form_context(values),
    ), 400 if error else 200


def _titles() -> dict[str, str]:
    try:
        return {a.id: a.title for a in library.catalogue(g.locale)}
    except KBError:
        return {}


@bp.get("/articles")
@roles(*ANALYST_ROLES, "editor")
def articles():
    """Per article and per step; editors see this part too."""
    f, values, error = filters_from(request.args)
    cats = categories()
    rows = m.per_article(_engine(), f, cats)
    sort = request.args.get("sort", "used")
    keys = {
        "used": lambda a: (-a.used, a.article_id),
        "resolution": lambda a: (-(a.resolution.interval or (0, 0))[0], a.article_id),
        "escalation": lambda a: (-(a.escalation.interval or (0, 0))[0], a.article_id),
        "repeat": lambda a: (-(a.repeat.interval or (0, 0))[0], a.article_id),
        "flags": lambda a: (-a.flags, a.article_id),
    }
    rows = sorted(rows, key=keys.get(sort, keys["used"]))
    return render_template(
        "analytics/articles.html",
        rows=rows,
        steps=m.per_step(_engine(), f, cats),
        sort=sort if sort in keys else "used",
        error=error,
        titles=_titles(),
        low_volume=m.LOW_VOLUME,
        **_form_context(values),
    ), 400 if error else 200


@bp.get("/cases")
@roles(*ANALYST_ROLES, "editor")
def cases():
    """The cases behind a figure (drill-down); each links to its read-only timeline."""
    f, values, error = filters_from(request.args)
    metric = request.args.get("metric", "closed")
    article = request.args.get("article") or None
    if article is not None and not library.ARTICLE_ID.match(article):
        abort(404)
    try:
        found = m.drill_down(_engine(), f, metric, categories(), article=article, limit=500)
    except InvalidInput:
        abort(404)
    total = m.count_cases(_engine(), f, metric, categories(), article=article)
    return render_template(
        "analytics/cases.html",
        cases=found,
        total=total,
        metric=metric,
        article=article,
        error=error,
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
        team_labels=TEAM_LABELS,
        **_form_context(values),
    )


@bp.get("/cases/<int:case_id>")
@roles(*ANALYST_ROLES, "editor")
def case(case_id: int):
    """A case's timeline, read-only, without the customer reference."""
    if not 1 <= case_id <= 2**31 - 1:
        abort(404)
    try:
        found = caselog.get_case(_engine(), case_id)
    except NotFound:
        abort(404)
    return render_template(
        "analytics/case.html",
        case=found,
        events=caselog.timeline(_engine(), case_id),
        event_labels=EVENT_LABELS,
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
        team_labels=TEAM_LABELS,
        titles=_titles(),
        shown=shown,
    )


TABLES = (
    "headline",
    "articles",
    "steps",
    "agent_teams",
    "escalation_teams",
    "categories",
    "weeks",
    "gap_queries",
    "outages",
)
OUTAGE_COLUMNS = (
    "id",
    "planned",
    "status",
    "services",
    "areas",
    "nodes",
    "starts_at",
    "registered_at",
    "fixed_at",
    "linked_cases",
    "median_handle_seconds_linked",
    "area_calls",
    "unlinked_closed",
    "median_handle_seconds_unlinked",
    "calls_before_registration",
    "first_call_before_registration",
    "minutes_late",
    "callbacks_asked",
    "callbacks_restored",
    "callbacks_still_broken",
    "callbacks_due",
    "callbacks_waiting",
)


def table(name: str, f: m.Filters) -> tuple[list[str], list[list]]:
    """A section of the report as (header, rows), with the keys of docs/metrics.md."""
    cats = categories()
    engine = _engine()
    if name == "headline":
        head = m.headline(engine, f, cats).as_dict()
        head["outage_linked_cases"] = m.outage_linked_cases(engine, f, cats)
        return ["figure", "value"], [[k, v] for k, v in head.items()]
    if name == "outages":
        rows = []
        for o in m.outages(engine, f):
            found = o.as_dict()
            for key in ("services", "areas", "nodes"):
                found[key] = " ".join(found[key])
            rows.append([found[key] for key in OUTAGE_COLUMNS])
        return list(OUTAGE_COLUMNS), rows
    if name == "articles":
        header = [
            "article_id",
            "used",
            "opened",
            "resolved_with",
            "resolution_rate",
            "resolution_rate_low",
            "resolution_rate_high",
            "escalated",
            "escalation_rate",
            "unresolved",
            "repeat_contact_rate",
            "median_handle_seconds",
            "flags",
            "low_volume",
        ]
        rows = []
        for a in m.per_article(engine, f, cats):
            low, high = a.resolution.interval or (None, None)
            rows.append(
                [
                    a.article_id,
                    a.used,
                    a.opened,
                    a.resolved_with,
                    a.resolution.value,
                    low,
                    high,
                    a.escalated,
                    a.escalation.value,
                    a.unresolved,
                    a.repeat.value,
                    a.median_handle_seconds,
                    a.flags,
                    a.resolution.low_volume,
                ]
            )
        return header, rows
    if name == "steps":
        rows = [
            [s.article_id, s.step, s.resolved, s.escalated, s.unresolved, s.highlight]
            for steps in m.per_step(engine, f, cats).values()
            for s in steps
        ]
        return [
            "article_id",
            "step",
            "last_before_resolved",
            "last_before_escalated",
            "last_before_unresolved",
            "most_escalations",
        ], rows
    if name in ("agent_teams", "categories"):
        groups = m.per_agent_team(engine, f, cats) if name == "agent_teams" else m.per_category(engine, f, cats)
        return ["name", "closed", "l1_resolution_rate", "escalation_rate", "fcr_rate", "median_handle_seconds"], [
            [g.name, g.closed, g.resolved.value, g.escalated.value, g.fcr.value, g.median_handle_seconds]
            for g in groups
        ]
    if name == "escalation_teams":
        return ["team", "escalated", "share_of_closed"], [list(t) for t in m.per_escalation_team(engine, f, cats)]
    if name == "weeks":
        return ["week_start", "cases_closed", "fcr_rate", "escalation_rate", "link_rate"], [
            [w.start, w.closed, w.fcr_rate, w.escalation_rate, w.link_rate] for w in m.weekly(engine, f, cats)
        ]
    return ["query", "searches"], [list(q) for q in m.top_gap_queries(engine, f, limit=100)]


@bp.get("/export/<name>.<fmt>")
@roles(*ANALYST_ROLES, "editor")
def export(name: str, fmt: str):
    if name not in TABLES or fmt not in ("csv", "json"):
        abort(404)
    if g.user.role == "editor" and name not in ("articles", "steps"):
        abort(403)
    f, _, _ = filters_from(request.args)
    header, rows = table(name, f)
    filename = f"firstline-{name}-{f.since.isoformat()}-{f.until.isoformat()}.{fmt}"
    if fmt == "csv":
        body, mimetype = to_csv(header, rows), "text/csv; charset=utf-8"
    else:
        body, mimetype = to_json(header, rows), "application/json"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
