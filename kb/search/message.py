"""A pasted customer message as search input: what the customer says about the problem, not the
e-mail around it.

Agents paste chat and e-mail messages into the search box. Quoted history ("Op 3 nov. 2026 schreef
Klantenservice ...", "-----Original Message-----", "> ..."), greetings, sign-offs, signatures and
"Sent from my iPhone" say nothing about the fault but steer the ranking towards whatever words
they repeat. `message_text` cuts them off; `sentences` splits what is left so the searcher can
weigh each sentence on its own (kb.search.searcher). Works on a single line too: the search box
collapses line breaks, so no rule here depends on them.
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


def message_text(text: str) -> str:
    """The customer's own words about the problem: quoted history, greeting and signature cut off."""
    body = text
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
