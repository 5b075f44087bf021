#!/usr/bin/env bash
# Instructions per record, counted by callgrind, for each commit given (default HEAD):
#
#   bash benches/callgrind.sh [REV ...]
#
# For each REV: a detached worktree of it, a small crate that builds
# benches/instructions.rs (from the current tree, so every commit runs the same
# program) against that worktree's logkit in release, then that program under
# `valgrind --tool=callgrind --separate-threads=yes` with RECORDS=100000 and 300000.
# Printed per REV: (instructions at 300 k - at 100 k) / 200 k for the whole process and
# for its main thread (the caller: gate, clock, encoding, hand-off), and the rest (the
# writer and file threads). Callgrind counts are repeatable to a few instructions,
# where wall-clock figures on a shared machine move by tens of percent.
set -euo pipefail
repo=$(git rev-parse --show-toplevel)
program="$repo/benches/instructions.rs"
work=$(mktemp -d "${TMPDIR:-/tmp}/logkit-callgrind.XXXXXX")
trap 'for d in "$work"/src-*; do [ -d "$d" ] && git -C "$repo" worktree remove --force "$d"; done; rm -rf "$work"' EXIT
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
[ $# -gt 0 ] || set -- HEAD

# Instructions (Ir) of one callgrind output file.
ir() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

printf '%-10s %14s %14s %14s\n' commit "per record" "caller" "other threads"
for rev in "$@"; do
    sha=$(git -C "$repo" rev-parse --short "$rev^{commit}")
    src="$work/src-$sha"
    git -C "$repo" worktree add -q --detach "$src" "$sha"
    probe="$work/probe-$sha"
    mkdir -p "$probe/src"
    cp "$program" "$probe/src/main.rs"
    cat > "$probe/Cargo.toml" <<TOML
[package]
name = "instructions-probe"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
logkit = { path = "$src" }

[profile.release]
debug = "line-tables-only"

[workspace]
TOML
    CARGO_TARGET_DIR="$work/target" cargo build -q --release --manifest-path "$probe/Cargo.toml"
    bin="$work/bin-$sha"
    cp "$work/target/release/instructions-probe" "$bin"
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
