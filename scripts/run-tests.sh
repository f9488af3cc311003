#!/bin/sh
# Run every test suite of one build directory and print one closing line: "N passed, N failed".
# usage: run-tests.sh BUILD_DIR      (CRASH_KILLS=N sets the crash test's kill count)
set -u
build=${1:-build}
passed=0
failed=0
tmp=$(mktemp -d)
here=$(cd "$(dirname "$0")/.." && pwd)
# a private PostgreSQL for the conformance suite (and whatever else runs on PostgreSQL); its
# folder must be open to the postgres user when the tests run as root
pgdir=$(mktemp -d /tmp/trawl-pg-XXXXXX)
chmod 755 "$pgdir"
trap 'sh "$here/scripts/pg-cluster.sh" stop "$pgdir/c"; rm -rf "$tmp" "$pgdir"' EXIT
pg=$(sh "$here/scripts/pg-cluster.sh" start "$pgdir/c") || pg=""

# A Criterion suite: run it (each test in its own process), show its output without the server
# logs' timestamped lines, and add its synthesis line to the totals.
criterion_suite() {
    name=$1
    shift
    "$@" >"$tmp/$name.log" 2>&1
    rc=$?
    grep -v '^[0-9-]*T[0-9:.]*Z ' "$tmp/$name.log"
    line=$(grep 'Synthesis:' "$tmp/$name.log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$name: no summary (exit $rc)"
        failed=$((failed + 1))
        return
    fi
    p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
    f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
    c=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
    passed=$((passed + p))
    failed=$((failed + f + c))
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$c" -eq 0 ] && failed=$((failed + 1))
}

# Unit, store, fault-injection tests.
criterion_suite unit "$build/tests/unit_tests" --jobs 2 --timeout 120
# The conformance suite: the tests of every store operation (through the engine and directly)
# again, on PostgreSQL. A suite is listed here once the PostgreSQL store keeps all it uses.
PG_SUITES="engine|claim|commit|faults|monitor|pool|pool_due|stats|chain|schedule|scrape_store|webhook|alert_limit|retention|import_store|import_metrics|alert_import"
if [ -n "$pg" ]; then
    criterion_suite unit-postgres env TRAWL_TEST_PG="$pg" "$build/tests/unit_tests" --jobs 2 \
        --timeout 120 --filter "@($PG_SUITES)/*"
else
    echo "unit-postgres: no PostgreSQL server could be started (see above)"
    failed=$((failed + 1))
fi
# End to end: the real trawl serve over HTTP, against origin servers that misbehave on purpose.
criterion_suite e2e "$build/tests/e2e_tests" --jobs 2 --timeout 300
# The same on PostgreSQL: each test's serves and commands on databases of their own (tests about
# SQLite only, such as its write lock, are skipped).
if [ -n "$pg" ]; then
    criterion_suite e2e-postgres env TRAWL_TEST_PG="$pg" "$build/tests/e2e_tests" --jobs 2 \
        --timeout 300
else
    echo "e2e-postgres: no PostgreSQL server could be started (see above)"
    failed=$((failed + 1))
fi

# The dashboard in real headless Chromium (tests/browser; BROWSER_TESTS=0 leaves it out).
if [ "${BROWSER_TESTS:-1}" != 0 ]; then
    if [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
        (cd "$here/tests/browser" && npm ci --no-audit --no-fund --loglevel=error) ||
            echo "browser tests: npm ci failed"
    fi
    node "$here/tests/browser/dashboard.test.mjs" "$build" >"$tmp/browser.log" 2>&1
    grep -v '^token ' "$tmp/browser.log"
    line=$(tail -n 1 "$tmp/browser.log")
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        echo "browser tests: no summary"
        failed=$((failed + 1))
    else
        passed=$((passed + p))
        failed=$((failed + f))
    fi
fi

# Several nodes: trawl serve processes on one PostgreSQL, one killed midway, and the server
# itself killed (immediate shutdown) and started again later on.
echo "multi-node test: ${MULTINODE_JOBS:-100000} jobs, 3 nodes of $build/trawl on PostgreSQL"
if [ -n "$pg" ] && "$build/tests/multinode_test" --trawl "$build/trawl" --pg "$pg" \
    --jobs "${MULTINODE_JOBS:-100000}" --restart "sh $here/scripts/pg-cluster.sh restart $pgdir/c"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

# Crash test: kill -9 a real trawl serve again and again.
echo "crash test: ${CRASH_KILLS:-50} kills of $build/trawl serve"
if "$build/tests/crash_test" --trawl "$build/trawl" --kills "${CRASH_KILLS:-50}"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

# The same crash test on PostgreSQL.
echo "crash test on PostgreSQL: ${CRASH_KILLS_PG:-20} kills of $build/trawl serve"
if [ -n "$pg" ] && "$build/tests/crash_test" --trawl "$build/trawl" --kills "${CRASH_KILLS_PG:-20}" \
    --pg "$pg"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

# Failover: a PostgreSQL primary killed under load, its synchronous standby promoted; serve's
# --db names both (target_session_attrs=read-write) and follows the new primary by itself.
echo "failover test: $build/trawl serve on a primary killed midway and a standby promoted"
if sh "$here/tests/failover/failover.sh" "$build/trawl"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
