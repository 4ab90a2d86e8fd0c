"""Scope cues: what a customer says about *how far* a fault reaches, in Dutch and English.

A customer's story names the devices, the house, the neighbours. Embeddings and BM25 read those
words as topics ("laptop" pulls towards the one-device article), while to a first-line agent they
say which procedure applies: one device failing while the rest works is a device problem; a second
computer, the wired PC and the phones all failing is the whole connection; the neighbours, the
street or the building sharing it is an outage in the area. `cue_scores` reads those cues and
returns, per article id, an amount the searcher adds to the fused score (Fusion.cue_weight scales
it; 0 switches the cues off). The same function runs for a two-word query and a pasted e-mail.

The phrases are general ways of saying it (written from how customers talk, not from any
evaluation line); a cue names articles by id, and an id that the published bundle does not have is
simply never ranked (tests/search/test_cues.py checks that every id exists in articles/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.search.analysis import fold

ONE_DEVICE, WHOLE_HOUSE, AREA = "one-device", "whole-house", "area"


@dataclass(frozen=True)
class Cue:
    name: str
    pattern: re.Pattern
    effect: dict[str, float]  # article id -> amount added to its fused score (before Fusion.cue_weight)


def _rx(*phrases: str) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


# Devices, as customers name them; two or more different ones in a message that says nothing works
# means more than one device is affected.
_DEVICES = {
    "laptop": r"(?:werk|prive|school)?laptops?|notebooks?|chromebooks?|macbooks?",
    "computer": r"(?:pc|pc's|computers?|desktop|imac)",
    "phone": r"(?:telefoons?|telefoontjes?|gsm|gsm'?s|mobieltjes?|mobiel|smartphones?|iphones?|phones?|mobiles?)",
    "tablet": r"(?:tablets?|ipads?)",
    "tv": r"(?:tv|tv's|televisie|smart-?tv|chromecast|apple ?tv)",
    "console": r"(?:ps[345]|playstation|xbox|switch|spelcomputer|game ?console)",
}
_DEVICE = {name: re.compile(rf"\b{pattern}\b") for name, pattern in _DEVICES.items()}
_ANY_DEVICE = "(?:" + "|".join(_DEVICES.values()) + ")"

# A device named, then that it works: "mijn telefoon en de tv doen het gewoon", "my phone works fine".
_DEVICE_WORKS = re.compile(
    rf"\b{_ANY_DEVICE}\b(?:\s+[\w']+){{0,5}}?\s+(?:doet|doen|werkt|werken)\s+(?:het\s+)?(?:nog\s+)?(?:wel|gewoon|prima)\b"
    rf"|\b{_ANY_DEVICE}\b(?:\s+[\w']+){{0,4}}?\s+(?:works?|is|are|connects?)\s+(?:fine|normally|perfectly|ok|okay)\b"
)
# A device named, then that it fails too: "op de werklaptop ook niet", "my wife's laptop can't either".
_DEVICE_ALSO_FAILS = re.compile(
    rf"\b{_ANY_DEVICE}\b(?:\s+[\w']+){{0,4}}?\s+(?:ook|evenmin)\s+(?:niet|geen|niks|niets|ni)\b"
    rf"|\b{_ANY_DEVICE}\b(?:\s+[\w']+){{0,5}}?\s+(?:either|neither)\b"
)

# "The rest works": the fault is on one device.
_ONE_DEVICE = _rx(
    r"(?:de|al de) rest (?:in huis )?(?:werkt|doet het|doet) (?:wel|gewoon|prima)",
    r"(?:andere|alle andere) (?:apparaten|devices|toestellen) (?:werken|doen het|hebben) (?:wel|gewoon|prima)",
    r"(?:op|met) (?:mijn|de|m'n|mn) (?:telefoon|gsm|mobiel|tablet|andere laptop|andere computer) "
    r"(?:werkt|doet) (?:het )?(?:wel|gewoon|prima)",
    r"(?:werkt|doet het) (?:op|bij) (?:al )?(?:de|alle) andere(?:n)? (?:wel|gewoon|prima)",
    r"alleen (?:mijn|m'n|mn|de|op (?:mijn|de)) (?:laptop|computer|pc|telefoon|tablet|printer|werklaptop)",
    r"(?:everything|all) else (?:works|is fine|is working)",
    r"(?:other|all (?:the )?other) (?:devices|laptops|computers|phones)\s+(?:work|are fine|are working|connect fine)",
    r"works? fine on (?:my|the|our) (?:phone|other|tablet|laptop)",
    r"only (?:my|the|one|on my|on the) (?:laptop|computer|pc|phone|tablet|printer|device|work laptop)",
    r"just (?:my|the|one) (?:laptop|computer|pc|phone|tablet|device)",
)

# "Nothing in the house works": every device, wired and wireless.
_WHOLE_HOUSE = _rx(
    r"(?:alle|al onze|al mijn|al de) (?:apparaten|devices|toestellen)",
    r"geen (?:enkel|een) (?:apparaat|device|toestel)",
    r"(?:nergens|overal) (?:werkt|doet|geen|niks|niets)",
    r"(?:niks|niets) (?:werkt|doet het) (?:meer)?",
    r"(?:heeft|hebben|doet|doen|werkt|werken|kreeg|krijgt|krijgen) (?:het |er )?ook (?:geen|niet|niks|niets|ni)",
    r"ook (?:geen|niet|niks|niets|ni) (?:internet|verbinding|connectie|online)",
    r"(?:zowel )?(?:via|op|met) (?:de )?(?:wifi|kabel|netwerkkabel) (?:en|als|noch) (?:ook )?(?:via|op|met) (?:de )?"
    r"(?:wifi|kabel|netwerkkabel)",
    r"ook (?:niet )?(?:met|via) (?:een|de) (?:netwerk)?kabel",
    r"(?:hele|heel het|heel ons) huis",
    r"all (?:of )?(?:our |my |the )?devices",
    r"every (?:single )?device",
    r"none of (?:the|our|my) (?:devices|laptops|computers|phones)",
    r"nothing (?:works|is working|connects|loads)",
    r"(?:also|too|either) (?:can't|cannot|doesn't|don't|won't|has no|have no|get no|gets no|no)",
    r"(?:doesn't|don't|didn't|won't|can't|cannot) (?:work|connect|get online|load anything) either",
    r"(?:wired|cable|ethernet) (?:and|or) (?:wifi|wireless)",
    r"(?:even|also) (?:with|on|over) (?:a|an|the) (?:cable|ethernet|wired)",
    r"(?:whole|entire) (?:house|home|household|flat)",
    r"nothing (?:in|at|around) (?:the|our|my)? ?(?:house|home|flat|apartment)",
    r"(?:niks|niets) (?:in|bij ons in) (?:huis|de woning|het appartement)",
)

# "The neighbours have it too": the fault is in the area (the outage check comes first).
_AREA = _rx(
    r"(?:de |onze |bij de |mijn )?(?:buren|geburen|overburen|buurman|buurvrouw|buurjongen|buurmeisje)",
    r"(?:de|onze|hele|in de|heel de) (?:buurt|wijk|straat|flat|dorp|galerij|portiek|woonwijk)",
    r"buurtapp|buurt-app|wijkapp|straatapp|appgroep van de (?:straat|buurt)",
    r"(?:hele|heel het|heel ons) (?:gebouw|complex|appartementencomplex|blok|dorp)",
    r"iedereen (?:in|bij|hier in) (?:de|ons|onze|het)",
    r"(?:\d+|alle|meerdere|andere) (?:huishoudens|adressen|woningen)",
    r"neighbou?rs?|neighbou?rhood",
    r"(?:the|our|my|whole|entire) (?:street|block|building|village|area|estate|complex)",
    r"apartment (?:building|block|complex)",
    r"everyone (?:in|on|around) (?:the|our|my)",
    r"(?:\d+|other|several|many) (?:households|homes|houses|flats)",
    # A town or region ("de hele regio", "the whole city") and the outage sites people check; a place
    # by name ("in heel Amersfoort") is _PLACE, read before folding.
    r"(?:hele|heel de) (?:stad|regio|gemeente|provincie|omgeving)",
    r"(?:the )?(?:whole|entire) (?:city|town|region|neighbourhood|neighborhood)",
    r"allestoringen|alle ?storingen\.nl|downdetector|storingskaart",
)

# "In heel Amersfoort", "in heel Nederland": a capitalised name after "in heel", in the text as written
# (folded, "in heel de dag" and "in heel het huis" would look the same).
_PLACE = re.compile(r"\b(?:[Ii]n heel|[Ii]n (?:de|het) hele) [A-Z][\w-]{2,}")

# A second device that also fails: "ik heb de laptop van mijn vrouw geprobeerd en die ook niet".
_ALSO_FAILS = _rx(
    r"(?:die|dat|deze|hij|zij|ze) (?:ook|evenmin) (?:niet|geen|niks|niets|ni)\b",
    r"(?:die|dat|hij|zij|ze) (?:heeft|hebben|doet|doen|werkt|werken) (?:het )?(?:ook|evenmin) (?:niet|geen|niks|ni)",
    r"(?:also|too) (?:fails|failed|doesn't|didn't|won't|has no|had no|no connection|nothing)",
    r"(?:same|the same) (?:result|problem|thing) (?:on|with)",
    r"zelfde (?:resultaat|probleem|verhaal)",
)

_MOVE = _rx(
    r"(?:na|sinds|door) (?:de|onze|mijn) verhuizing",
    r"(?:net|pas|zijn|ben) verhuisd",
    r"(?:op|naar) (?:het|ons|mijn) nieuwe (?:adres|huis|woning|appartement)",
    r"(?:after|since) (?:the|our|my) move",
    r"(?:just|recently|have|we|i) moved",
    r"(?:at|to) (?:the|our|my) new (?:address|place|flat|house|home|apartment)",
)

_NEW_MODEM = _rx(
    r"(?:het|de|een|mijn|ons) (?:nieuwe?|vervangende?) (?:modem|router|kastje)",
    r"(?:modem|router) (?:is )?(?:vervangen|omgeruild|ingeruild)",
    r"(?:the|a|my|our) (?:new|replacement) (?:modem|router|box)",
    r"(?:modem|router) (?:was|has been|got) (?:replaced|swapped)",
)

SINGLE, ALL, OUTAGE = "no-internet-single-device", "no-internet-all-devices", "check-area-outage"

# What each scope says about the three scope articles: the right scope is lifted, the one it rules
# out is lowered. Sizes are on the fused scale (the top article has about 1.0) and chosen on the
# development sets (README, Pasted customer messages).
SCOPE_EFFECT = {
    ONE_DEVICE: {SINGLE: 0.10, ALL: -0.10, OUTAGE: -0.05},
    WHOLE_HOUSE: {ALL: 0.10, SINGLE: -0.15},
    AREA: {OUTAGE: 0.15, SINGLE: -0.10},
}
CUE_EFFECT = {
    "move": {"moving-house": 0.05, "new-connection-not-working": 0.05},
    "new-modem": {"modem-replacement": 0.05},
}


def scope(text: str) -> set[str]:
    """The scopes the text states: ONE_DEVICE, WHOLE_HOUSE, AREA (none, one or several)."""
    t = fold(text)
    found = set()
    if _AREA.search(t) or _PLACE.search(text):
        found.add(AREA)
    if _ONE_DEVICE.search(t) or _DEVICE_WORKS.search(t):
        found.add(ONE_DEVICE)
    elif (
        _WHOLE_HOUSE.search(t)
        or _DEVICE_ALSO_FAILS.search(t)
        or (_ALSO_FAILS.search(t) and _device_kinds(t) >= 1)
        or _device_kinds(t) >= 3
    ):
        found.add(WHOLE_HOUSE)
    return found


def _device_kinds(folded: str) -> int:
    return sum(bool(rx.search(folded)) for rx in _DEVICE.values())


def cues(text: str) -> list[str]:
    """Every cue the text gives: its scopes and the other cues ("move", "new-modem"), sorted."""
    t = fold(text)
    found = scope(text)
    if _MOVE.search(t):
        found.add("move")
    if _NEW_MODEM.search(t):
        found.add("new-modem")
    return sorted(found)


def cue_scores(text: str) -> dict[str, float]:
    """Per article id, the amount its fused score moves for the cues in `text` (summed over cues)."""
    out: dict[str, float] = {}
    for name in cues(text):
        for article_id, amount in {**SCOPE_EFFECT, **CUE_EFFECT}[name].items():
            out[article_id] = out.get(article_id, 0.0) + amount
    return out
