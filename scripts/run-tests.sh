#!/bin/sh
# Run every test suite of one build directory and print one closing line: "N passed, N failed".
# usage: run-tests.sh BUILD_DIR      (CRASH_KILLS=N sets the crash test's kill count)
set -u
build=${1:-build}
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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
# End to end: the real trawl serve over HTTP, against origin servers that misbehave on purpose.
criterion_suite e2e "$build/tests/e2e_tests" --jobs 2 --timeout 300

# Crash test: kill -9 a real trawl serve again and again.
echo "crash test: ${CRASH_KILLS:-50} kills of $build/trawl serve"
if "$build/tests/crash_test" --trawl "$build/trawl" --kills "${CRASH_KILLS:-50}"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
