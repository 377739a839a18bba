#!/usr/bin/env bash
# What makes up the metapipe binary: its size, and the bytes of code and data per module
# (the symbols' sizes from `go tool nm -size` on a build that keeps them), largest first.
#   scripts/binsize.sh STRIPPED DEBUG     (make binsize builds both)
set -euo pipefail
stripped=${1:?usage: binsize.sh STRIPPED_BINARY DEBUG_BINARY}
debug=${2:?usage: binsize.sh STRIPPED_BINARY DEBUG_BINARY}
echo "$stripped: $(stat -c %s "$stripped") bytes (static, stripped); $debug: $(stat -c %s "$debug") bytes (with symbols)"
go tool nm -size -sort size "$debug" | awk '
  $3 ~ /^[TtDdBbRr]$/ {
    name = $4
    sub(/^(type:|go:itab\.|go:link\.)/, "", name); sub(/^\*/, "", name)
    # The package: the path up to the first dot after its last slash.
    slash = 0; for (i = length(name); i > 0; i--) if (substr(name, i, 1) == "/") { slash = i; break }
    rest = substr(name, slash + 1); dot = index(rest, "."); if (dot > 0) rest = substr(rest, 1, dot - 1)
    pkg = substr(name, 1, slash) rest
    n = split(pkg, p, "/")
    if (p[1] !~ /\./) m = "std (Go runtime and standard library)"
    else if (p[1] ~ /^(github\.com|golang\.org|gopkg\.in)$/ && n >= 3) m = p[1] "/" p[2] "/" p[3]
    else if (n >= 2) m = p[1] "/" p[2]
    else m = p[1]
    sum[m] += $2; total += $2
  }
  END {
    for (m in sum) printf "%10d  %5.1f%%  %s\n", sum[m], 100 * sum[m] / total, m
    printf "%10d  100.0%%  (every symbol)\n", total
  }' | sort -rn | awk -v top="${TOP:-16}" 'NR <= top' # reads it all: no SIGPIPE for sort under pipefail
