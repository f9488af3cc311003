#!/bin/sh
# Table bloat with retention: JOBS no-op jobs through one `trawl serve` that deletes finished jobs
# KEEP ms after they ended (--job-retention), on PostgreSQL (a private cluster with fsync=on, as in
# bench_pg.sh; autovacuum at its defaults) and on SQLite. Jobs are enqueued in rounds of ROUND
# while the serve runs them and prunes; after each round the tables' sizes are printed, so the
# figures show whether the space of deleted jobs is reused (sizes level off) or not (they grow
# with the jobs put through). Prints one line per round and store:
#   retention store=S round=R through=N live=L jobs_mb=.. events_mb=.. total_mb=.. [dead=..]
# (jobs_mb and events_mb: the table with its indexes; total_mb: the whole database; dead:
# PostgreSQL's count of dead rows in jobs not yet vacuumed). PostgreSQL runs once per
# autovacuum_naptime in NAPTIMES (how often autovacuum looks for tables to vacuum: the server's
# setting, 1min by default), each on a new database.
# usage: bench/bench_retention.sh [BUILD] [JOBS] [ROUND] [KEEP] [NAPTIMES]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
jobs=${2:-1000000}
round=${3:-50000}
keep=${4:-5000}
naptimes=${5:-1min 10s}
trawl="$here/$build/trawl"
dir=$(mktemp -d /tmp/trawl-bench-ret-XXXXXX)
chmod 755 "$dir"
spid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; sh "$here/scripts/pg-cluster.sh" stop "$dir/c"; rm -rf "$dir"' EXIT
pg=$(sh "$here/scripts/pg-cluster.sh" start "$dir/c" fsync)
echo "# bench_retention jobs=$jobs round=$round keep_ms=$keep fsync=$(psql "$pg" -Atc 'show fsync') synchronous_commit=$(psql "$pg" -Atc 'show synchronous_commit')"

mb() {
    awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'
}

# sizes DB STORE ROUND THROUGH: one line of figures
sizes_pg() {
    q="SELECT pg_total_relation_size('jobs'), pg_total_relation_size('job_events'),
              pg_database_size(current_database()),
              (SELECT count(*) FROM jobs), (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs')"
    psql "$1" -AtF' ' -c "$q" | while read -r j ev tot live dead; do
        echo "retention store=postgres naptime=$nap round=$2 through=$3 live=$live jobs_mb=$(mb "$j") events_mb=$(mb "$ev") total_mb=$(mb "$tot") dead=$dead"
    done
}

sizes_sqlite() {
    q="SELECT (SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'jobs')),
              (SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'job_events')),
              (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()),
              (SELECT count(*) FROM jobs), (SELECT freelist_count FROM pragma_freelist_count())"
    sqlite3 -separator ' ' "$1" "$q" | while read -r j ev tot live free; do
        echo "retention store=sqlite round=$2 through=$3 live=$live jobs_mb=$(mb "$j") events_mb=$(mb "$ev") total_mb=$(mb "$tot") free_pages=$free"
    done
}

# run STORE DB: the rounds through one serve
run() {
    store=$1
    db=$2
    "$trawl" serve --db "$db" --listen 127.0.0.1:0 --no-auth --crawl-workers 0 --workers 4 \
        --job-retention "$keep" --log-level warn >>"$dir/serve.log" 2>&1 &
    spid=$!
    done_=0
    r=0
    while [ "$done_" -lt "$jobs" ]; do
        r=$((r + 1))
        "$trawl" enqueue --db "$db" --count "$round" noop >/dev/null
        done_=$((done_ + round))
        # the round is through when nothing is pending or processing
        while :; do
            if [ "$store" = postgres ]; then
                left=$(psql "$db" -Atc "SELECT count(*) FROM jobs WHERE status IN ('pending', 'processing')")
            else
                left=$(sqlite3 "$db" "SELECT count(*) FROM jobs WHERE status IN ('pending', 'processing')")
            fi
            [ "$left" -eq 0 ] && break
            sleep 0.2
        done
        if [ "$store" = postgres ]; then sizes_pg "$db" "$r" "$done_"; else sizes_sqlite "$db" "$r" "$done_"; fi
    done
    # once the last jobs are past their retention and deleted
    sleep $((keep / 1000 + 3))
    if [ "$store" = postgres ]; then sizes_pg "$db" end "$done_"; else sizes_sqlite "$db" end "$done_"; fi
    kill "$spid"
    wait "$spid" || true
    spid=""
}

for nap in $naptimes; do
    psql "$pg" -qc "ALTER SYSTEM SET autovacuum_naptime = '$nap'" -c "SELECT pg_reload_conf()" >/dev/null
    psql "$pg" -qc "DROP DATABASE IF EXISTS ret" -c "CREATE DATABASE ret" 2>/dev/null
    run postgres "$pg dbname=ret"
done
run sqlite "$dir/ret.db"
