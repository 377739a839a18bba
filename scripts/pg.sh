#!/usr/bin/env bash
# Throwaway or project-local PostgreSQL cluster, run as the `postgres` user when we are root
# (PostgreSQL refuses to run as root).
#   scripts/pg.sh start DIR   start (or reuse) a cluster in DIR on a loopback port; prints its URL. The
#                             port is kept across restarts (DIR/port), so an exported DATABASE_URL
#                             stays valid; a new free one only when another process took it
#   scripts/pg.sh stop DIR    stop the cluster in DIR
#   scripts/pg.sh url DIR     print the URL of the running cluster in DIR
#   scripts/pg.sh remove DIR  stop the cluster in DIR and delete it
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop|url|remove DIR}
dir=${2:?usage: pg.sh start|stop|url DIR}

pgbin=${PG_BIN:-}
if [ -z "$pgbin" ]; then
  if command -v pg_ctl >/dev/null 2>&1; then pgbin=$(dirname "$(command -v pg_ctl)")
  else pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1); fi
fi
[ -x "$pgbin/pg_ctl" ] || { echo "pg.sh: no PostgreSQL server binaries found (install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# port_free PORT: nothing listens on 127.0.0.1:PORT. SO_REUSEADDR, as PostgreSQL binds its own
# socket: the connections the stopped cluster closed stay in TIME_WAIT on its port for a minute,
# which a plain bind takes for "in use" (and the cluster would move to a new port).
port_free() {
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); s.close()
PY
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

url_of() { echo "postgres://postgres@127.0.0.1:$(cat "$1/port")/postgres?sslmode=disable"; }

# The cluster lives in DIR, unless we are root and the postgres user cannot reach DIR (a
# checkout under a private folder): then in a folder of its own under /tmp named after DIR.
resolve() {
  mkdir -p "$1"
  local abs
  abs=$(cd "$1" && pwd)
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$abs" 2>/dev/null || true
    chmod 700 "$abs"
    if ! (cd / && runuser -u postgres -- test -w "$abs" -a -x "$abs") 2>/dev/null; then
      abs=/tmp/metapipe-pg-$(printf %s "$abs" | md5sum | cut -c1-12)
      mkdir -p "$abs" && chown postgres "$abs" && chmod 700 "$abs"
    fi
  fi
  echo "$abs"
}

dir=$(resolve "$dir")

case "$cmd" in
start)
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if as_pg "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then url_of "$dir"; exit 0; fi
  port=$(cat "$dir/port" 2>/dev/null || true)
  if [ -z "$port" ] || ! port_free "$port"; then
    [ -n "$port" ] && echo "pg.sh: port $port is taken by another process: the cluster moves to a new port (DATABASE_URL changes)" >&2
    port=$(free_port)
    echo "$port" >"$dir/port"
  fi
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  url_of "$dir"
  ;;
stop)
  [ -d "$dir/data" ] && as_pg "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
url)
  url_of "$dir"
  ;;
remove)
  [ -d "$dir/data" ] && as_pg "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: pg.sh start|stop|url|remove DIR" >&2; exit 2 ;;
esac
