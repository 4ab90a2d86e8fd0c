"""Scope cues: one device, the whole house, the area, read from how customers say it (nl, en),
and their effect on the ranking."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kb.search.bundle import build_index
from kb.search.cues import AREA, CUE_EFFECT, ONE_DEVICE, SCOPE_EFFECT, WHOLE_HOUSE, cue_scores, cues, scope
from kb.search.searcher import Searcher
from tests.conftest import write_kb

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "text",
    [
        "Mijn laptop doet het niet meer, de rest in huis werkt wel.",
        "Alleen mijn werklaptop heeft geen internet.",
        "Geen internet op de pc, maar mijn telefoon en de tablet doen het gewoon.",
        "My laptop says no internet but everything else works.",
        "Only my work laptop has the problem; my phone works fine on the same wifi.",
    ],
)
def test_one_device(text):
    assert scope(text) == {ONE_DEVICE}


@pytest.mark.parametrize(
    "text",
    [
        "Niks werkt meer, geen enkel apparaat heeft internet.",
        "Ik dacht dat het mijn laptop was, maar de computer van mijn zoon heeft het ook niet.",
        "Op de pc niet, op de laptop ook niet en op de telefoon ook niet.",
        "Zowel via de wifi als met de kabel krijg ik geen verbinding.",
        "None of our devices can get online, wired or wireless.",
        "Nothing in the house can get online since this morning.",
        "Sinds vanochtend niks in huis, ook de tv-app niet.",
        "I tried my husband's laptop as well and it can't connect either.",
        "The gaming PC, the tablets and the TV all show no internet.",
    ],
)
def test_whole_house(text):
    assert scope(text) == {WHOLE_HOUSE}


@pytest.mark.parametrize(
    "text",
    [
        "De buren hebben ook geen internet sinds vanmiddag.",
        "In heel de straat ligt het eruit, staat in de buurtapp.",
        "Awel, de geburen zitten ook zonder.",
        "Our neighbours are offline too.",
        "The whole building has been down since this morning.",
        "@provider al sinds vanochtend geen internet in heel Amersfoort?? #storing",
        "In de hele regio ligt het eruit volgens allestoringen.",
        "Downdetector shows the whole city is down.",
    ],
)
def test_area(text):
    assert AREA in scope(text)


def test_a_place_by_name_is_not_the_house_or_the_day():
    # Folded, "in heel het huis" and "heel de dag" (Flemish: all day) would read like "in heel Utrecht".
    assert scope("In heel het huis geen wifi meer.") == {WHOLE_HOUSE}
    assert AREA not in scope("Heel de dag geen internet gehad, in heel de woning niet.")
    assert AREA in scope("Is er een storing in heel Utrecht?")


def test_no_scope_in_a_plain_question():
    assert scope("Hoe verander ik de naam van mijn wifi?") == set()
    assert scope("How do I set up port forwarding for my camera?") == set()
    assert cue_scores("router resetten") == {}


def test_move_and_new_modem():
    assert "move" in cues("Sinds de verhuizing werkt het internet niet meer op het nieuwe adres.")
    assert "move" in cues("Since we moved to the new flat there is no connection.")
    assert "new-modem" in cues("Ik heb het nieuwe modem aangesloten maar het lampje blijft oranje.")
    assert "new-modem" in cues("The replacement router you sent does not connect.")


def test_scores_lift_the_stated_scope_and_lower_the_one_it_rules_out():
    house = cue_scores("De laptop van mijn vrouw heeft het ook niet, en de telefoons ook niet.")
    assert house["no-internet-all-devices"] > 0 > house["no-internet-single-device"]
    one = cue_scores("Alleen mijn laptop, de rest werkt wel.")
    assert one["no-internet-single-device"] > 0 > one["no-internet-all-devices"]
    area = cue_scores("De buren hebben het ook.")
    assert area["check-area-outage"] > 0


def test_every_cued_article_exists_in_both_languages():
    ids = {article_id for effect in (*SCOPE_EFFECT.values(), *CUE_EFFECT.values()) for article_id in effect}
    for article_id in ids:
        for lang in ("nl", "en"):
            assert (ROOT / "articles" / lang / f"{article_id}.md").exists(), (article_id, lang)


def _kb(root: Path) -> Path:
    laptop = ("my laptop has no internet", "the laptop cannot connect", "laptop offline")
    return write_kb(
        root,
        {
            "no-internet-single-device": {
                "en": {"title": "One laptop or computer has no internet", "symptoms": laptop},
            },
            "no-internet-all-devices": {
                "en": {
                    "title": "No internet at home",
                    "symptoms": ("no internet at home", "phones and laptops have no connection"),
                },
            },
            "check-area-outage": {
                "en": {
                    "title": "Check for an outage",
                    "symptoms": ("no internet in the street", "no internet for everyone in the region"),
                },
            },
        },
    )


def test_cues_change_the_ranking_and_switch_off(tmp_path, fake_embedder):
    build_index(_kb(tmp_path / "articles"), tmp_path / "index", fake_embedder)
    searcher = Searcher(tmp_path / "index", fake_embedder)
    query = "My laptop has no internet. My wife's laptop cannot connect either, and the phones also have no internet."
    off = Searcher(tmp_path / "index", fake_embedder, dataclasses.replace(searcher.fusion, cue_weight=0.0))
    assert off.search(query, lang="en").hits[0].article_id == "no-internet-single-device"  # the laptop words win
    assert searcher.search(query, lang="en").hits[0].article_id == "no-internet-all-devices"
    neighbours = "No internet here since this morning, and the neighbours say they have none either."
    before = [h.article_id for h in off.search(neighbours, lang="en").hits]
    after = [h.article_id for h in searcher.search(neighbours, lang="en").hits]
    assert after.index("check-area-outage") < before.index("check-area-outage")
    assert after.index("no-internet-single-device") > before.index("no-internet-single-device")
