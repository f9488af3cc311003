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
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
    echo "usage: pg-cluster.sh start|restart|stop DIR [fsync]" >&2
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
*)
    echo "pg-cluster: unknown command $cmd" >&2
    exit 2
    ;;
esac
