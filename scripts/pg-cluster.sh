#!/bin/sh
# A private PostgreSQL cluster for the tests and benchmarks: initdb into DIR, started on a Unix
# socket in DIR only (no TCP port), stopped and removed at the end. Nothing of the machine's own
# clusters is touched. initdb refuses to run as root, so as root the cluster belongs to the
# postgres user (made by Debian's postgresql package).
#   pg-cluster.sh start DIR [fsync]   prints the libpq keyword string of the cluster's postgres
#                                     database; fsync: durable (fsync=on, synchronous_commit=on),
#                                     else fsync=off for speed (tests)
#   pg-cluster.sh restart DIR         kills it as a crash would (immediate shutdown: no
#                                     checkpoint) and starts it again, with the same settings
#   pg-cluster.sh stop DIR            stops it (fast shutdown) and removes DIR
# A primary and a streaming standby, for the failover test (each on its own socket DIR and port):
#   pg-cluster.sh primary DIR         like start (port 5432, fsync=off), but a commit is
#                                     acknowledged only once a synchronous standby has it
#                                     (synchronous_standby_names = '*', synchronous_commit = on):
#                                     until the standby below streams, every commit waits
#   pg-cluster.sh standby DIR PRIMARY_DIR [PORT]   a copy of the primary (pg_basebackup -R, with a
#                                     replication slot) started as its hot standby on PORT (5433),
#                                     once the primary has it as synchronous; prints its libpq
#                                     keyword string
#   pg-cluster.sh crash DIR           kills it as a crash would (immediate shutdown), no restart
#   pg-cluster.sh promote DIR         makes a standby the primary, and waits until it is
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
    echo "usage: pg-cluster.sh start|restart|stop|primary|crash|promote DIR [fsync]" >&2
    echo "       pg-cluster.sh standby DIR PRIMARY_DIR [PORT]" >&2
    exit 2
}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || {
    echo "pg-cluster: PostgreSQL is not installed (apt-get install postgresql)" >&2
    exit 1
}
as() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    user=$(as id -un)
    as "$bin/initdb" -D "$dir/data" -U "$user" --auth=trust --locale=C.UTF-8 -E UTF8 \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    if [ "${3:-}" = fsync ]; then
        sync="-c fsync=on -c synchronous_commit=on"
    else
        sync="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    echo "-c listen_addresses='' -k $dir -p 5432 -c max_connections=200 $sync" >"$dir/options"
    as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$(cat "$dir/options")" \
        >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    echo "host=$dir port=5432 user=$user dbname=postgres"
    ;;
restart)
    as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$(cat "$dir/options")" \
        >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    ;;
stop)
    [ -d "$dir/data" ] && as "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
primary)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    user=$(as id -un)
    as "$bin/initdb" -D "$dir/data" -U "$user" --auth=trust --locale=C.UTF-8 -E UTF8 \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # fsync=off for speed: here the standby, not the disk, holds what was acknowledged
    echo "-c listen_addresses='' -k $dir -p 5432 -c max_connections=200 -c fsync=off" \
        "-c full_page_writes=off -c synchronous_commit=on -c synchronous_standby_names='*'" \
        >"$dir/options"
    as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$(cat "$dir/options")" \
        >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    echo "host=$dir port=5432 user=$user dbname=postgres"
    ;;
standby)
    primary=${3:-}
    port=${4:-5433}
    [ -f "$primary/options" ] || {
        echo "pg-cluster: standby: $primary is not a cluster made here" >&2
        exit 2
    }
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    user=$(as id -un)
    as "$bin/pg_basebackup" -h "$primary" -p 5432 -U "$user" -D "$dir/data" -R -X stream -C \
        -S "standby_$port" -c fast >"$dir/basebackup.log" 2>&1 || {
        cat "$dir/basebackup.log" >&2
        exit 1
    }
    # no synchronous_standby_names of its own: once promoted, its commits wait for nobody
    echo "-c listen_addresses='' -k $dir -p $port -c max_connections=200 -c fsync=off" \
        "-c full_page_writes=off -c synchronous_commit=on -c hot_standby=on" >"$dir/options"
    as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$(cat "$dir/options")" \
        >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    sql="SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'"
    i=0
    until [ "$(as "$bin/psql" -h "$primary" -p 5432 -U "$user" -d postgres -Atc "$sql" \
        2>/dev/null)" = 1 ]; do
        i=$((i + 1))
        [ "$i" -le 300 ] || {
            echo "pg-cluster: standby $dir: not streaming synchronously from $primary in 30 s" >&2
            cat "$dir/server.log" >&2
            exit 1
        }
        sleep 0.1
    done
    echo "host=$dir port=$port user=$user dbname=postgres"
    ;;
crash)
    as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
promote)
    as "$bin/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null
    ;;
*)
    echo "pg-cluster: unknown command $cmd" >&2
    exit 2
    ;;
esac
