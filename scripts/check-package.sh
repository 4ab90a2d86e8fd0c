#!/usr/bin/env bash
# The project as a user installs it (not editable): builds without warnings, and `kb --help` and
# `kb lint` work from the installed package, outside the source tree. The dependencies other than
# PyYAML are left out on purpose: neither command may need them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --upgrade pip
"$work/venv/bin/pip" install --no-deps "$root" > "$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
if grep -i -E "warning|deprecat" "$work/install.log"; then
    echo "check-package: pip install . printed warnings (above)" >&2
    exit 1
fi
"$work/venv/bin/pip" install --quiet PyYAML > "$work/yaml.log" 2>&1
cd "$work"
"$work/venv/bin/kb" --help > /dev/null
"$work/venv/bin/kb" lint --articles "$root/articles"
# The compiled catalogs come from the build, one per .po: the app never writes them into site-packages.
site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
for po in "$site"/webapp/translations/*/LC_MESSAGES/*.po; do
    mo="${po%.po}.mo"
    [ -s "$mo" ] || { echo "check-package: $mo was not built" >&2; exit 1; }
    "$work/venv/bin/python" - "$mo" <<'PY'
import gettext, sys
with open(sys.argv[1], "rb") as fh:
    catalog = gettext.GNUTranslations(fh)
assert len(catalog._catalog) > 100, f"{sys.argv[1]}: only {len(catalog._catalog)} messages"
PY
done
# Data files the search reads at run time ship with the package.
[ -s "$site/kb/search/out_of_scope_anchors.jsonl" ] || { echo "check-package: out_of_scope_anchors.jsonl missing" >&2; exit 1; }
echo "check-package: non-editable install, compiled catalogs, search data, kb --help and kb lint: ok"
