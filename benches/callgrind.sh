#!/usr/bin/env bash
# Instructions per record, counted by callgrind, for each commit given (default HEAD):
#
#   bash benches/callgrind.sh [REV ...]
#   KIND=span bash benches/callgrind.sh [REV ...]    # per span created and dropped
#
# For each REV, benches/instructions.rs (from the current tree, so every commit runs the
# same program) is built in release against that commit's logkit (benches/probe.sh) and
# run under `valgrind --tool=callgrind --separate-threads=yes` with RECORDS=100000 and
# 300000. Printed per REV: (instructions at 300 k - at 100 k) / 200 k for the whole
# process and for its main thread (the caller: gate, clock, encoding, hand-off), and the
# rest (the writer and file threads). Callgrind counts repeat to a few instructions,
# where wall-clock figures on a shared machine move by tens of percent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=benches/probe.sh
. "$here/probe.sh"
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
probe_init
[ $# -gt 0 ] || set -- HEAD

# Instructions (Ir) of one callgrind output file.
ir() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

printf '%-10s %14s %14s %14s\n' commit "per record" "caller" "other threads"
for rev in "$@"; do
    sha=$(git -C "$repo" rev-parse --short "$rev^{commit}")
    bin=$(probe_build "$rev" "$here/instructions.rs")
    declare -A main_ir=() all_ir=()
    for n in 100000 300000; do
        out="$work/cg-$sha-$n"
        RECORDS=$n valgrind -q --tool=callgrind --separate-threads=yes \
            --callgrind-out-file="$out" "$bin" 2>/dev/null
        main_ir[$n]=$(ir "$out-01")
        total=0
        for f in "$out"-*; do total=$((total + $(ir "$f"))); done
        all_ir[$n]=$total
    done
    awk -v a1="${all_ir[100000]}" -v a3="${all_ir[300000]}" -v m1="${main_ir[100000]}" -v m3="${main_ir[300000]}" -v c="$sha" \
        'BEGIN { t = (a3 - a1) / 200000; m = (m3 - m1) / 200000; printf "%-10s %14.0f %14.0f %14.0f\n", c, t, m, t - m }'
    unset main_ir all_ir
done
