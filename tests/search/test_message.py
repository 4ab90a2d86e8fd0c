"""Pasted customer messages: quoted history, greetings and signatures do not reach the ranking."""

from __future__ import annotations

from kb.search.message import message_text, sentences

STORY = "Sinds gisteren doet het internet het op geen enkel apparaat meer, ook niet op de laptop van de buren."


def test_quoted_history_is_cut_off_dutch_and_english():
    nl = f"{STORY} Op di 10 nov. 2026 om 16:02 schreef Klantenservice <noreply@example.nl>: Herstart uw modem."
    assert message_text(nl) == STORY
    en = "The wifi keeps dropping every evening around eight. On Tue, 10 Nov 2026 at 16:02, Support wrote: restart it"
    assert message_text(en) == "The wifi keeps dropping every evening around eight."
    original = f"{STORY} -----Original Message----- From: Service Sent: Thursday Subject: RE: storing"
    assert message_text(original) == STORY
    quoted = f"{STORY}\n> Beste klant,\n> herstart uw modem."
    assert message_text(quoted) == STORY


def test_greeting_and_signature_are_cut_off():
    text = f"Beste klantenservice, {STORY} Met vriendelijke groet, Jan de Vries klantnummer 12345678 Tel 06-12345678"
    assert message_text(text) == STORY
    text = "Hi there, my email password stopped working on my phone yesterday. Kind regards, Pat Sent from my iPhone"
    assert message_text(text) == "my email password stopped working on my phone yesterday."
    assert message_text("Groetjes, ik heb geen internet meer en de modem knippert rood sinds vanochtend.").startswith(
        "Groetjes"  # a greeting word early in the message is not a sign-off
    )


def test_a_short_message_is_kept_as_it_is():
    assert message_text("Hallo, wifi weg") == "Hallo, wifi weg"
    assert message_text("  internet   light is red ") == "internet light is red"


def test_sentences_split_and_join_fragments():
    parts = sentences("Internet is weg. Ja. De modem knippert rood, maar de buren hebben wel internet! Wat nu?")
    assert parts == ["Internet is weg. Ja.", "De modem knippert rood,", "maar de buren hebben wel internet! Wat nu?"]
    assert sentences("one short line") == ["one short line"]
