#!/usr/bin/env bash
# Checks that need a GPU machine (vLLM, CUDA, real checkpoints). Run it where one is lent:
#   bash scripts/gpu_check.sh [NAME ...]      # all of scripts/gpu_checks/*.sh, or the named ones
# Each check is one script in scripts/gpu_checks/; its log goes to ${OUT:-runs/gpu_check}/NAME.log.
# A check exits 0 (passed), 77 (skipped: something it needs is missing, said in its log) or
# anything else (failed). The summary at the end lists each check's verdict.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-runs/gpu_check}
mkdir -p "$out"
if [ $# -gt 0 ]; then
  checks=(); for n in "$@"; do checks+=("scripts/gpu_checks/$n.sh"); done
else
  checks=(scripts/gpu_checks/*.sh)
fi
status=0
summary=()
for c in "${checks[@]}"; do
  [ -f "$c" ] || { echo "no such check: $c" >&2; status=1; continue; }
  name=$(basename "$c" .sh)
  echo "== $name"
  bash "$c" >"$out/$name.log" 2>&1
  rc=$?
  case $rc in
    0) verdict=passed ;;
    77) verdict=skipped ;;
    *) verdict="FAILED (exit $rc)"; status=1 ;;
  esac
  tail -n 5 "$out/$name.log"
  summary+=("$name: $verdict")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
