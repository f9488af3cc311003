#!/bin/sh
# Fuzz every parser of outside input (tests/fuzz/fuzz_*.c) with libFuzzer under AddressSanitizer
# and UndefinedBehaviorSanitizer, each for FUZZ_SECONDS (default 15) from its checked-in corpus
# (tests/fuzz/corpus/NAME, copied: the run's findings stay in BUILD_DIR). Prints one line per
# target and a closing "N passed, N failed". A crash leaves its input in BUILD_DIR/crashes.
# usage: run-fuzz.sh [BUILD_DIR]        (default build-fuzz; needs clang)
set -u
cd "$(dirname "$0")/.."
out=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-15}
passed=0
failed=0
if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang is not installed (sh scripts/install-deps.sh --test)"
    echo "0 passed, 1 failed"
    exit 1
fi
mkdir -p "$out/obj" "$out/crashes"
# yajl and libcsv: the feed parsers (src/parse/feed_json.c, feed_csv.c)
pkgs="libxml-2.0 jansson libcurl zlib libzstd icu-i18n icu-uc yajl"
cflags="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
        -D_GNU_SOURCE -Isrc $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -lcsv -lpthread -lm"
# what the targets reach: base, the parsers, URLs, robots.txt and cron expressions
objs=""
for src in src/base/*.c src/parse/*.c src/fetch/url.c src/fetch/robots.c src/engine/cron.c; do
    obj="$out/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
        # shellcheck disable=SC2086
        clang $cflags -c "$src" -o "$obj" || { echo "fuzz: cannot build $src"; exit 1; }
    fi
    objs="$objs $obj"
done
for target in tests/fuzz/fuzz_*.c; do
    name=$(basename "$target" .c | sed 's/^fuzz_//')
    bin="$out/fuzz_$name"
    # shellcheck disable=SC2086
    if ! clang $cflags -fsanitize=fuzzer "$target" $objs $libs -o "$bin"; then
        echo "fuzz $name: does not build"
        failed=$((failed + 1))
        continue
    fi
    corpus="$out/corpus-$name"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
    if "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$out/crashes/$name-" "$corpus" >"$out/$name.log" 2>&1; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$out/$name.log" | tail -n 1)
        echo "fuzz $name: ${runs:-?} inputs in ${secs} s, no crash"
        passed=$((passed + 1))
    else
        echo "fuzz $name: FAILED; see $out/$name.log and $out/crashes/"
        grep -E "ERROR|SUMMARY|runtime error" "$out/$name.log" | head -n 5
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
