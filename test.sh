#!/bin/sh
# The whole test suite: installs what it needs, checks the format, then builds and runs every
# test normally and under AddressSanitizer and UndefinedBehaviorSanitizer, and fuzzes every
# parser of outside input for a while (FUZZ_SECONDS each, default 15).
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh --test
make fmt-check
make -j2 tests
make -j2 SANITIZE=address,undefined tests
status=0
echo "== normal build =="
sh scripts/run-tests.sh build >build/test.log 2>&1 || status=1
cat build/test.log
echo "== sanitizer build (address,undefined) =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp" \
    CRASH_KILLS=${CRASH_KILLS_SAN:-20} MULTINODE_JOBS=${MULTINODE_JOBS_SAN:-20000} \
    sh scripts/run-tests.sh build-san >build-san/test.log 2>&1 ||
    status=1
cat build-san/test.log
echo "== fuzzing (libFuzzer, ${FUZZ_SECONDS:-15} s per parser) =="
mkdir -p build-fuzz
sh scripts/run-fuzz.sh build-fuzz >build-fuzz/test.log 2>&1 || status=1
cat build-fuzz/test.log
p1=$(tail -n 1 build/test.log | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
f1=$(tail -n 1 build/test.log | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
p2=$(tail -n 1 build-san/test.log | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
f2=$(tail -n 1 build-san/test.log | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
p3=$(tail -n 1 build-fuzz/test.log | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
f3=$(tail -n 1 build-fuzz/test.log | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
echo "$((${p1:-0} + ${p2:-0} + ${p3:-0})) passed, $((${f1:-1} + ${f2:-1} + ${f3:-1})) failed"
exit $status
