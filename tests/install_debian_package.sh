#!/bin/sh
# Install Debian's PACKAGE when its command is missing and apt-get may be used (root, or
# passwordless sudo): `make test` for chromium (the browser tests), `make bench` for hugo (the
# full build's comparison). Never fails and never fetches a program any other way; when it cannot,
# it says so in one line and what it is for goes without it.
#     sh tests/install_debian_package.sh PACKAGE WHAT-IT-IS-FOR
package=$1
without="${2:-its users} will go without it"
command -v "$package" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"
else echo "$package is not installed and apt-get needs root or passwordless sudo: $without"; exit 0
fi
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$package is not installed and this is not Debian/Ubuntu (no apt-get): $without"; exit 0
fi
apt_get="$sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq"
{ $apt_get install -y "$package" || { $apt_get update && $apt_get install -y "$package"; }; } >/dev/null 2>&1 \
    || echo "apt-get could not install $package: $without"
exit 0
