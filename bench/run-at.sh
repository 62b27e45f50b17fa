#!/usr/bin/env bash
# Runs this benchmark against the library as it was at a given commit, for before/after
# tables: the commit's tree is exported with `git archive` to a temp dir, today's bench/ is
# copied in, and the copy is built and run. The working tree is not touched.
#
#   bench/run-at.sh <commit> [arq-bench arguments...]     e.g. bench/run-at.sh HEAD~3 --markdown
#
# The library's public API that bench/ uses must exist at that commit.
set -euo pipefail
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
rev="$(git -C "$root" rev-parse --short "${1:?usage: bench/run-at.sh <commit> [args...]}")"
shift
dir="${TMPDIR:-/tmp}/arq-bench-at-$rev"
rm -rf "$dir"
mkdir -p "$dir"
# -m: files get the time of extraction, not the commit's. Cargo decides by mtime whether a
# path crate is stale, and the target dir is shared between commits.
git -C "$root" archive "$rev" | tar -x -m -C "$dir"
rm -rf "$dir/bench"
cp -r "$root/bench" "$dir/bench"
grep -q '"bench"' "$dir/Cargo.toml" \
  || sed -i 's/^members = \[\(.*\)\]$/members = [\1, "bench"]/' "$dir/Cargo.toml"
ARQ_PYTHON="${ARQ_PYTHON:-$("$root/scripts/python-env.sh")}"
export ARQ_PYTHON
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/bench-at}"
echo "run-at: building arq-bench against $rev in $dir" >&2
cargo build --release -p arq-bench --manifest-path "$dir/Cargo.toml" >&2
# A copy per commit, so that several commits' binaries can be run one after another.
cp "$CARGO_TARGET_DIR/release/arq-bench" "$dir/arq-bench"
echo "run-at: commit $rev ($(git -C "$root" log -1 --format=%s "$rev" | cut -c1-72)), binary $dir/arq-bench" >&2
exec "$dir/arq-bench" "$@"
