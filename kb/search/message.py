"""A pasted customer message as search input: what the customer says about the problem, not the
e-mail around it.

Agents paste chat and e-mail messages into the search box. Quoted history ("Op 3 nov. 2026 schreef
Klantenservice ...", "-----Original Message-----", "> ..."), greetings, sign-offs, signatures and
"Sent from my iPhone" say nothing about the fault but steer the ranking towards whatever words
they repeat. `message_text` cuts them off; `sentences` splits what is left so the searcher can
weigh each sentence on its own (kb.search.searcher). Works on a single line too (the search box
collapses line breaks): there the quoted history is everything from where it starts. With its line
breaks (the API, `kb search`, `kb eval`) a message that answers below or between the quoted lines
is read as well: quoted "> " lines, the "On ... wrote:" line and a forwarded header block with the
provider's paragraph after it are dropped, and the customer's own lines around them are kept.
"""

from __future__ import annotations

import re

# Where quoted history starts: everything from here on is an earlier message.
_QUOTE_STARTS = [
    r"-{2,}\s*(?:original message|oorspronkelijk bericht|origineel bericht|forwarded message|doorgestuurd bericht)"
    r"\s*-{2,}",
    r"\bop\s+(?:ma|di|wo|do|vr|za|zo|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag)?\.?\s*\d{1,2}\s+\w+\.?\s+\d{4}"
    r"[^.]{0,80}?\bschreef\b",
    r"\bop\s+\d{1,2}[-/]\d{1,2}[-/]\d{2,4}[^.]{0,80}?\bschreef\b",
    r"\bon\s+(?:mon|tue|wed|thu|fri|sat|sun)?\w*,?\s*\d{1,2}\s+\w+\.?\s+\d{4}[^.]{0,80}?\bwrote:",
    r"\bon\s+\w+,?\s+\w+\s+\d{1,2},?\s+\d{4}[^.]{0,80}?\bwrote:",
    r"\bvan:\s.{0,120}?\b(?:verzonden|datum):",
    r"\bfrom:\s.{0,120}?\b(?:sent|date):",
    r"(?:^|\s)>\s",  # a quoted line ("> ...") once line breaks are gone
]
# Sign-offs: the rest is a name, a signature, a disclaimer.
_SIGN_OFFS = [
    r"met vriendelijke groet(?:en)?",
    r"vriendelijke groet(?:en)?",
    r"hartelijke groet(?:en)?",
    r"\bm\.?\s?v\.?\s?g\.?(?=\s|,|$)",
    r"\bgroet(?:en|jes)?\s*,",
    r"\bgroetjes\b",
    r"alvast bedankt(?: voor (?:uw|je|jullie) (?:hulp|reactie|moeite))?[.,!]?\s*(?:groet|mvg|met)",
    r"kind regards",
    r"best regards",
    r"\bregards\s*,",
    r"\bbest wishes\b",
    r"\bcheers\s*,",
    r"\bthanks in advance[.,!]?\s*(?=[A-Z]|$)",
    r"\bthanks\s*,",
    r"\byours (?:sincerely|faithfully)\b",
    r"verzonden (?:vanaf|met) mijn",
    r"sent from my",
    r"(?:^|\s)--\s+\S",
]
# Greetings at the start: "Hallo,", "Beste klantenservice,", "Goedemiddag meneer/mevrouw,".
_GREETING = re.compile(
    r"^\s*(?:(?:hallo|hoi|hey|hi|hello|dag|goedemorgen|goedemiddag|goedenavond|goeiedag|geachte|beste|dear|good\s+"
    r"(?:morning|afternoon|evening))\b[^,.!?:]{0,40}[,.!:]\s*)+",
    re.I,
)
_QUOTE = re.compile("|".join(f"(?:{p})" for p in _QUOTE_STARTS), re.I)
_SIGN_OFF = re.compile("|".join(f"(?:{p})" for p in _SIGN_OFFS), re.I)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\s+(?=(?:maar|but|echter|however)\b)", re.I)

MIN_KEEP = 20  # a cut that would leave less than this keeps the text as it was

