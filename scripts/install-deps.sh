#!/bin/sh
# Install the Debian packages trawl needs to build, run and test. Idempotent; uses sudo when not
# root. Skips apt entirely when everything is already installed. With --test, also what the tests
# check trawl with (promtool, from Debian's prometheus package; Chromium and Node.js for the
# dashboard's browser tests; clang and its libFuzzer runtime for the fuzz targets; the PostgreSQL
# server and curl for the PostgreSQL and failover tests); with --bench,
# what the benchmarks drive trawl with or measure it against (wrk, nginx; miller, jq, xmlstarlet).
set -eu
PKGS="build-essential pkg-config git clang-format libsqlite3-dev sqlite3 libjansson-dev
libcriterion-dev libcurl4-openssl-dev libmicrohttpd-dev libzstd-dev libssl-dev libxml2-dev
zlib1g-dev libicu-dev libpq-dev libcsv-dev libyajl-dev tzdata ca-certificates"
if [ "${1:-}" = "--test" ]; then
    PKGS="$PKGS prometheus chromium clang libclang-rt-dev postgresql curl"
    # Node.js (with npm) from Debian unless one is there already
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
fi
[ "${1:-}" = "--bench" ] && PKGS="$PKGS wrk nginx-light miller jq xmlstarlet"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
