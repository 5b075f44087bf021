#!/usr/bin/env bash
# Peak memory of `logkit slow` against the number of spans: writes N END records
# (3 span names, dur_ms log-uniform over 0.01 ms .. 10 s, 1 % failed) to a file in
# $TMPDIR, then runs each given logkit binary on the first 1 M and on all of them
# under GNU time, ABBA order. Usage: cli/benches/slow_memory.sh [N] BINARY...
# e.g. build two commits with `cargo build --release -p logkit-cli` and copy
# target/release/logkit aside after each.
set -euo pipefail
n=${1:-4000000}; shift
[ $# -ge 1 ] || { echo "usage: $0 [N] BINARY..." >&2; exit 1; }
dir=${TMPDIR:-/tmp}/logkit-slow-memory
mkdir -p "$dir"
if [ ! -s "$dir/ends-$n.log" ]; then
  python3 - "$n" "$dir/ends-$n.log" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
random.seed(5)
names = ["handle", "db.query", "cache.get"]
with open(path, "w") as f:
    for i in range(n):
        ms = round(10 ** (-2 + 6 * random.random()), 3)
        st = "error" if i % 100 == 0 else "success"
        f.write('{"timestamp":"2026-11-24T07:%02d:%02d.%06dZ","level":"info","event":"END",'
                '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",'
                '"span":"%s","dur_ms":%s,"status":"%s","target":"app"}\n'
                % ((i // 60000000) % 60, (i // 1000000) % 60, i % 1000000, names[i % 3], ms, st))
PY
  head -n 1000000 "$dir/ends-$n.log" > "$dir/ends-1M.log"
fi
ls -l "$dir/ends-1M.log" "$dir/ends-$n.log"
order=("$@")
for ((i = $# - 1; i >= 0; i--)); do order+=("${@:i+1:1}"); done
for f in ends-1M.log "ends-$n.log"; do
  for b in "${order[@]}"; do
    /usr/bin/time -f "$b $f: %e s, max RSS %M KB" "$b" slow "$dir/$f" > /dev/null
  done
done