# Line by line: a quoted line, the line that introduces a quote, a separator, a mail header line.
_QUOTED_LINE = re.compile(r"^\s*>")
_INTRO_LINE = re.compile(r"^\s*(?:on\b.{0,160}\bwrote:|op\b.{0,160}\bschreef\b.{0,80}:?)\s*$", re.I)
_SEPARATOR_LINE = re.compile(
    r"^\s*-{2,}\s*(?:original message|oorspronkelijk bericht|origineel bericht|forwarded message|doorgestuurd bericht)"
    r"\s*-{2,}\s*$",
    re.I,
)
_HEADER_LINE = re.compile(r"^\s*(?:from|sent|to|cc|date|subject|van|verzonden|aan|datum|onderwerp)\s*:", re.I)


def _unquoted(text: str) -> str:
    """The lines the customer wrote, for a message that still has its line breaks: quoted lines,
    quote intros and a header block (with the paragraph after it, the provider's message) dropped.
    Top-posted replies are unaffected (the history is cut off later)."""
    lines = text.splitlines()
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _QUOTED_LINE.match(line) or _INTRO_LINE.match(line):
            i += 1
            continue
        if _SEPARATOR_LINE.match(line) or (
            _HEADER_LINE.match(line) and i + 1 < len(lines) and _HEADER_LINE.match(lines[i + 1])
        ):
            i += 1
            while i < len(lines) and (_HEADER_LINE.match(lines[i]) or not lines[i].strip()):
                i += 1
            while i < len(lines) and lines[i].strip():  # the quoted message's first paragraph
                i += 1
            continue
        kept.append(line)
        i += 1
    return "\n".join(kept)


def message_text(text: str) -> str:
    """The customer's own words about the problem: quoted history, greeting and signature cut off."""
    body = _unquoted(text) if "\n" in text else text
    quote = _QUOTE.search(body)
    if quote and quote.start() >= MIN_KEEP:
        body = body[: quote.start()]
    sign_off = _last_sign_off(body)
    if sign_off is not None and sign_off >= MIN_KEEP:
        body = body[:sign_off]
    greeting = _GREETING.match(body)
    if greeting and len(body) - greeting.end() >= MIN_KEEP:
        body = body[greeting.end() :]
    body = " ".join(body.split())
    return body if len(body) >= MIN_KEEP else " ".join(text.split())


def _last_sign_off(body: str) -> int | None:
    """Where the sign-off starts: the first one in the last half of the message (a "groeten" in
    the middle of a story is not the end), or None."""
    half = len(body) // 2
    for match in _SIGN_OFF.finditer(body):
        if match.start() >= half:
            return match.start()
    return None


def sentences(text: str, min_chars: int = 12) -> list[str]:
    """The message's sentences (and "but ..." clauses); fragments shorter than `min_chars` are
    joined to the one before, so each piece says something."""
    pieces: list[str] = []
    for part in _SENTENCE.split(text):
        part = part.strip()
        if not part:
            continue
        if pieces and (len(part) < min_chars or len(pieces[-1]) < min_chars):
            pieces[-1] = f"{pieces[-1]} {part}"
        else:
            pieces.append(part)
    return pieces


# Words that say something is wrong (nl, en, Flemish): a sentence with more of them describes the
# fault; one without them is usually the story around it ("we came back from holiday").
_PROBLEM = re.compile(
    r"\b(?:geen|niet|ni|niks|niets|nergens|kapot|stuk|traag|trager|langzaam|weg|uit|storing|panne|fout\w*|error\w*"
    r"|rood|oranje|knippert|knipperen|pinkt|pinken|hapert|haperen|valt|vallen|stopt|doet|werkt"
    r"|no|not|nothing|none|can't|cannot|won't|doesn't|don't|didn't|isn't|aren't|slow|slower|drops?|dropping|dropped"
    r"|red|orange|blinking|flashing|keeps|stops?|stopped|broken|dead|fails?|failed|down)\b",
    re.I,
)


def focus(text: str, budget: int) -> str:
    """At most `budget` characters of `text` for the embedding: whole sentences, those with the most
    problem words first (ties: the earlier one), put back in their order. The embedding's cost grows
    faster than the text (a 600-character message took 200 ms on one core), and the story around the
    symptom only blurs it; BM25 still reads the whole message."""
    if len(text) <= budget:
        return text
    pieces = sentences(text)
    order = sorted(range(len(pieces)), key=lambda i: (-len(_PROBLEM.findall(pieces[i])), i))
    chosen, used = [], 0
    for i in order:
        if used + len(pieces[i]) + 1 <= budget:
            chosen.append(i)
            used += len(pieces[i]) + 1
    if not chosen:  # one sentence longer than the budget: its start
        return pieces[order[0]][:budget]
    return " ".join(pieces[i] for i in sorted(chosen))
