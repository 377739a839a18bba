#!/usr/bin/env bash
# make test's runner: says what it runs and what the machine lacks, prints each package's result
# as it ends (gotestsum), and ends with every skipped test and the reason it gave.
#   scripts/test.sh GO_TEST_ARGS...     (under scripts/with-test-db.sh, which sets TEST_DATABASE_URL)
set -euo pipefail
GO=${GO:-go}
GOTESTSUM=${GOTESTSUM:-gotest.tools/gotestsum@v1.13.0}
pkgs=$($GO list ./... | wc -l)
have() { command -v "$1" 2>/dev/null; }
chromium=$(have chromium || have chromium-browser || have google-chrome || true)
podman=$(have podman || true)
echo "make test: go test $* over $pkgs packages, on PostgreSQL ${TEST_DATABASE_URL:-(none: database tests skip)}"
if [ -n "$chromium" ]; then echo "  Chromium $chromium: the browser test of the run's page runs"
else echo "  no Chromium: api/browser_test.go is skipped (apt-get install chromium; under CI=true it fails)"; fi
if [ -n "$podman" ]; then echo "  Podman $podman: the container image test (internal/shiptest TestImage) builds and runs make image"
else echo "  no Podman: the container image test is skipped (apt-get install podman runc; under CI=true it fails)"; fi
case " $* " in *" -short "*) echo "  -short: the end-to-end cases skip";; esac
echo "  each package's result as it ends (the slowest, cmd/metapipe, takes minutes); then the skipped tests"
if ! $GO run "$GOTESTSUM" --version >/dev/null 2>&1; then
  echo "  (gotestsum not available, e.g. offline: plain go test, no skip summary)"
  exec $GO test "$@"
fi
exec $GO run "$GOTESTSUM" --format pkgname-and-test-fails --format-icons text --format-hide-empty-pkg -- "$@"
