#!/usr/bin/env bash
# Checks the promised minimum Rust version (the workspace's rust-version) without a second
# toolchain, which this project's machines cannot fetch:
#   1. no locked dependency declares a rust-version above it (.cargo/config.toml makes Cargo
#      resolve within it);
#   2. our own code uses no std API newer than it: clippy's incompatible_msrv lint, which
#      reads rust-version, runs with -D warnings in .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --all-features --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
def ver(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))
root = {p["id"]: p for p in meta["packages"]}
ours = [p for p in meta["packages"] if p["id"] in meta["workspace_members"]]
msrv = min(ver(p["rust_version"]) for p in ours if p.get("rust_version"))
used = {n["id"] for n in meta["resolve"]["nodes"]}
too_new = sorted(
    (p["name"], p["version"], p["rust_version"])
    for p in meta["packages"]
    if p["id"] in used and p.get("rust_version") and ver(p["rust_version"]) > msrv
)
name = ".".join(map(str, msrv[:2]))
if too_new:
    for n, v, r in too_new:
        print(f"{n} {v} needs Rust {r}, above the workspace rust-version {name}")
    print("run: cargo update (the resolver then picks versions within it), or raise rust-version")
    sys.exit(1)
print(f"every locked dependency builds with Rust {name}")
'
