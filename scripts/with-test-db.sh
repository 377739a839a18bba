#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL set: the caller's, or a throwaway PostgreSQL cluster
# created in a temporary folder, stopped and removed when the command ends.
set -euo pipefail
if [ -n "${TEST_DATABASE_URL:-}" ]; then exec "$@"; fi
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/metapipe-testdb.XXXXXX)
chmod 755 "$tmp"
cleanup() { "$here/pg.sh" remove "$tmp/pg"; rm -rf "$tmp"; }
trap cleanup EXIT
TEST_DATABASE_URL=$("$here/pg.sh" start "$tmp/pg")
export TEST_DATABASE_URL
echo "test database: $TEST_DATABASE_URL" >&2
"$@"
