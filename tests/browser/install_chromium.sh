#!/bin/sh
# `make test`: install Debian's chromium for the browser tests when it is missing and apt-get may be
# used (root, or passwordless sudo). Never fails and never fetches a browser any other way; when it
# cannot, it says so in one line and the browser tests skip.
command -v chromium >/dev/null 2>&1 && exit 0
skip="the browser tests will be skipped"
if [ "$(id -u)" = 0 ]; then sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"
else echo "chromium is not installed and apt-get needs root or passwordless sudo: $skip"; exit 0
fi
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is not installed and this is not Debian/Ubuntu (no apt-get): $skip"; exit 0
fi
apt_get="$sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq"
{ $apt_get install -y chromium || { $apt_get update && $apt_get install -y chromium; }; } >/dev/null 2>&1 \
    || echo "apt-get could not install chromium: $skip"
exit 0
