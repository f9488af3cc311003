#!/bin/sh
# Run the benchmarks of one build directory; each prints its own figures, one line per figure.
# usage: run-bench.sh BUILD_DIR     (BENCH_ARGS adds arguments to bench_engine, e.g.
#        "--jobs 20000"; API_BENCH_ARGS to bench_api; SCRAPE_BENCH_ARGS to bench_scrape, e.g.
#        "--products 9000,90000"; OBS_BENCH_ARGS to bench_obs, e.g. "--subscribers 100";
#        FEED_BENCH_ARGS to bench_feed; IMPORT_BENCH_ARGS to bench_import).
#        bench_api and bench_scrape want wrk and nginx:
#        sh scripts/install-deps.sh --bench
set -eu
build=${1:-build}
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
# shellcheck disable=SC2086
"$build/bench/bench_engine" --trawl "$build/trawl" ${BENCH_ARGS:-}
# shellcheck disable=SC2086
"$build/bench/bench_api" --trawl "$build/trawl" ${API_BENCH_ARGS:-}
# shellcheck disable=SC2086
"$build/bench/bench_scrape" --trawl "$build/trawl" --shop "$build/tests/shop" ${SCRAPE_BENCH_ARGS:-}
# shellcheck disable=SC2086
"$build/bench/bench_obs" --trawl "$build/trawl" ${OBS_BENCH_ARGS:-}
# the feed parsers against mlr, jq and xmlstarlet (FEED_BENCH_ARGS, e.g. "--records 100000")
# shellcheck disable=SC2086
"$build/bench/bench_feed" ${FEED_BENCH_ARGS:-}
# whole feed imports against mlr, jq and xmlstarlet; delivery to a local receiver; a 1 GB feed's
# memory (IMPORT_BENCH_ARGS, e.g. "--records 100000 --big-mb 100")
# shellcheck disable=SC2086
"$build/bench/bench_import" --trawl "$build/trawl" --hookrx "$build/tests/hookrx" ${IMPORT_BENCH_ARGS:-}
# the dashboard with a batch of 100,000 jobs (Chromium and playwright-core, as the browser tests)
here=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$here/tests/browser/node_modules/playwright-core" ] ||
    (cd "$here/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
node "$here/bench/bench_ui.mjs" "$build" | grep -v '^token '
