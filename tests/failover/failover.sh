#!/bin/sh
# The failover test: a real `trawl serve` on a PostgreSQL primary A with a synchronous streaming
# standby B, its --db naming both (host=A,B port=PA,PB target_session_attrs=read-write), while
# two enqueuers POST batches of jobs (noop, and a short sleep that checkpoints) and note every id
# that was acknowledged (a 2xx answer). Midway B's WAL receiver is stopped for 1 s (A's commits
# then wait for B: none may be acknowledged), and A is killed as a crash would (immediate
# shutdown). With no primary, /readyz must answer 503 and an enqueue must fail within 10 s with a
# 503 that names PostgreSQL. Then B is promoted, and:
#   - /readyz turns 200 again within 30 s, and enqueues succeed (both times are printed);
#   - every answer was a 2xx or a 503 naming PostgreSQL, within 10 s; no 2xx came while B
#     received nothing or while there was no primary;
#   - serve's listening connection (LISTEN) is back, on B;
#   - every job ends completed, on B;
#   - every acknowledged id is on B (nothing acknowledged lost) and no job is half-written: each
#     job's history is one unbroken chain from pending (seq 1, 2, ...; each change starts where
#     the last ended; as many events as its event_seq; completed once, as the last), no event
#     without its job, and the job counters (written in the same transactions) match the rows;
#   - a second serve started now, with A still down, finds B and is ready;
#   - both serves stop with SIGTERM and exit 0.
# With asynchronous replication (synchronous_standby_names = '') it fails: acknowledged jobs are
# lost. Every loop is bounded in count and time; the clusters, the serves and the temporary
# files go at the end whatever happens (a trap).
# usage: failover.sh TRAWL     (FAILOVER_KEEP=1 keeps the temporary folder)
set -u
trawl=${1:-}
[ -n "$trawl" ] && [ -x "$trawl" ] || {
    echo "usage: failover.sh TRAWL (the trawl binary)" >&2
    exit 2
}
case $trawl in /*) ;; *) trawl=$(pwd)/$trawl ;; esac
here=$(cd "$(dirname "$0")/../.." && pwd)
cluster="sh $here/scripts/pg-cluster.sh"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
psql_bin=$bin/psql
[ -x "$psql_bin" ] && command -v curl >/dev/null || {
    echo "failover: FAIL: needs PostgreSQL (psql, pg_basebackup) and curl" >&2
    exit 1
}
LOADERS=2
BATCH=10
nl='
'
t_start=$(date +%s%3N)
READY_BOUND_S=30
ANSWER_BOUND_S=10

tmp=$(mktemp -d /tmp/trawl-fo-XXXXXX)
chmod 755 "$tmp" # the clusters' folders in it belong to the postgres user when run as root
serve_pid=
serve2_pid=
loader_pids=
stopped=
cleanup() {
    touch "$tmp/stop" 2>/dev/null
    [ -n "$stopped" ] && kill -CONT "$stopped" 2>/dev/null
    for p in $serve_pid $serve2_pid $loader_pids; do
        kill "$p" 2>/dev/null
    done
    # SIGTERM first; what has not gone within 15 s is killed
    for p in $serve_pid $serve2_pid $loader_pids; do
        i=0
        while alive "$p" && [ "$i" -lt 150 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$p" 2>/dev/null
    done
    $cluster stop "$tmp/a" 2>/dev/null
    $cluster stop "$tmp/b" 2>/dev/null
    if [ "${FAILOVER_KEEP:-0}" = 1 ]; then
        echo "failover: kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
    t=$(($(now_ms) - t_start))
    echo "failover: [$((t / 1000)).$((t % 1000 / 100))s] $*"
}
fail() {
    echo "failover: FAIL: $*"
    if [ -f "$tmp/serve.log" ]; then
        echo "failover: the last lines of serve's log:"
        tail -n 20 "$tmp/serve.log" | sed 's/^/    /'
    fi
    exit 1
}
now_ms() {
    date +%s%3N
}
# process $1 runs (a zombie, exited but not yet waited for, does not)
alive() {
    kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}
# psql as the clusters' owner, on the standby (the new primary once promoted): one value a line
q() {
    as=
    [ "$(id -u)" -eq 0 ] && as="runuser -u postgres --"
    $as "$psql_bin" -X -h "$tmp/b" -p 5433 -d postgres -At -v ON_ERROR_STOP=1 "$@"
}
# the HTTP status of GET /readyz (000: no answer within the bound); its body in $tmp/readyz
readyz() {
    curl -s -o "$tmp/readyz" -w '%{http_code}' --max-time "$ANSWER_BOUND_S" "$url/readyz"
}
# wait up to $2 s for serve's standard output $1 to say its port; prints the port
port_of() {
    i=0
    while [ "$i" -lt $(($2 * 10)) ]; do
        p=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$1" 2>/dev/null | head -n 1)
        [ -n "$p" ] && {
            echo "$p"
            return 0
        }
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# the acknowledged requests (each enqueued BATCH jobs), of all that started at or after $1 ms
acked() {
    cat "$tmp"/load.*.log 2>/dev/null |
        awk -v t="${1:-0}" '$2 ~ /^2/ && $1 >= t { n++ } END { print n + 0 }'
}

# One enqueuer: POST /v1/jobs with a batch of BATCH jobs (one transaction) until $tmp/stop
# appears (or 5000 requests, or 100 s), each answer a line "start_ms http_code seconds body"
# (code 000: no answer within ANSWER_BOUND_S). Two processes a request: the machine may be busy.
loader() {
    log=$tmp/load.$1.log
    : >"$log"
    t_end=$(($(now_ms) + 100000))
    n=0
    while [ ! -f "$tmp/stop" ] && [ "$n" -lt 5000 ]; do
        t0=$(now_ms)
        [ "$t0" -lt "$t_end" ] || break
        out=$(curl -s -w ' %{http_code} %{time_total}' --max-time "$ANSWER_BOUND_S" -X POST \
            -H 'Content-Type: application/json' -d "$batch" "$url/v1/jobs")
        secs=${out##* }
        out=${out% *}
        code=${out##* }
        out=${out% *}
        echo "$t0 $code $secs ${out%"$nl"}" >>"$log" # the body ends in a newline
        case $code in
        2*) ;;
        *) sleep 0.05 ;; # as a client told Retry-After would, but quicker
        esac
        n=$((n + 1))
    done
}

# ---- the clusters ----
$cluster primary "$tmp/a" >"$tmp/a.conninfo" || fail "the primary did not start"
$cluster standby "$tmp/b" "$tmp/a" 5433 >"$tmp/b.conninfo" || fail "the standby did not start"
user=$(sed -n 's/.* user=\([^ ]*\) .*/\1/p' "$tmp/a.conninfo")
db="host=$tmp/a,$tmp/b port=5432,5433 user=$user dbname=postgres target_session_attrs=read-write"
say "primary A on $tmp/a:5432, synchronous standby B on $tmp/b:5433 (streaming)"
say "--db \"$db\""

