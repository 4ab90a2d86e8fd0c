"""House style that can be checked mechanically (docs/content-style.md has the whole of it).

Three rules: one spelling per term (a list of discouraged forms and the preferred one), expected
results that name something the agent can observe and record (not that someone "understands"),
and references to other articles in the text ("see router-restart") that name an existing id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.content.articles import Article

# Discouraged form (a regex, matched case-insensitively on whole words) -> preferred form.
PREFERRED_TERMS = {
    "nl": {
        r"wifi[- ]wachtwoord(en)?": "wifiwachtwoord",
        r"wachtwoord van de wifi": "wifiwachtwoord",
        r"beheerders?[- ]wachtwoord(en)?|admin[- ]?wachtwoord(en)?": "beheerderswachtwoord",
        r"mesh[- ]systee?m(en)?": "meshsysteem",
        r"mesh[- ]punt(en)?": "meshpunt(en)",
        r"bridge[- ]modus|brugmodus": "bridgemodus",
        r"tikfout(en)?|typfout(en)?": "typefout",
        r"gsm('s)?": "mobiele telefoon (or mobiel)",
    },
    # English has no list yet: "Wi-Fi" is how Windows, iOS and Android label their menus.
    "en": {},
}

# Words that make an expected result a state of mind instead of something to observe and record.
UNOBSERVABLE = {
    "en": r"understands?|understood|knows?|is aware|are aware|is clear|feels?|reassured",
    "nl": r"begrijpt|begrijpen|begrepen|weet|weten|is op de hoogte|is duidelijk|voelt zich|gerustgesteld",
}

# How the text refers to another article: "see router-restart", "ga naar modem-status-lights".
REFERENCE = {
    "en": r"(?:see|go to|continue with|continue at)",
    "nl": r"(?:zie|ga naar|ga verder met|verder met|ga verder bij)",
}
_ID_TOKEN = r"([a-z0-9]+(?:-[a-z0-9]+)+)"
_TERMS = {
    lang: [(re.compile(rf"(?<![\w-])(?:{p})(?![\w-])", re.I), good) for p, good in terms.items()]
    for lang, terms in PREFERRED_TERMS.items()
}
_UNOBSERVABLE = {lang: re.compile(rf"\b(?:{p})\b", re.I) for lang, p in UNOBSERVABLE.items()}
_REFERENCES = {lang: re.compile(rf"\b{p}\s+`?{_ID_TOKEN}\b", re.I) for lang, p in REFERENCE.items()}


@dataclass(frozen=True)
class StyleFinding:
    line: int
    message: str
    hint: str


def _body_lines(article: Article):
    for offset, line in enumerate(article.body.splitlines()):
        yield article.body_line + offset, line


def term_findings(article: Article) -> list[StyleFinding]:
    """Discouraged spellings in the title and body."""
    out = []
    terms = _TERMS.get(article.lang, [])
    for number, line in [(1, article.title), *_body_lines(article)]:
        for pattern, good in terms:
            for match in pattern.finditer(line):
                if match.group(0) != good:
                    out.append(
                        StyleFinding(
                            number,
                            f"write '{good}', not '{match.group(0)}'",
                            "one spelling per term: see docs/content-style.md",
                        )
                    )
    return out


def unobservable_findings(article: Article) -> list[StyleFinding]:
    """Expected results that name no observable fact."""
    pattern = _UNOBSERVABLE.get(article.lang)
    out = []
    for step in article.steps if pattern else ():
        match = pattern.search(step.expected)
        if match:
            out.append(
                StyleFinding(
                    step.line,
                    f"step {step.number}: the expected result says "
                    f"'{match.group(0)}', which the agent cannot observe or record",
                    "name the fact instead: what the customer reads out, a light, a value, yes/no",
                )
            )
    return out


def referenced_ids(article: Article) -> list[tuple[int, str]]:
    """(line, id) of every article the body refers to with 'see <id>' and the like."""
    pattern = _REFERENCES.get(article.lang)
    if pattern is None:
        return []
    return [(number, m.group(1)) for number, line in _body_lines(article) for m in pattern.finditer(line)]
