#!/usr/bin/env bash
# Installs Debian's headless Chromium for the browser tests when it is missing.
# The browser tests skip, saying why, only when this cannot install it.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
    || echo "could not install chromium; browser tests will skip" >&2
fi
