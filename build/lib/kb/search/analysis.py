"""Language-aware text analysis for BM25: tokens, stop words, Snowball stems, ISP synonyms."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+")

STOPWORDS = {
    "en": set(
        """a an and are as at be been but by can could did do does doing for from had has
        have he her his how i if in into is it its just me my no not of on or our she so some
        than that the their them then there these they this to too up us was we were what when
        where which while who why will with would you your yours am any all also after before
        again get got getting keep keeps since still very really only now just been being
        customer customers says said please help hi hello thanks""".split()
    ),
    "nl": set(
        """de het een en of maar dat die dit deze is zijn was waren ben bent wordt worden
        werd heb hebt heeft hebben had kan kun kunnen kon wil wilt willen moet moeten zal zou
        ik je jij u hij zij ze wij we mij me mijn jouw uw zijn haar ons onze hun hen er daar
        hier in op aan bij met van voor naar uit om over tot door als dan ook nog al wel niet
        geen nee ja wat wie waar wanneer hoe waarom welke want dus toch even heel erg meer
        zo te na sinds sinds klant klanten zegt zei graag hallo bedankt alleen nu steeds""".split()
    ),
}

# Groups of words that mean the same thing to an agent, across Dutch and English and jargon.
# Query words are expanded to the other members of their group at a lower weight.
SYNONYM_GROUPS = [
    "internet internetverbinding verbinding connection online",
    "wifi wi-fi wlan draadloos wireless netwerk network",
    "glasvezel glas fibre fiber ftth ont",
    "dsl adsl vdsl koper telefoonlijn",
    "kabel coax docsis cable",
    "modem router kastje box",
    "lampje lampjes light lights led leds indicator",
    "rood red",
    "knippert knipperen blinking blinks flashing flashes",
    "uit off dood dead",
    "traag langzaam sloom slow",
    "snelheid speed bandbreedte bandwidth mbps",
    "storing storingen outage disruption onderhoud maintenance",
    "wachtwoord password wachtwoorden passwords pw",
    "inloggen login aanmelden log sign signin",
    "geblokkeerd locked blocked vergrendeld",
    "vergeten forgot forgotten",
    "mail email e-mail",
    "versturen verzenden send sending",
    "ontvangen receive receiving",
    "telefoon phone telephone bellen voip",
    "kiestoon dial tone dialtone",
    "valt drops dropping disconnects wegvallen verbroken",
    "bereik coverage signaal signal",
    "ping latency lag vertraging",
    "monteur technician engineer",
    "afspraak appointment visit",
    "terugzetten reset fabrieksinstellingen factory",
    "herstarten restart reboot opnieuw power-cycle",
    "gastnetwerk guest gast",
    "poort port forwarding doorsturen",
    "firmware update software bijwerken",
    "klacht complaint boos angry upset",
    "verhuizing verhuisd moved move nieuwe new",
    "phishing oplichting scam nep fake",
    "verificatie verification tweestaps two-factor 2fa authenticator",
    "beheerder admin administrator beheer",
    "escaleren escalate escalation tweedelijns second",
]

_NORMALISE = str.maketrans({"\u2019": "'", "\u2018": "'", "_": " ", "/": " "})


def fold(text: str) -> str:
    """Lower-case and strip accents ('één' -> 'een'), so typing without accents still matches."""
    text = unicodedata.normalize("NFKD", text.translate(_NORMALISE).lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Folded word tokens, numbers kept ('169.254.1.1' -> '169', '254', '1', '1')."""
    return _TOKEN.findall(fold(text))


@lru_cache(maxsize=2)
def _stemmer(lang: str):
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer({"nl": "dutch", "en": "english"}[lang])


@lru_cache(maxsize=65536)
def stem(word: str, lang: str) -> str:
    return _stemmer(lang).stemWord(word)


def analyze(text: str, lang: str) -> list[str]:
    """Index-side analysis: words of one language, stop words dropped, stemmed."""
    stops = STOPWORDS[lang]
    return [stem(w, lang) for w in words(text) if w not in stops and (len(w) > 1 or w.isdigit())]


def _synonym_index() -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for group in SYNONYM_GROUPS:
        members = words(group)
        for member in members:
            index.setdefault(member, []).extend(m for m in members if m != member)
    return index


SYNONYMS = _synonym_index()


def _analyzer_version() -> str:
    """A hash of everything that decides how text is analysed: rebuild bundles when any of it changes."""
    import hashlib
    import json

    import Stemmer

    facts = {
        "token": _TOKEN.pattern,
        "normalise": sorted(_NORMALISE.items()),
        "stopwords": {lang: sorted(words) for lang, words in STOPWORDS.items()},
        "synonyms": SYNONYM_GROUPS,
        "stemmer": Stemmer.version(),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode("utf-8")).hexdigest()[:12]


ANALYZER_VERSION = _analyzer_version()


def query_words(text: str) -> list[str]:
    """Query-side words with stop words of both languages dropped, in order, deduplicated."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w not in STOPWORDS["nl"] and w not in STOPWORDS["en"] and (len(w) > 1 or w.isdigit()):
            seen.setdefault(w, None)
    return list(seen)


def guess_language(text: str) -> str | None:
    """'nl' or 'en' by counting stop words and language-specific words; None when unsure."""
    tokens = words(text)
    nl = sum(t in STOPWORDS["nl"] or t in _NL_HINTS for t in tokens)
    en = sum(t in STOPWORDS["en"] or t in _EN_HINTS for t in tokens)
    if nl == en:
        return None
    return "nl" if nl > en else "en"


_NL_HINTS = set(
    """doet werkt lampje lampjes storing wachtwoord traag langzaam verbinding klant
    knippert kastje glasvezel kabel telefoon bellen monteur afspraak vergeten inloggen
    geblokkeerd verzenden versturen ontvangen snelheid bereik zolder boven beneden""".split()
)
_EN_HINTS = set(
    """doesnt doesn work working light lights outage password slow connection
    blinking cable phone technician appointment forgot login locked send sending receive
    speed signal upstairs downstairs cannot can't won't""".split()
)
