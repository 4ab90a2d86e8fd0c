#!/usr/bin/env bash
# Make sure Debian's Chromium is there for the real-browser test (tests/integration/test_browser.py),
# which Playwright drives with executable_path=/usr/bin/chromium (it never downloads a browser).
#
#   sudo bash scripts/browser-test-deps.sh
#
# Debian/Ubuntu, as root: installs the chromium package with apt-get if /usr/bin/chromium is missing.
# Without root and without Chromium it says so and exits 1; the browser test then skips, unless
# KB_REQUIRE_BROWSER=1 (as in CI), where it fails.
set -euo pipefail

say() { echo "browser-test-deps: $*" >&2; }

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    say "/usr/bin/chromium is missing; install Debian's chromium package as root (sudo bash $0)"
    exit 1
fi
say "installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q chromium >&2
[ -x /usr/bin/chromium ] || { say "apt-get finished but /usr/bin/chromium is still missing"; exit 1; }
