#!/bin/sh
# Install what trawl needs, build it, and run it on its embedded SQLite default (./trawl.db).
# Extra arguments go to `trawl serve`, e.g. ./run.sh --workers 8 --db /var/lib/trawl.db
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh
make -j2 >/dev/null
exec ./build/trawl serve "$@"
