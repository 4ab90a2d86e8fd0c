"""Cross-site scripting corpus for article rendering and search results, and a checker for pages.

The checker parses the HTML (entities decoded, as a browser would) instead of searching the text,
so an escaped payload shown as text passes and an active one fails wherever it hides.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import yaml

from tests.conftest import HEADINGS

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    "<video><source onerror=alert(1)></video>",
    '<a href="https://ok.example" onclick="alert(1)">click</a>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jAvAsCrIpT:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript&#x3A;alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click][evil]\n\n[evil]: javascript:alert(1)",
    "![x](javascript:alert(1))",
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p style="width: expression(alert(1))">x</p>',
    '<style>body{background:url("javascript:alert(1)")}</style>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)',
    "<div>\n<script>alert(1)</script>\n</div>",
    "<!--><script>alert(1)</script>-->",
]

DANGEROUS_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "style",
    "svg",
    "math",
    "base",
    "frame",
    "frameset",
    "applet",
    "template",
    "link",
    "meta",
    "form",
    "input",
    "button",
    "img",
    "video",
    "audio",
    "source",
}
URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "xlink:href",
    "background",
    "poster",
    "srcset",
    "cite",
    "lowsrc",
    "dynsrc",
}
BAD_SCHEME = re.compile(r"^(javascript|vbscript|data|livescript):")
_IGNORED = re.compile(r"[\x00-\x20]+")


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def active_content(html: str, allowed: set[tuple[str, str]] = frozenset()) -> list[str]:
    """Everything in `html` that could run script. `allowed`: (tag, attribute=value) pairs the page itself adds."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    problems = []
    for tag, attrs in collector.tags:
        values = dict(attrs)
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                problems.append(f"<{tag} {name}=...>: event handler")
            if name in ("style", "srcdoc"):
                problems.append(f"<{tag} {name}=...>")
            if name in URL_ATTRIBUTES and BAD_SCHEME.match(_IGNORED.sub("", value).lower()):
                problems.append(f"<{tag} {name}={value!r}>: script or data URL")
        if tag in DANGEROUS_TAGS and not any((tag, f"{k}={v}") in allowed for k, v in values.items()):
            problems.append(f"<{tag} {attrs}>")
    return problems


def page_allowances(html: str) -> set[tuple[str, str]]:
    """The elements base.html and our own templates add on purpose: our scripts, styles, forms, fields."""
    allowed = {
        ("meta", "charset=utf-8"),
        ("meta", "name=viewport"),
        ("meta", "name=csrf-token"),
        ("template", "id=result-template"),
    }
    for path in re.findall(r'(?:src|href)="(/static/[a-z]+\.(?:js|css|svg))"', html):
        allowed |= {("script", f"src={path}"), ("link", f"href={path}")}
    for form_id in (
        "search-form",
        "gap-form",
        "checklist",
        "case-prefill",
        "solved-form",
        "escalate-here-form",
        "weak-escalate-form",
        "connection-form",
        "panel-note-form",
        "panel-resolve-form",
        "panel-escalate-form",
        "panel-unresolved-form",
    ):
        allowed.add(("form", f"id={form_id}"))
    allowed |= {("form", "class=logout"), ("form", "class=flag-form"), ("form", "method=dialog")}
    for name in (
        "csrf_token",
        "query",
        "lang",
        "category",
        "connection",
        "only_lang",
        "article_id",
        "step",
        "problem",
        "article_ids",
        "revision",
        "reason",
        "team",
        "from",
        "next",
        "connection_type",
        "request_id",
        "text",
    ):
        allowed |= {("input", f"name={name}"), ("select", f"name={name}")}
    allowed |= {("button", "type=submit"), ("button", "type=button")}
    return allowed


def assert_safe_page(html: str) -> None:
    """No script, event handler, style or script URL other than what the app's templates put there."""
    problems = active_content(html, page_allowances(html))
    assert not problems, problems
    scripts = re.findall(r"<script\b[^>]*>", html, re.I)
    assert all(re.fullmatch(r'<script src="/static/[a-z]+\.js" defer>', s) for s in scripts), scripts


def xss_article(article_id: str, lang: str, payload: str, related=()) -> str:
    """A valid article with `payload` in the title, symptoms, tags and in every section of the body."""
    sym, cause, steps, esc, explain, expected = HEADINGS[lang]
    meta = {
        "id": article_id,
        "lang": lang,
        "title": f"Payload {payload}",
        "category": "router",
        "tags": [payload, "xss"],
        "symptoms": [f"says {payload}", "router alert xss", "third symptom"],
        "applies_to": {"connection": ["any"]},
        "escalate_to": "tier2",
        "related": list(related),
        "status": "published",
        "updated": "2026-11-25",
        "owner": "kb-test",
    }
    body = f"""
## {sym}

- **bold** symptom {payload}

## {cause}

{payload}

## {steps}

1. Open the router page {payload} and look.
   {expected}: it shows {payload} nothing.
2. Read the [manual](https://docs.example/router) and run `ping 1.1.1.1`.
   {expected}: the ping answers.

## {esc}

- Escalate to tier2. {payload}

## {explain}

We are looking into it. {payload}

## Notes

| column | value |
|--------|-------|
| a      | `b`   |

{payload}
"""
    return f"---\n{yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}---\n{body}"


def write_xss_kb(root: Path) -> list[str]:
    """One English article per payload, each related to the next; returns their ids in payload order."""
    ids = [f"xss-{n:02d}" for n in range(len(XSS_PAYLOADS))]
    for n, (article_id, payload) in enumerate(zip(ids, XSS_PAYLOADS, strict=True)):
        path = root / "en" / f"{article_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xss_article(article_id, "en", payload, related=[ids[(n + 1) % len(ids)]]), encoding="utf-8")
    return ids
