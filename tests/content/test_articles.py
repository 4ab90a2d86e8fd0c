import pytest

from kb.content.articles import load_articles, parse_article, read_text
from kb.errors import ArticleError
from kb.search.chunking import chunk_article, plain
from tests.conftest import article_text


def test_parse_reads_front_matter_sections_and_steps():
    text = article_text(
        "dsl-no-sync",
        "en",
        "DSL: no sync",
        steps=(("Check the cable.", "It clicks in."), ("Restart the modem.", "Lights go steady.")),
    )
    a = parse_article(text, "articles/en/dsl-no-sync.md")
    assert (a.id, a.lang, a.title, a.category) == ("dsl-no-sync", "en", "DSL: no sync", "connectivity")
    assert a.get("updated") == "2026-11-25"
    assert [s.kind for s in a.sections] == ["symptoms", "causes", "steps", "escalate", "explain"]
    assert [(s.number, s.action, s.expected) for s in a.steps] == [
        (1, "Check the cable.", "It clicks in."),
        (2, "Restart the modem.", "Lights go steady."),
    ]
    lines = text.splitlines()
    assert lines[a.steps[1].line - 1].startswith("2. Restart")


def test_dutch_steps_use_verwacht_and_bold_prefix_is_accepted():
    text = article_text("x", "nl", "Titel", steps=(("Doe iets.", "Het werkt."),))
    text = text.replace("   Verwacht: Het werkt.", "   **Verwacht:** Het werkt.")
    a = parse_article(text)
    assert a.steps[0].expected == "Het werkt."


def test_steps_continue_over_indented_lines():
    text = article_text("x", "en", "T").replace(
        "1. Check the power light.\n   Expected: The light is on.",
        "1. Open the settings.\n   Windows: Settings > Network & internet\n   Expected: The page opens.\n"
        "2. Close them.\n   Expected: Closed.",
    )
    a = parse_article(text)
    assert a.steps[0].action == "Open the settings. Windows: Settings > Network & internet"
    assert [s.number for s in a.steps] == [1, 2]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "file is empty"),
        ("# just a heading\n", "no front matter found"),
        ("---\nid: [unclosed\n---\n", "front matter is not valid YAML"),
        ("---\n- a\n- b\n---\n", "front matter must be a mapping"),
    ],
)
def test_parse_errors_name_the_problem(content, message):
    with pytest.raises(ArticleError) as err:
        parse_article(content, "a.md")
    assert err.value.message.startswith(message)


def test_read_text_strips_bom_and_refuses_binary_and_huge(tmp_path):
    bom = tmp_path / "bom.md"
    bom.write_bytes("\ufeff---\nid: x\n---\n".encode("utf-8"))
    assert read_text(bom).startswith("---")
    binary = tmp_path / "bin.md"
    binary.write_bytes(b"\x00\x01\x02PNG")
    with pytest.raises(ArticleError, match="binary"):
        read_text(binary)
    huge = tmp_path / "huge.md"
    huge.write_bytes(b"a" * (1024 * 1024 + 1))
    with pytest.raises(ArticleError, match="1 MiB"):
        read_text(huge)
    latin = tmp_path / "latin.md"
    latin.write_bytes("---\ntitle: caf\xe9\n---\n".encode("latin-1"))
    with pytest.raises(ArticleError, match="UTF-8"):
        read_text(latin)


def test_load_articles_skips_drafts_and_archived(small_kb):
    draft = small_kb / "en" / "draft-one.md"
    draft.write_text(article_text("draft-one", "en", "Draft", status="draft"), encoding="utf-8")
    ids = {a.id for a in load_articles(small_kb)}
    assert "draft-one" not in ids and "dsl-no-sync" in ids
    assert "draft-one" in {a.id for a in load_articles(small_kb, include_drafts=True)}


def test_chunks_are_summary_sections_and_one_per_step():
    a = parse_article(
        article_text(
            "dsl-no-sync", "en", "DSL: no sync", steps=(("Check the cable.", "It clicks."), ("Restart.", "Steady."))
        )
    )
    chunks = chunk_article(a)
    assert [c.kind for c in chunks] == ["summary", "symptoms", "causes", "step", "step", "escalate", "explain"]
    step2 = chunks[4]
    assert step2.key == "dsl-no-sync/en/step-2" and step2.text == "Restart.\nSteady."
    assert step2.embed_text.startswith("DSL: no sync: ")


def test_plain_keeps_error_codes_and_angle_brackets():
    assert (
        plain("Run `nslookup <site>` if **DNS_PROBE_FINISHED_NXDOMAIN** shows")
        == "Run nslookup <site> if DNS_PROBE_FINISHED_NXDOMAIN shows"
    )
