#!/usr/bin/env bash
# Breaks each promised property on purpose, one at a time, and reports which tests caught it
# (docs/reliability.md, "Which test breaks when a promise does").
#
#   scripts/mutants.sh                 every mutation
#   scripts/mutants.sh NAME...         only these (see `scripts/mutants.sh --list`)
#   scripts/mutants.sh --baseline ...  first runs the named tests unmutated (they must pass)
#
# The mutations are applied in a separate git worktree at this repository's HEAD (committed
# work only), ${ARQ_MUTANTS_WORKTREE:-/tmp/arq-mutants}, built in its own target directory,
# ${ARQ_MUTANTS_TARGET:-/tmp/arq-mutants-target}: never in this checkout, so nobody's build
# or test run here is disturbed. Each mutation is a small in-place edit of one file, checked to
# have applied; only the test files it names are built and run; the file is restored after.
# A mutation is "caught" when at least one named test fails (the first panic message of each
# failing test is shown, to judge the reason), "SURVIVED" when all pass, and "BUILD FAILED"
# when the mutant does not compile. The exit status is 1 if any mutation survived.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
wt="${ARQ_MUTANTS_WORKTREE:-/tmp/arq-mutants}"
export CARGO_TARGET_DIR="${ARQ_MUTANTS_TARGET:-/tmp/arq-mutants-target}"
logs="${ARQ_MUTANTS_LOGS:-$CARGO_TARGET_DIR/mutants-logs}"

# name # file # perl substitution (applied to the whole file) # test-file::exact-test-path...
# (the test file is the target before the first `::`: faults::crash::s05_… is test
# crash::s05_… of tests/faults.rs)
MUTANTS=(
  "panic#arq-core/src/worker/execute.rs#s/std::panic::catch_unwind\(AssertUnwindSafe\(\|\| Pin::new\(&mut \*inner\)\.poll\(cx\)\)\)/Ok::<_, Box<dyn std::any::Any + Send>>(Pin::new(&mut *inner).poll(cx))/#faults::crash::s05b_panicking_job_fails_and_the_worker_lives_on"
  "heartbeat-token#arq-redis/lua/heartbeat.lua#s/if cur == ARGV\[a\] then/if cur then/#faults::crash::s06b_resumed_zombie_cancels_its_copy_at_once"
  "heartbeat-cancel#arq-core/src/worker/heartbeat.rs#s/\} else if !h\.lease_lost\.is_cancelled\(\) \{/} else if false \&\& !h.lease_lost.is_cancelled() {/#faults::crash::s06b_resumed_zombie_cancels_its_copy_at_once"
  "release-fence#arq-redis/lua/release.lua#s/^if cur ~= ARGV\[1\] then/if not cur then/m#faults::redis::s16b_held_release_is_fenced_after_takeover"
  "retry-fence#arq-redis/lua/retry.lua#s/if cur or redis\.call\('EXISTS', KEYS\[3\]\) == 0 then/if redis.call('EXISTS', KEYS[3]) == 0 then/#faults::redis::s16b_held_retry_is_fenced_after_takeover"
  "recovery-alone#arq-redis/lua/claim.lua#s/^(\s+)recovered = 2$/\${1}recovered = 1/m#faults::crash::s05_poison_pill_is_bounded_by_max_tries"
  "finish-fence#arq-redis/lua/finish.lua#s/if cur ~= token and \(cur or redis\.call\('EXISTS', KEYS\[k \+ 2\]\) == 0\) then/if not cur and redis.call('EXISTS', KEYS[k + 2]) == 0 then/#faults::crash::s06_stopped_worker_is_fenced_after_takeover#faults::redis::s16b_held_finish_is_fenced_after_takeover"
  "cron-marker#arq-redis/lua/cron_tick.lua#s/if ttl ~= '' and redis\.call\('EXISTS', marker\) == 1 then/if false then/#faults::clock::s29_cron_runs_each_tick_once_across_skewed_workers#cron::a_claimed_tick_is_not_enqueued_again_after_its_job_finished"
)

