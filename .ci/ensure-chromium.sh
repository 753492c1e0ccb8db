#!/usr/bin/env bash
# Make sure Debian's chromium (and a font) is at /usr/bin/chromium for the browser tests (Playwright
# drives it; it never downloads a browser of its own). Installs it with apt-get when
# missing. Under CI (CI set) a failed install fails the run, because the browser tests
# must run there; elsewhere it warns and the browser tests skip, saying why.
set -uo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi

echo "Installing Debian's chromium for the browser tests..."
if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
    && [ -x "$CHROMIUM" ]; then
    echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null)"
    exit 0
fi

echo "WARNING: could not install chromium at $CHROMIUM; the browser tests will be skipped." >&2
if [ -n "${CI:-}" ]; then
    echo "ERROR: CI must run the browser tests." >&2
    exit 1
fi
exit 0
