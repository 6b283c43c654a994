#!/usr/bin/env bash
# Installs the Debian packages the tests use: chromium (the browser tests drive it with Playwright
# through its executable path; Playwright's own browser download is not used) and bubblewrap (the
# optional command sandbox). Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
# xxd: the redaction tests print secrets in hex the way an agent would.
command -v xxd >/dev/null 2>&1 || missing+=(xxd)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
/usr/bin/chromium --version
bwrap --version