# ---- serve, and the load ----
# a short lease and a quick sweep: a job whose completion was lost with A is run again soon
"$trawl" serve --db "$db" --listen 127.0.0.1:0 --no-auth --workers 8 --crawl-workers 0 \
    --type noop.lease_ms=3000 --type sleep.lease_ms=3000 --sweep 500 \
    >"$tmp/serve.out" 2>"$tmp/serve.log" &
serve_pid=$!
port=$(port_of "$tmp/serve.out" 30) || fail "serve did not say its port within 30 s"
url=http://127.0.0.1:$port
[ "$(readyz)" = 200 ] || fail "/readyz is not ready before the failover: $(cat "$tmp/readyz")"
say "serve (pid $serve_pid) on port $port, ready"
# a batch: one sleep job (200 ms, a checkpoint every 50 ms: some are running when A dies), the
# rest noop
batch='{"jobs":[{"type":"sleep","args":{"ms":200,"step_ms":50}}'
k=1
while [ "$k" -lt "$BATCH" ]; do
    batch="$batch,{\"type\":\"noop\"}"
    k=$((k + 1))
done
batch="$batch]}"
k=0
while [ "$k" -lt "$LOADERS" ]; do
    loader "$k" &
    loader_pids="$loader_pids $!"
    k=$((k + 1))
done
# load for 3 s (and 10 acknowledged requests at least) before the crash
t_load=$(now_ms)
i=0
while [ $(($(now_ms) - t_load)) -lt 3000 ] || [ "$(acked)" -lt 10 ]; do
    i=$((i + 1))
    [ "$i" -le 300 ] || fail "fewer than 10 enqueues acknowledged within 30 s ($(acked))"
    sleep 0.1
done
say "$LOADERS enqueuers of $BATCH jobs a request (1 sleep, the rest noop); $(acked) requests" \
    "acknowledged so far"

