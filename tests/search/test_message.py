"""Pasted customer messages: quoted history, greetings and signatures do not reach the ranking."""

from __future__ import annotations

from kb.search.message import focus, message_text, sentences

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


def test_a_reply_below_the_quote_keeps_the_customer_lines_with_line_breaks():
    text = (
        "On Tue, 3 Nov 2026 at 09:12, Support <support@example.com> wrote:\n"
        "> Can you tell us which lights are on?\n"
        "> Kind regards, Support\n\n"
        "Only the power light is on, the fibre light stays off since the storm.\n\nThanks,\nKim"
    )
    assert message_text(text) == "Only the power light is on, the fibre light stays off since the storm."


def test_a_forwarded_block_drops_the_header_and_the_providers_paragraph():
    text = (
        "Zie hieronder.\n\n-----Oorspronkelijk bericht-----\nVan: Klantenservice\nVerzonden: dinsdag 3 november 2026\n"
        "Onderwerp: Uw melding\n\nBeste klant, herstart uw modem en laat het ons weten.\n\n"
        "Dat heb ik gedaan en het internetlampje blijft rood. Ik wil een monteur.\n\nMvg, Sam"
    )
    kept = "Zie hieronder. Dat heb ik gedaan en het internetlampje blijft rood. Ik wil een monteur."
    assert message_text(text) == kept


def test_a_top_posted_reply_still_loses_its_history():
    text = f"{STORY}\n\nOp di 10 nov. 2026 om 16:02 schreef Klantenservice:\n> Beste klant,\n> herstart uw modem."
    assert message_text(text) == STORY


def test_focus_keeps_the_problem_sentences_within_the_budget():
    story = (
        "We zijn net terug van vakantie in Frankrijk. Het was er heerlijk weer. "
        "Sinds we thuis zijn werkt het internet niet, het lampje knippert rood en er is geen verbinding. "
        "De kinderen zijn de hele dag thuis."
    )
    kept = focus(story, 120)
    assert kept == "Sinds we thuis zijn werkt het internet niet, het lampje knippert rood en er is geen verbinding."
    assert len(focus(story, 200)) <= 200 and "knippert rood" in focus(story, 200)
    assert focus("wifi weg", 120) == "wifi weg"
    assert len(focus("x" * 500, 100)) == 100  # one sentence longer than the budget: its start
