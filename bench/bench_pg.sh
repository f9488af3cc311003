#!/bin/sh
# trawl on PostgreSQL against pg-boss on the same server, in the same run: a private cluster with
# fsync=on and synchronous_commit=on (scripts/pg-cluster.sh ... fsync), started here and removed
# at the end. Prints one line per figure:
#   trawl_pg_end_to_end  build/bench/bench_engine --pg: JOBS no-op jobs through the in-process pool
#   trawl_pg_nodes       JOBS no-op jobs enqueued by `trawl enqueue`, then run by N `trawl serve`
#                        processes (4 workers each) until the database says all are completed
#   pgboss_end_to_end    bench/pgboss/bench_pgboss.mjs: JOBS jobs inserted, then run by pg-boss
#                        work() loops of a batch size, until pg-boss says all are completed
# usage: bench/bench_pg.sh [BUILD] [JOBS]     (npm installs pg-boss into bench/pgboss first)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
jobs=${2:-100000}
trawl="$here/$build/trawl"
dir=$(mktemp -d /tmp/trawl-bench-pg-XXXXXX)
chmod 755 "$dir"
trap 'sh "$here/scripts/pg-cluster.sh" stop "$dir/c"; rm -rf "$dir"' EXIT
pg=$(sh "$here/scripts/pg-cluster.sh" start "$dir/c" fsync)
echo "# bench_pg cluster=$dir/c fsync=$(psql "$pg" -Atc 'show fsync') synchronous_commit=$(psql "$pg" -Atc 'show synchronous_commit') jobs=$jobs"
[ -d "$here/bench/pgboss/node_modules/pg-boss" ] ||
    (cd "$here/bench/pgboss" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

fresh() {
    psql "$pg" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null
}

now_ms() {
    date +%s%3N
}

nodes() {
    n=$1
    fresh nodes
    db="$pg dbname=nodes"
    "$trawl" enqueue --db "$db" --count "$jobs" noop >/dev/null
    pids=""
    t0=$(now_ms)
    i=0
    while [ "$i" -lt "$n" ]; do
        "$trawl" serve --db "$db" --listen 127.0.0.1:0 --no-auth --crawl-workers 0 \
            --log-level warn >>"$dir/serve.log" 2>&1 &
        pids="$pids $!"
        i=$((i + 1))
    done
    # the job counters, written in the transactions that complete the jobs: polling them costs
    # nothing, where a count(*) of the jobs table every 50 ms took a core from the jobs
    while [ "$(psql "$db" -Atc "SELECT coalesce(sum(completed), 0) FROM job_counts")" -lt "$jobs" ]; do
        sleep 0.05
    done
    t1=$(now_ms)
    # shellcheck disable=SC2086
    kill $pids
    wait
    awk -v n="$n" -v j="$jobs" -v ms="$((t1 - t0))" 'BEGIN { printf "trawl_pg_nodes nodes=%d jobs=%d seconds=%.3f jobs_per_s=%.0f\n", n, j, ms / 1000, j * 1000 / ms }'
}

boss() {
    fresh boss
    node "$here/bench/pgboss/bench_pgboss.mjs" "$dir/c" 5432 boss "$(psql "$pg" -Atc 'select current_user')" \
        --jobs "$jobs" --workers "$1" --batch "$2"
}

for round in 1 2; do
    echo "# round $round"
    "$here/$build/bench/bench_engine" --pg "$pg" --only e2e --jobs "$jobs" 2>/dev/null |
        sed -n 's/^end_to_end/trawl_pg_end_to_end/p'
    boss 2 100
    boss 2 1000
    boss 2 5000
    for n in 1 2 3; do nodes "$n"; done
done