# ---- B falls behind, then A dies ----
# B's WAL receiver stopped for 1 s: A's commits now wait for B, so nothing may be acknowledged
# (with asynchronous replication, what A acknowledges now is not on B, and is lost below)
receiver=$(q -c "SELECT pid FROM pg_stat_wal_receiver")
[ -n "$receiver" ] || fail "B has no WAL receiver"
kill -STOP "$receiver" || fail "cannot stop B's WAL receiver"
stopped=$receiver
t_stop=$(now_ms)
sleep 1
t_crash0=$(now_ms)
$cluster crash "$tmp/a" || fail "cannot crash the primary"
t_crash1=$(now_ms)
kill -CONT "$receiver"
stopped=
say "B's WAL receiver stopped for $((t_crash0 - t_stop)) ms, then primary A killed (immediate" \
    "shutdown); $(acked) requests acknowledged by then"
# no primary now: /readyz must say so every time it is asked
i=0
while [ "$i" -lt 5 ]; do
    t0=$(now_ms)
    code=$(readyz)
    t1=$(now_ms)
    [ "$code" = 503 ] ||
        fail "/readyz answered $code (not 503) with no primary: $(cat "$tmp/readyz")"
    [ "$i" -eq 0 ] && say "/readyz: 503 in $((t1 - t0)) ms: $(cat "$tmp/readyz")"
    i=$((i + 1))
    sleep 0.1
done
say "/readyz answered 503 5 times in a row"
t0=$(now_ms)
code=$(curl -s -o "$tmp/enq" -w '%{http_code}' --max-time "$ANSWER_BOUND_S" -X POST \
    -H 'Content-Type: application/json' -d '{"type":"noop"}' "$url/v1/jobs")
t1=$(now_ms)
[ "$code" = 503 ] || fail "an enqueue with no primary answered $code (not 503): $(cat "$tmp/enq")"
grep -q PostgreSQL "$tmp/enq" ||
    fail "the enqueue's error does not name PostgreSQL: $(cat "$tmp/enq")"
say "an enqueue with no primary: 503 in $((t1 - t0)) ms"

# ---- B takes over ----
t_promote0=$(now_ms)
$cluster promote "$tmp/b" || fail "cannot promote the standby"
t_promote1=$(now_ms)
say "standby B promoted in $((t_promote1 - t_promote0)) ms; there was no primary for" \
    "$((t_promote1 - t_crash0)) ms"
i=0
while :; do
    code=$(readyz)
    [ "$code" = 200 ] && break
    i=$((i + 1))
    [ "$i" -le $((READY_BOUND_S * 10)) ] &&
        [ $(($(now_ms) - t_promote1)) -lt $((READY_BOUND_S * 1000)) ] ||
        fail "/readyz not ready $READY_BOUND_S s after the promotion: $code $(cat "$tmp/readyz")"
    sleep 0.1
