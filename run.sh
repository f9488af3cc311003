#!/bin/sh
# Install what trawl needs, build it, and run it on its embedded SQLite default (./trawl.db, or
# --db PATH). Extra arguments go to `trawl serve`, e.g. ./run.sh --listen 0.0.0.0:8080.
# The first run makes an API token for workspace "default" and prints it once.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh
make -j2 >/dev/null
db=${TRAWL_DB:-trawl.db}
prev=""
for a in "$@"; do
    [ "$prev" = "--db" ] && db=$a
    case $a in --db=*) db=${a#--db=} ;; esac
    prev=$a
done
if [ "$(./build/trawl token list --db "$db" | wc -l)" -le 1 ]; then
    token=$(./build/trawl token create --workspace default --name run.sh --db "$db" 2>/dev/null)
    echo "API token for workspace \"default\" (shown once; keep it): $token"
    echo "  export TRAWL_TOKEN=$token"
fi
exec ./build/trawl serve "$@"
