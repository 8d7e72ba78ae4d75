#!/usr/bin/env bash
# Installs Debian's headless Chromium (and CJK fonts, so the Chinese pages render in
# screenshots) for the browser tests when they are missing.
# The browser tests skip, saying why, only when this cannot install it.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if command -v fc-list >/dev/null 2>&1; then
  fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-noto-cjk)
else
  need+=(fonts-noto-cjk)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} for the browser tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null 2>&1 \
    || echo "could not install ${need[*]}; browser tests skip if chromium is missing" >&2
fi
command -v chromium >/dev/null 2>&1 || exit 1
exit 0
