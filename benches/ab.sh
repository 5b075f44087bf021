#!/usr/bin/env bash
# Caller latency before and after a change, in one run: the latency bench
# (benches/latency.rs, from the current tree) built against two commits and run
# alternately, A B B A ..., so both see the same machine:
#
#   bash benches/ab.sh REV_A REV_B [PAIRS]        # PAIRS: default 3 (6 runs)
#
# LATENCY_CALLS (default 1 000 000) sets the calls per scenario. Prints every run's
# p50 / p99.9 per scenario, then per scenario and commit the median over its runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/probe.sh
. "$here/probe.sh"
[ $# -ge 2 ] || { echo "usage: bash benches/ab.sh REV_A REV_B [PAIRS]" >&2; exit 2; }
probe_init
a=$(git -C "$repo" rev-parse --short "$1^{commit}")
b=$(git -C "$repo" rev-parse --short "$2^{commit}")
pairs=${3:-3}
bin_a=$(probe_build "$a" "$here/latency.rs")
bin_b=$(probe_build "$b" "$here/latency.rs")
results="$work/results"
: > "$results"
for ((i = 0; i < pairs; i++)); do
    if ((i % 2 == 0)); then order="$a $b"; else order="$b $a"; fi
    for c in $order; do
        bin=$bin_a
        [ "$c" = "$b" ] && bin=$bin_b
        echo "== run $((i + 1)), $c" >&2
        # Each report line: NAME n=N p50=X p90=X p99=X p99.9=X p99.99=X max=X ns
        "$bin" | awk -v c="$c" '/ p50=/ { gsub("=", " "); print c, $1, $5, $11 }' | tee -a "$results" >&2
    done
done
echo
printf '%-28s %-10s %10s %10s %6s\n' scenario commit "p50 ns" "p99.9 ns" runs
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    commit, scenario, p50, p999 = line.split()
    runs.setdefault((scenario, commit), []).append((float(p50), float(p999)))
scenarios = list(dict.fromkeys(s for s, _ in runs))
commits = list(dict.fromkeys(c for _, c in runs))
for scenario, commit in ((s, c) for s in scenarios for c in commits):
    v = runs[(scenario, commit)]
    print(f"{scenario:<28} {commit:<10} {statistics.median(x for x, _ in v):>10.0f} {statistics.median(y for _, y in v):>10.0f} {len(v):>6}")
PY