done
t_ready=$(now_ms)
say "/readyz ready again $((t_ready - t_promote1)) ms after the promotion"
# load for 3 s more (and 10 acknowledged requests at least) on B
i=0
while [ $(($(now_ms) - t_ready)) -lt 3000 ] || [ "$(acked "$t_promote1")" -lt 10 ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || fail "fewer than 10 enqueues acknowledged within 20 s of the promotion"
    sleep 0.1
done
touch "$tmp/stop"
for p in $loader_pids; do
    wait "$p"
done
loader_pids=

# ---- what the enqueuers saw ----
# load.all: start_ms end_ms code body
cat "$tmp"/load.*.log | sort -n |
    awk '{ t = $2; $2 = sprintf("%.0f", $1 + $3 * 1000); $3 = t; print }' >"$tmp/load.all"
total=$(wc -l <"$tmp/load.all")
n_acked=$(awk '$3 ~ /^2/' "$tmp/load.all" | wc -l)
n_503=$(awk '$3 == 503' "$tmp/load.all" | wc -l)
other=$(awk '$3 !~ /^2/ && $3 != 503 { print $3 }' "$tmp/load.all" | sort | uniq -c | tr '\n' ' ')
say "$total requests: $n_acked acknowledged, $n_503 answered 503${other:+, others: $other}"
awk '$3 == 503' "$tmp/load.all" | head -n 1 | cut -d ' ' -f 4- | cut -c 1-400 | sed 's/^/    /'
[ -z "$other" ] ||
    fail "answers other than 2xx and 503 (000: none within ${ANSWER_BOUND_S} s): $other"
unclear=$(awk '$3 == 503 && !/PostgreSQL/' "$tmp/load.all" | wc -l)
[ "$unclear" -eq 0 ] || fail "$unclear answers 503 do not name PostgreSQL"
# a 2xx for a request made after A was down and answered before B was a primary is impossible
ghost=$(awk -v a="$t_crash1" -v b="$t_promote0" '$3 ~ /^2/ && $1 >= a && $2 <= b' "$tmp/load.all" |
    wc -l)
[ "$ghost" -eq 0 ] || fail "$ghost enqueues acknowledged while there was no primary"
# nor one while B received nothing (a commit B had flushed just before may end just after)
behind=$(awk -v a=$((t_stop + 200)) -v b="$t_crash0" '$3 ~ /^2/ && $2 >= a && $2 <= b' \
    "$tmp/load.all" | wc -l)
say "enqueues acknowledged while B's WAL receiver was stopped: $behind"
[ "$behind" -eq 0 ] || fail "$behind enqueues acknowledged while B received nothing (asynchronous?)"
slowest=$(awk '{ d = $2 - $1; if (d > m) m = d } END { printf "%d\n", m }' "$tmp/load.all")
say "the slowest answer took $slowest ms"
first_back=$(awk -v b="$t_promote1" '$3 ~ /^2/ && $1 >= b { print $2; exit }' "$tmp/load.all")
last_before=$(awk -v a="$t_crash0" '$3 ~ /^2/ && $2 <= a { t = $2 } END { print t }' \
    "$tmp/load.all")
[ -n "$first_back" ] || fail "no enqueue acknowledged after the promotion"
[ -n "$last_before" ] || last_before=$t_crash0
say "the last acknowledged enqueue before the crash ended $((t_crash0 - last_before)) ms before" \
    "it, the first after the promotion $((first_back - t_promote1)) ms after"
awk '$3 ~ /^2/' "$tmp/load.all" | grep -o '"id":"[0-9a-f-]*","existed":false' |
    sed 's/"id":"\([0-9a-f-]*\)".*/\1/' | sort -u >"$tmp/acked.ids"
chmod 644 "$tmp/acked.ids"
n_ids=$(wc -l <"$tmp/acked.ids")
[ "$n_ids" -eq $((n_acked * BATCH)) ] ||
    fail "$n_acked requests acknowledged, $n_ids new job ids in their answers (not $BATCH each)"

# ---- the listener is back, on B ----
i=0
listeners="SELECT count(*) FROM pg_stat_activity WHERE application_name = 'trawl listener'"
until [ "$(q -c "$listeners")" = 1 ]; do
    i=$((i + 1))
    [ "$i" -le 100 ] || fail "serve's LISTEN connection is not on the new primary within 10 s"
    sleep 0.1
done
say "serve's LISTEN connection is on the new primary"

# ---- on B: nothing acknowledged lost, nothing half-written, everything done ----
i=0
while :; do
    left=$(q -c "SELECT count(*) FROM jobs WHERE status <> 'completed'") || fail "cannot read B"
    [ "$left" = 0 ] && break
    i=$((i + 1))
    [ "$i" -le 300 ] || fail "$left jobs not completed 30 s after the load ended: $(q -c \
        "SELECT status, count(*) FROM jobs GROUP BY status" | tr '\n' ' ')"
    sleep 0.1
done
say "every job on B is completed"
cat >"$tmp/check.sql" <<SQL
CREATE TEMP TABLE acked (id text COLLATE "C" PRIMARY KEY);
\\copy acked FROM '$tmp/acked.ids'
SELECT 'jobs', count(*) FROM jobs;
SELECT 'acked', count(*) FROM acked;
SELECT 'lost', count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = a.id);
-- a job's history: seq 1, 2, ... from pending, each change from where the last one ended, the
-- last one at the job's status, as many as its event_seq, completed once
WITH e AS (SELECT job_id, seq, from_status, to_status,
                  row_number() OVER w AS n, lag(to_status) OVER w AS before
           FROM job_events WINDOW w AS (PARTITION BY job_id ORDER BY seq))
SELECT 'broken_history', count(DISTINCT job_id) FROM e
    WHERE seq <> n OR (n = 1 AND from_status <> 'pending') OR (n > 1 AND from_status <> before);
SELECT 'events_not_event_seq', count(*) FROM jobs j
    WHERE j.event_seq <> (SELECT count(*) FROM job_events e WHERE e.job_id = j.id);
SELECT 'last_event_not_status', count(*) FROM jobs j
    WHERE j.status IS DISTINCT FROM (SELECT e.to_status FROM job_events e WHERE e.job_id = j.id
                                     ORDER BY e.seq DESC LIMIT 1);
SELECT 'completed_not_once', count(*) FROM jobs j
    WHERE (SELECT count(*) FROM job_events e WHERE e.job_id = j.id AND e.to_status = 'completed')
          <> 1;
SELECT 'orphan_events', count(*) FROM job_events e
    WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id);