baseline=0
want=()
for a in "$@"; do
  case "$a" in
    --baseline) baseline=1 ;;
    --list) for m in "${MUTANTS[@]}"; do echo "${m%%#*}"; done; exit 0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) want+=("$a") ;;
  esac
done

log() { printf '\n== %s\n' "$*" >&2; }

# The worktree, at this repository's HEAD, clean.
head="$(git -C "$repo" rev-parse HEAD)"
if [ ! -e "$wt/.git" ]; then
  git -C "$repo" worktree add --detach "$wt" "$head" >&2
fi
git -C "$wt" checkout -q --detach -f "$head"
git -C "$wt" reset -q --hard
mkdir -p "$logs"
log "worktree $wt at $(git -C "$wt" log -1 --format='%h %s' | cut -c1-70)"

restore() { git -C "$wt" checkout -q -- . 2>/dev/null || true; }
trap restore EXIT

# Runs "file::test" specs in the worktree; prints the names of failing tests and their first
# panic line, one per line ("name: message"); returns 2 when the build failed.
run_tests() {
  local tag="$1"; shift
  local rc=0 spec file name out
  for spec in "$@"; do
    file="${spec%%::*}"; name="${spec#*::}"
    out="$logs/$tag.$file.$name.log"
    if ! (cd "$wt" && cargo test --workspace --all-features --no-run --test "$file") >"$out.build" 2>&1; then
      echo "BUILD FAILED ($file; see $out.build)"
      return 2
    fi
    (cd "$wt" && cargo test --workspace --all-features --test "$file" -- --exact "$name") >"$out" 2>&1 || true
    if grep -q "^test $name \.\.\. ok$" "$out"; then
      :
    elif grep -q "^test $name \.\.\. FAILED$" "$out"; then
      local why
      why="$(awk -v n="$name" '$0 == "---- " n " stdout ----" {f=1; next}
        f && /panicked at/ {getline; print; exit}' "$out" | cut -c1-160)"
      echo "$file::$name: ${why:-see $out}"
      rc=1
    else
      echo "$file::$name: did not run (see $out)"
      rc=1
    fi
  done
  return $rc
}

report=()
survived=0
for m in "${MUTANTS[@]}"; do
  IFS='#' read -r -a fields <<<"$m"
  name="${fields[0]}" file="${fields[1]}" subst="${fields[2]}"
  tests=("${fields[@]:3}")
  if [ ${#want[@]} -gt 0 ] && ! printf '%s\n' "${want[@]}" | grep -qx "$name"; then
    continue
  fi
  if [ "$baseline" = 1 ]; then
    log "baseline for $name: ${tests[*]}"
    restore
    if ! failed="$(run_tests "baseline-$name" "${tests[@]}")"; then
      report+=("$name: BASELINE FAILED: $failed")
      continue
    fi
  fi
  log "mutation $name: $file"
  restore
  before="$(sha1sum "$wt/$file")"
  perl -0pi -e "$subst" "$wt/$file"
  if [ "$(sha1sum "$wt/$file")" = "$before" ]; then
    report+=("$name: NOT APPLIED (the pattern is not in $file any more: update scripts/mutants.sh)")
    survived=1
    continue
  fi
  git -C "$wt" diff --stat -- "$file" >&2
  set +e
  failed="$(run_tests "$name" "${tests[@]}")"
  rc=$?
  set -e
  restore
  case $rc in
    0) report+=("$name: SURVIVED (${tests[*]} all passed)"); survived=1 ;;
    2) report+=("$name: $failed"); survived=1 ;;
    *) report+=("$name: caught by"$'\n'"$(sed 's/^/    /' <<<"$failed")") ;;
  esac
done

log "report (logs in $logs)"
printf '%s\n' "${report[@]}"
exit $survived
