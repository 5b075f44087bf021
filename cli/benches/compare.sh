#!/usr/bin/env bash
# The reader against jq and lnav on one large run.log written by logkit itself
# (PERF.md, "The reader"). Usage: cli/benches/compare.sh [SIZE_MIB] (default 1024).
# Needs jq and lnav (Debian: apt-get install -y jq lnav). Each command runs RUNS times
# with the page cache warm; the script prints every wall time and the median.
set -euo pipefail
cd "$(dirname "$0")/../.."
mib=${1:-1024}
runs=${RUNS:-3}
dir=${BENCH_DIR:-target/reader-bench}
mkdir -p "$dir"
log="$dir/run.log"

cargo build --release -p logkit-cli --example genlog --bin logkit
if [ ! -f "$log" ] || [ "$(stat -c %s "$log")" -lt $((mib << 20)) ]; then
    rm -f "$log"
    LOG_FILE="$log" LOG_ROTATE_MB=0 LOG_CONSOLE=off LOG_PROFILE=prod LOG_LEVEL=debug \
        target/release/examples/genlog "$mib"
fi
size=$(stat -c %s "$log")
cat "$log" > /dev/null # warm the page cache
logkit=target/release/logkit

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "rustc: $(rustc --version); commit: $(git rev-parse --short HEAD)"

# lnav reads the format from its home; keep it out of the user's.
export HOME="$dir/home"
mkdir -p "$HOME"
lnav -i cli/benches/logkit.lnav.json >/dev/null 2>&1 || true

# name | command; each prints one count, checked equal per task.
tasks=(
    "errors logkit|$logkit errors --json $log | wc -l"
    "errors jq|jq -c 'select(.level==\"error\" or .status==\"error\")' $log | wc -l"
    "errors lnav|lnav -n -c ';SELECT count(*) FROM logkit WHERE log_level = \"error\" OR status = \"error\"' $log | tail -1"
    "stats logkit|$logkit stats --json $log | jq .records"
    "stats jq|jq -n 'reduce inputs as \$r ({}; .[\$r.level] += 1 | .[\"t:\" + \$r.target] += 1) | [.error, .warning, .info, .debug, .trace] | add' $log"
    "stats lnav|lnav -n -c ';SELECT count(*) FROM logkit GROUP BY log_level' $log | tail -n +2 | awk '{s+=\$1} END {print s}'"
)

echo "log: $log, $size bytes, $(wc -l < "$log") lines"
for task in "${tasks[@]}"; do
    name=${task%%|*}
    cmd=${task#*|}
    if [[ $name == *lnav ]] && [ "${SKIP_LNAV:-0}" = 1 ]; then continue; fi
    times=()
    for _ in $(seq "$runs"); do
        start=$(date +%s.%N)
        out=$(bash -c "$cmd")
        end=$(date +%s.%N)
        times+=("$(echo "$end - $start" | bc)")
    done
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    mbs=$(echo "$size / $median / 1000000" | bc)
    echo "$name: result $out; runs ${times[*]} s; median $median s = $mbs MB/s"
done
