#!/usr/bin/env bash
# Install axe-core from the npm registry for the accessibility browser test
# (tests/integration/test_browser_a11y.py); nothing of it is copied into the repository.
#
#   bash scripts/axe-deps.sh        # prints the path of axe.min.js
#
# It goes to KB_AXE_DIR, by default ${XDG_CACHE_HOME:-~/.cache}/firstline-kb/axe-core, where the test
# looks for it (or set KB_AXE_JS to an axe.min.js). The version is pinned so that a new axe release
# with new rules cannot change the test's verdict unnoticed. Without npm it says so and exits 1; the
# test then skips, unless KB_REQUIRE_BROWSER=1 (as in CI), where it fails.
set -euo pipefail

AXE_VERSION=4.14.1
dir="${KB_AXE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/firstline-kb/axe-core}"
script="$dir/node_modules/axe-core/axe.min.js"

say() { echo "axe-deps: $*" >&2; }

installed() {
    [ -s "$script" ] && grep -q "\"version\": \"$AXE_VERSION\"" "$dir/node_modules/axe-core/package.json"
}

if ! installed; then
    if ! command -v npm > /dev/null; then
        if [ "$(id -u)" -ne 0 ]; then
            say "npm is missing; install Debian's npm package as root (sudo bash $0)"
            exit 1
        fi
        say "installing npm with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >&2
        apt-get install -y -q npm >&2
        command -v npm > /dev/null || { say "apt-get finished but npm is still missing"; exit 1; }
    fi
    mkdir -p "$dir"
    say "installing axe-core@$AXE_VERSION into $dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "axe-core@$AXE_VERSION" >&2
    installed || { say "npm finished but $script is missing"; exit 1; }
fi
echo "$script"
