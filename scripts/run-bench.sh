#!/bin/sh
# Run the benchmarks of one build directory; each prints its own figures, one line per figure.
# usage: run-bench.sh BUILD_DIR     (BENCH_ARGS adds arguments, e.g. "--jobs 20000")
set -eu
build=${1:-build}
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
# shellcheck disable=SC2086
"$build/bench/bench_engine" --trawl "$build/trawl" ${BENCH_ARGS:-}
