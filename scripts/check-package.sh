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
echo "check-package: non-editable install, kb --help and kb lint: ok"