-- the counters, written in the same transactions as the jobs
SELECT 'counts_off', count(*) FROM job_counts c FULL JOIN (SELECT workspace, type,
        count(*) FILTER (WHERE status = 'pending') AS pending,
        count(*) FILTER (WHERE status = 'processing') AS processing,
        count(*) FILTER (WHERE status = 'retrying') AS retrying,
        count(*) FILTER (WHERE status = 'completed') AS completed,
        count(*) FILTER (WHERE status = 'failed') AS failed,
        count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE status = 'waiting') AS waiting,
        count(*) FILTER (WHERE status = 'blocked') AS blocked
    FROM jobs GROUP BY workspace, type) j USING (workspace, type)
    WHERE (coalesce(c.pending, 0), coalesce(c.processing, 0), coalesce(c.retrying, 0),
           coalesce(c.completed, 0), coalesce(c.failed, 0), coalesce(c.cancelled, 0),
           coalesce(c.waiting, 0), coalesce(c.blocked, 0))
          <> (coalesce(j.pending, 0), coalesce(j.processing, 0), coalesce(j.retrying, 0),
              coalesce(j.completed, 0), coalesce(j.failed, 0), coalesce(j.cancelled, 0),
              coalesce(j.waiting, 0), coalesce(j.blocked, 0));
SELECT 'not_completed', count(*) FROM jobs WHERE status <> 'completed';
SELECT 'run_again', count(*) FROM jobs WHERE attempt > 1;
SQL
chmod 644 "$tmp/check.sql"
q -q -F ' ' -f "$tmp/check.sql" >"$tmp/check.out" 2>&1 ||
    fail "the checks on B failed: $(cat "$tmp/check.out")"
val() {
    awk -v k="$1" '$1 == k { print $2 }' "$tmp/check.out"
}
say "on B: $(val jobs) jobs; of the $(val acked) acknowledged, lost: $(val lost)"
say "on B: broken histories $(val broken_history), events not matching event_seq" \
    "$(val events_not_event_seq), last event not the status $(val last_event_not_status)," \
    "completed not once $(val completed_not_once), events of no job $(val orphan_events)," \
    "counters off $(val counts_off), not completed $(val not_completed); run more than once" \
    "(an attempt lost with A): $(val run_again)"
[ "$(val acked)" = "$n_ids" ] || fail "$n_ids acknowledged ids, $(val acked) read back"
for k in lost broken_history events_not_event_seq last_event_not_status completed_not_once \
    orphan_events counts_off not_completed; do
    [ "$(val $k)" = 0 ] || fail "$k: $(val $k) (expected 0)"
done
# a job nobody was told about: its commit's answer was lost with A (or it was the one enqueue
# made without a primary, had its commit landed): at most a batch per unacknowledged request
extra=$(($(val jobs) - n_ids))
[ "$extra" -ge 0 ] && [ "$extra" -le $(((total - n_acked) * BATCH + 1)) ] ||
    fail "$(val jobs) jobs on B for $total requests, $n_ids jobs acknowledged"
say "$extra jobs on B were committed but not acknowledged (their answer was lost with A)"

# ---- a node started now, with A still down, finds B ----
"$trawl" serve --db "$db" --listen 127.0.0.1:0 --no-auth --workers 1 --crawl-workers 0 \
    >"$tmp/serve2.out" 2>"$tmp/serve2.log" &
serve2_pid=$!
port2=$(port_of "$tmp/serve2.out" 30) ||
    fail "a serve started with A down did not say its port in 30 s: $(tail -n 3 "$tmp/serve2.log")"
code=$(curl -s -o "$tmp/readyz2" -w '%{http_code}' --max-time "$ANSWER_BOUND_S" \
    "http://127.0.0.1:$port2/readyz")
[ "$code" = 200 ] || fail "the second serve's /readyz answered $code: $(cat "$tmp/readyz2")"
say "a serve started with A down found B and is ready"

# ---- both stop cleanly ----
for p in $serve2_pid $serve_pid; do
    kill -TERM "$p"
    i=0
    while alive "$p" && [ "$i" -lt 150 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    alive "$p" && fail "serve $p did not stop within 15 s of SIGTERM"
    wait "$p"
    rc=$?
    [ "$rc" -eq 0 ] || fail "serve $p exited $rc after SIGTERM"
done
serve_pid=
serve2_pid=
say "both serves stopped with SIGTERM and exited 0"
say "ok: ready again $((t_ready - t_promote1)) ms after the promotion; $n_ids jobs acknowledged," \
    "0 lost, all completed"
