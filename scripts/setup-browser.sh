#!/usr/bin/env bash
# Installs what the browser tests (test/browser) drive: Debian's `chromium` package, through apt.
# No browser build is downloaded from anywhere else; playwright-core (an npm devDependency) only
# drives it. Needs root (CI runs as root) or sudo. Does nothing when Chromium is already there.
set -euo pipefail
CHROMIUM="${BLUEMARBLE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: $CHROMIUM is missing and this system has no apt-get; install Chromium and set BLUEMARBLE_CHROMIUM to its path" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed)"
