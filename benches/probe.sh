# Sourced by benches/callgrind.sh and benches/ab.sh: builds one bench program from the
# current tree against the logkit of any commit, so before and after run the same code.
#
#   probe_init                      # sets $repo and $work (a temporary directory, removed at exit)
#   probe_build REV SOURCE          # prints the path of the built binary
probe_init() {
    repo=$(git rev-parse --show-toplevel)
    work=$(mktemp -d "${TMPDIR:-/tmp}/logkit-probe.XXXXXX")
    trap 'for d in "$work"/src-*; do [ -d "$d" ] && git -C "$repo" worktree remove --force "$d"; done; rm -rf "$work"' EXIT
}

probe_build() {
    local rev=$1 source=$2 sha src probe name
    sha=$(git -C "$repo" rev-parse --short "$rev^{commit}")
    src="$work/src-$sha"
    [ -d "$src" ] || git -C "$repo" worktree add -q --detach "$src" "$sha"
    name=$(basename "$source" .rs)
    probe="$work/probe-$name-$sha"
    mkdir -p "$probe/src"
    cp "$source" "$probe/src/main.rs"
    cat > "$probe/Cargo.toml" <<TOML
[package]
name = "probe"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
logkit = { path = "$src" }
tempfile = "3"

[profile.release]
debug = "line-tables-only"

[workspace]
TOML
    CARGO_TARGET_DIR="$work/target" cargo build -q --release --manifest-path "$probe/Cargo.toml" >&2
    cp "$work/target/release/probe" "$work/bin-$name-$sha"
    echo "$work/bin-$name-$sha"
}
