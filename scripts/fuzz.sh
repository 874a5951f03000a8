#!/usr/bin/env bash
# The fuzzing campaign and the corpus merge (docs/fuzzing.md). `make fuzz` and `make fuzz-merge`
# call this after building the libFuzzer targets in $FUZZ_BUILD.
#
#   scripts/fuzz.sh campaign   runs each target for FUZZ_RUNS executions (and at most FUZZ_TIME
#                              seconds when that is not 0), FUZZ_JOBS targets at a time, on the
#                              repository's corpus; new inputs and crashes go to
#                              $FUZZ_BUILD/campaign/<target>/, never to fuzz/corpus/. Prints a
#                              table of executions, exec/s, coverage and findings; fails when a
#                              target crashed.
#   scripts/fuzz.sh merge      merges what the campaign found into fuzz/corpus/<target>/, keeping
#                              only inputs that add coverage (libFuzzer -merge=1).
set -euo pipefail

cd "$(dirname "$0")/.."
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
FUZZ_RUNS=${FUZZ_RUNS:-10000000}
FUZZ_TIME=${FUZZ_TIME:-0}
FUZZ_JOBS=${FUZZ_JOBS:-1}
# Every target in fuzz/ (one fuzz_<name>.cpp each), so a new one joins the campaign by existing.
all_targets=()
for source in fuzz/fuzz_*.cpp; do all_targets+=("$(basename "$source" .cpp)"); done
read -r -a targets <<< "${FUZZ_TARGETS:-${all_targets[*]}}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

run_one() {
  local t=$1 work=$FUZZ_BUILD/campaign/$1
  mkdir -p "$work/new"
  local limit=()
  [ "$FUZZ_TIME" != 0 ] && limit=(-max_total_time="$FUZZ_TIME")
  # -use_value_profile widens what counts as progress (comparisons); slower but finds more.
  "$FUZZ_BUILD/$t" -runs="$FUZZ_RUNS" "${limit[@]}" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/new" "fuzz/corpus/$t" > "$work/log" 2>&1 \
    || true
}

summary() {
  printf '%-20s %12s %8s %7s %7s %9s\n' target executions exec/s cov ft findings
  local failed=0
  for t in "${targets[@]}"; do
    local work=$FUZZ_BUILD/campaign/$t log=$FUZZ_BUILD/campaign/$t/log
    [ -f "$log" ] || continue
    local runs rate cov ft findings
    runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    findings=$(find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
                 -o -name 'oom-*' \) | wc -l)
    printf '%-20s %12s %8s %7s %7s %9s\n' "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$findings"
    [ "$findings" = 0 ] || failed=1
  done
  return $failed
}

case "${1:-}" in
  campaign)
    export -f run_one
    export FUZZ_BUILD FUZZ_RUNS FUZZ_TIME
    printf '%s\n' "${targets[@]}" | xargs -P "$FUZZ_JOBS" -I{} bash -c 'run_one {}'
    summary
    ;;
  summary)
    summary
    ;;
  merge)
    for t in "${targets[@]}"; do
      work=$FUZZ_BUILD/campaign/$t/new
      [ -d "$work" ] || continue
      "$FUZZ_BUILD/$t" -merge=1 "fuzz/corpus/$t" "$work" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files' || true
    done
    ;;
  *)
    echo "usage: $0 campaign|summary|merge" >&2
    exit 2
    ;;
esac
