"""What the interface calls the KB's codes (categories, teams, channels, statuses), in the user's language."""

from __future__ import annotations

from flask_babel import lazy_gettext

CATEGORY_LABELS = {
    "connectivity": lazy_gettext("Connectivity"),
    "wifi": lazy_gettext("Wi-Fi"),
    "router": lazy_gettext("Router"),
    "account": lazy_gettext("Account"),
    "email": lazy_gettext("E-mail"),
    "telephony": lazy_gettext("Telephony"),
    "service": lazy_gettext("Service"),
    "tv": lazy_gettext("TV"),
}
CONNECTION_LABELS = {"fibre": lazy_gettext("Fibre"), "dsl": lazy_gettext("DSL"), "cable": lazy_gettext("Cable")}
TEAM_LABELS = {
    "tier2": lazy_gettext("Tier 2 (second line)"),
    "network-operations": lazy_gettext("Network operations"),
    "field-service": lazy_gettext("Field service"),
    "billing": lazy_gettext("Billing"),
    "security": lazy_gettext("Security"),
    "tv": lazy_gettext("TV"),
    "mobile": lazy_gettext("Mobile"),
    "sales": lazy_gettext("Sales and contracts"),
    "team-lead": lazy_gettext("Team lead"),
    "none": lazy_gettext("No escalation needed"),
}
CHANNEL_LABELS = {"phone": lazy_gettext("Phone"), "chat": lazy_gettext("Chat"), "email": lazy_gettext("E-mail")}
CONNECTION_TYPE_LABELS = {
    "fibre": lazy_gettext("Fibre"),
    "dsl": lazy_gettext("DSL"),
    "cable": lazy_gettext("Cable"),
    "unknown": lazy_gettext("Not known yet"),
}
STATUS_LABELS = {
    "open": lazy_gettext("Open"),
    "resolved": lazy_gettext("Resolved"),
    "escalated": lazy_gettext("Escalated"),
    "unresolved": lazy_gettext("Unresolved / callback"),
    "known_outage": lazy_gettext("Known outage"),
}
CALLBACK_LABELS = {
    "due": lazy_gettext("to be called back"),
    "restored": lazy_gettext("called back, service restored"),
    "still_broken": lazy_gettext("called back, still broken"),
}
OUTAGE_STATUS_LABELS = {
    "investigating": lazy_gettext("Investigating"),
    "identified": lazy_gettext("Cause identified"),
    "fixed": lazy_gettext("Fixed"),
    "closed": lazy_gettext("Closed"),
}
SERVICE_LABELS = {
    "internet": lazy_gettext("Internet"),
    "telephony": lazy_gettext("Telephony"),
    "tv": lazy_gettext("TV"),
    "email": lazy_gettext("E-mail"),
}


DOC_STATUS_LABELS = {
    "draft": lazy_gettext("Draft"),
    "in_review": lazy_gettext("In review"),
    "published": lazy_gettext("Published"),
    "archived": lazy_gettext("Archived"),
}
FLAG_REASON_LABELS = {
    "wrong": lazy_gettext("Wrong"),
    "outdated": lazy_gettext("Outdated"),
    "unclear": lazy_gettext("Unclear"),
    "missing_step": lazy_gettext("A step is missing"),
    "other": lazy_gettext("Other"),
}
FLAG_STATUS_LABELS = {
    "open": lazy_gettext("Open"),
    "fixed": lazy_gettext("Fixed"),
    "declined": lazy_gettext("Declined"),
}

EVENT_LABELS = {
    "opened": lazy_gettext("Case opened"),
    "search": lazy_gettext("Searched"),
    "article_opened": lazy_gettext("Opened article"),
    "step_ticked": lazy_gettext("Step done"),
    "step_unticked": lazy_gettext("Step unticked"),
    "note": lazy_gettext("Note"),
    "resolved": lazy_gettext("Resolved"),
    "escalated": lazy_gettext("Escalated"),
    "unresolved": lazy_gettext("Closed as unresolved / callback"),
    "reopened": lazy_gettext("Reopened"),
    "connection_set": lazy_gettext("Connection type set"),
    "reassigned": lazy_gettext("Reassigned"),
    "known_outage": lazy_gettext("Closed as part of a known outage"),
    "called_back": lazy_gettext("Called back after the outage"),
}
